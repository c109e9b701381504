package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// shop calls the shop's public API through the Gateway, as a client does.
type shop struct {
	base   string
	client *http.Client
}

// answer is what one call returned.
type answer struct {
	status   int
	body     []byte
	location string
	retry    string // Retry-After
	err      error
}

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

func (s *shop) do(method, path, token string, body any) answer {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{err: err}
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		return answer{err: err}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b, location: resp.Header.Get("Location"), retry: resp.Header.Get("Retry-After"), err: err}
}

// must calls and returns an error unless the status is one of want; it
// decodes the body into v when v is not nil.
func (s *shop) must(method, path, token string, body, v any, want ...int) error {
	a := s.do(method, path, token, body)
	if a.err != nil {
		return fmt.Errorf("%s %s: %w", method, path, a.err)
	}
	ok := false
	for _, w := range want {
		ok = ok || a.status == w
	}
	if !ok {
		return fmt.Errorf("%s %s = %s, want %v", method, path, a, want)
	}
	if v != nil {
		if err := json.Unmarshal(a.body, v); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, path, a.body, err)
		}
	}
	return nil
}

type tokens struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

func (s *shop) login(email, password string) (tokens, error) {
	var t tokens
	err := s.must("POST", "/api/customers/login", "", map[string]string{"email": email, "password": password}, &t, http.StatusOK)
	return t, err
}

// loginRetrying logs in as a client following the API's contract does: a
// 503 carries Retry-After, and the login is tried again after it, at most
// 4 times. Only the checks' own setup uses it, right after pods were
// replaced; every check proper counts a 503 as a failure.
func (s *shop) loginRetrying(email, password string) (tokens, error) {
	const path = "/api/customers/login"
	for try := 1; ; try++ {
		a := s.do("POST", path, "", map[string]string{"email": email, "password": password})
		if a.err == nil && a.status == http.StatusOK {
			var t tokens
			if err := json.Unmarshal(a.body, &t); err != nil {
				return t, fmt.Errorf("POST %s: decode %s: %w", path, a.body, err)
			}
			return t, nil
		}
		if a.err != nil || a.status != http.StatusServiceUnavailable || try == 4 {
			return tokens{}, fmt.Errorf("POST %s = %s (try %d), want [200]", path, a, try)
		}
		wait, err := strconv.Atoi(a.retry)
		if err != nil || wait < 1 || wait > 5 {
			wait = 1
		}
		fmt.Printf("checks: POST %s = %s (try %d); again in %d s, as Retry-After says\n", path, a, try, wait)
		time.Sleep(time.Duration(wait) * time.Second)
	}
}

// register makes a customer and logs in.
func (s *shop) register(name, email, password string) (tokens, error) {
	body := map[string]string{"name": name, "email": email, "password": password}
	if err := s.must("POST", "/api/customers/register", "", body, nil, http.StatusCreated); err != nil {
		return tokens{}, err
	}
	return s.login(email, password)
}

type product struct {
	ID    string  `json:"id"`
	Stock int64   `json:"stock"`
	Price float64 `json:"price"`
}

func (s *shop) newProduct(admin, name string, stock int64) (product, error) {
	var p product
	body := map[string]any{"name": name, "description": "Made by the e2e checks.", "price": 12.5, "stock": stock}
	err := s.must("POST", "/api/products", admin, body, &p, http.StatusCreated)
	return p, err
}

func (s *shop) product(id string) (product, error) {
	var p product
	err := s.must("GET", "/api/products/"+id, "", nil, &p, http.StatusOK)
	return p, err
}

type line struct {
	ProductID string `json:"productId"`
	Quantity  int64  `json:"quantity"`
}

// buy posts a buy; for a 2xx answer orderID is the order it made (both 201
// and 202 name it in Location).
func (s *shop) buy(token string, lines ...line) (a answer, orderID string) {
	a = s.do("POST", "/api/products/buy", token, map[string]any{"items": lines})
	if a.err == nil && (a.status == http.StatusCreated || a.status == http.StatusAccepted) {
		orderID = strings.TrimPrefix(a.location, "/api/orders/")
	}
	return a, orderID
}

type order struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Items  []line `json:"items"`
}

func (s *shop) order(token, id string) (order, error) {
	var o order
	err := s.must("GET", "/api/orders/"+id, token, nil, &o, http.StatusOK)
	return o, err
}

// eventually polls check every 200 ms until it returns nil or within has passed.
func eventually(within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
