package main

import (
	"fmt"
	"net/http"
	"time"
)

// journey walks one customer through the shop: register, log in, find a
// product, buy it, see the order confirmed, cancel it and get the stock
// back, log out, and then be refused by all three services.
func journey(s *shop, admin string, run string) error {
	email := "journey-" + run + "@e2e.example"
	t, err := s.register("Journey", email, "correct horse journey")
	if err != nil {
		return err
	}
	if err := s.must("GET", "/api/customers/home", t.AccessToken, nil, nil, http.StatusOK); err != nil {
		return err
	}
	p, err := s.newProduct(admin, "journey lamp "+run, 5)
	if err != nil {
		return err
	}
	var page struct {
		Items []product `json:"items"`
	}
	if err := s.must("GET", "/api/products?limit=100&inStock=true&q=journey", "", nil, &page, http.StatusOK); err != nil {
		return err
	}
	if !listed(page.Items, p.ID) {
		return fmt.Errorf("the catalog does not list the new product %s", p.ID)
	}
	a, id := s.buy(t.AccessToken, line{ProductID: p.ID, Quantity: 2})
	if id == "" {
		return fmt.Errorf("buy = %s, want 201 or 202 with a Location", a)
	}
	if err := eventually(30*time.Second, func() error {
		o, err := s.order(t.AccessToken, id)
		if err == nil && o.Status != "confirmed" {
			err = fmt.Errorf("order %s is %s, want confirmed", id, o.Status)
		}
		return err
	}); err != nil {
		return err
	}
	if err := stockIs(s, p.ID, 3); err != nil {
		return err
	}
	if err := s.must("PUT", "/api/orders/status/"+id, t.AccessToken, map[string]string{"status": "cancelled"}, nil, http.StatusOK); err != nil {
		return err
	}
	if err := eventually(30*time.Second, func() error { return stockIs(s, p.ID, 5) }); err != nil {
		return fmt.Errorf("after the cancel: %w", err)
	}
	if err := s.must("POST", "/api/customers/logout", t.AccessToken, nil, nil, http.StatusNoContent); err != nil {
		return err
	}
	// Logged out means refused by every service, within the 2 s DESIGN allows.
	refused := []struct{ method, path string }{
		{"GET", "/api/customers/me"},
		{"GET", "/api/orders"},
		{"POST", "/api/products/buy"},
	}
	for _, r := range refused {
		if err := eventually(2*time.Second, func() error {
			var body any
			if r.method == "POST" {
				body = map[string]any{"items": []line{{ProductID: p.ID, Quantity: 1}}}
			}
			return s.must(r.method, r.path, t.AccessToken, body, nil, http.StatusUnauthorized)
		}); err != nil {
			return fmt.Errorf("after logout: %w", err)
		}
	}
	if err := s.must("POST", "/api/customers/refresh", "", map[string]string{"refreshToken": t.RefreshToken}, nil, http.StatusUnauthorized); err != nil {
		return fmt.Errorf("after logout: %w", err)
	}
	return stockIs(s, p.ID, 5)
}

func listed(items []product, id string) bool {
	for _, p := range items {
		if p.ID == id {
			return true
		}
	}
	return false
}

func stockIs(s *shop, id string, want int64) error {
	p, err := s.product(id)
	if err == nil && p.Stock != want {
		err = fmt.Errorf("product %s has stock %d, want %d", id, p.Stock, want)
	}
	return err
}
