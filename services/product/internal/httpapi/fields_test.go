package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// problemFields is "field: message" of each field error, in the order sent.
func problemFields(p apiProblem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field+": "+f.Message)
	}
	return out
}

const (
	noControl          = "must not contain control characters"
	noControlMultiline = "must not contain control characters other than line breaks and tabs"
)

// TestProductFieldErrorsAtOnce: one 422 lists every fault of a product
// body, whether in its shape (unknown, mistyped or missing fields, control
// characters) or in its values (a zero price), and nothing is stored.
func TestProductFieldErrorsAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Lamp", "25.00", 3)
	tests := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"create: shape and values together", "POST", "/api/products",
			`{"name":42,"price":0,"stock":-1,"sold":3}`,
			[]string{"sold: unknown field", "name: must be a string", "description: is required",
				"price: must be greater than 0", "stock: must not be negative"}},
		{"create: control characters in every text", "POST", "/api/products",
			`{"name":"Lamp\u0000","description":"bright\u001b[5m","price":1,"stock":1,"attributes":{"colour":"red\u0085","k\u0007":"v"}}`,
			[]string{"attributes.colour: " + noControl, "attributes.k\a: " + noControl,
				"description: " + noControlMultiline, "name: " + noControl}},
		{"create: DEL in the name", "POST", "/api/products",
			`{"name":"La\u007fmp","description":"","price":1,"stock":1}`,
			[]string{"name: " + noControl}},
		{"update: shape and values together", "PUT", "/api/products/" + p.ID,
			`{"name":"","price":"1","stock":1.5,"version":2}`,
			[]string{"version: unknown field", "price: must be a number", "name: must be 1 to 200 characters",
				"stock: must be a whole number"}},
		{"update: a NUL in the description", "PUT", "/api/products/" + p.ID,
			`{"description":"x\u0000"}`,
			[]string{"description: " + noControlMultiline}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.list("limit=100")
			r := e.do(req{method: tt.method, path: tt.path, token: e.admin, body: tt.body})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			if got := problemFields(decodeInto[apiProblem](t, r)); !cmp.Equal(got, tt.want) {
				t.Errorf("fields (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
			if after := e.list("limit=100"); !cmp.Equal(after, before) {
				t.Error("a refused body changed the catalog")
			}
		})
	}

	// A description is multi-line text: line breaks and tabs are kept.
	r := e.do(req{method: "PUT", path: "/api/products/" + p.ID, token: e.admin, body: `{"description":"Line 1\r\nLine 2\tend"}`})
	if got := decodeInto[apiProduct](t, r); r.status != http.StatusOK || got.Description != "Line 1\r\nLine 2\tend" {
		t.Errorf("multi-line description: %s", r)
	}
}

// TestUnknownQueryParameters: every route refuses a query parameter it
// does not take with a 422 naming it, the list alongside its own ones; a
// refused request changes nothing.
func TestUnknownQueryParameters(t *testing.T) {
	e := newEnv(t, envOptions{})
	p := e.create("Bell", "5.00", 2)
	tests := []struct {
		method, path, token, body string
		want                      []string
	}{
		{"GET", "/api/products?limit=5&limt=5&sort=price&order=asc", "", "", []string{"limt", "order"}},
		{"POST", "/api/products?dryRun=true", e.admin, `{"name":"X","description":"","price":1,"stock":1}`, []string{"dryRun"}},
		{"POST", "/api/products/buy?confirm=0", e.customer, `{"items":[{"productId":"` + p.ID + `","quantity":1}]}`, []string{"confirm"}},
		{"GET", "/api/products/openapi.json?format=yaml", "", "", []string{"format"}},
		{"GET", "/api/products/" + p.ID + "?fields=name", "", "", []string{"fields"}},
		{"PUT", "/api/products/" + p.ID + "?force=1", e.admin, `{"price":9}`, []string{"force"}},
		{"DELETE", "/api/products/" + p.ID + "?soft=1", e.admin, "", []string{"soft"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.do(req{method: tt.method, path: tt.path, token: tt.token, body: body})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			pr := decodeInto[apiProblem](t, r)
			var want []string
			for _, f := range tt.want {
				want = append(want, f+": unknown query parameter")
			}
			if pr.Code != "validation_failed" || !cmp.Equal(problemFields(pr), want) {
				t.Errorf("code %s fields %q, want %q", pr.Code, problemFields(pr), want)
			}
		})
	}
	if got, _ := e.get(p.ID); got.Price.String() != "5.00" || got.Stock.String() != "2" {
		t.Errorf("refused requests changed the product: %+v", got)
	}
	if r := e.do(req{method: "GET", path: "/api/products?limit=5&sort=price&q=bell&minPrice=1&maxPrice=9&inStock=true&cursor="}); r.status != http.StatusOK {
		t.Errorf("every documented parameter: %s", r)
	}
}

// TestSameMistakeSameStatus sends the same mistakes to every product
// route that reads a body: a missing required field is 422 naming it, as
// in the customer and order services, null is no value, and an empty
// partial update is no mistake.
func TestSameMistakeSameStatus(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	p := b.create("Drum", "15.00", 3)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		want                            []string
	}{
		{"create {}", "POST", "/api/products", b.admin, `{}`, 422,
			[]string{"name: is required", "description: is required", "price: is required", "stock: is required"}},
		{"buy {}", "POST", "/api/products/buy", b.customer, `{}`, 422, []string{"items: is required"}},
		{"buy with an empty line", "POST", "/api/products/buy", b.customer, `{"items":[{}]}`, 422,
			[]string{"items[0].productId: is required", "items[0].quantity: is required"}},
		{"create with nulls", "POST", "/api/products", b.admin, `{"name":null,"description":null,"price":null,"stock":null}`, 422,
			[]string{"name: must be a string", "description: must be a string", "price: must be a number", "stock: must be a number"}},
		{"buy with nulls", "POST", "/api/products/buy", b.customer, `{"items":null,"shippingAddress":null}`, 422,
			[]string{"items: must be an array", "shippingAddress: must be a string"}},
		{"update {} changes nothing", "PUT", "/api/products/" + p.ID, b.admin, `{}`, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.do(req{method: tt.method, path: tt.path, token: tt.token, body: tt.body})
			if r.status != tt.status {
				t.Fatalf("%s, want %d", r, tt.status)
			}
			if tt.status != http.StatusUnprocessableEntity {
				return
			}
			pr := decodeInto[apiProblem](t, r)
			if pr.Code != "validation_failed" || !cmp.Equal(problemFields(pr), tt.want) {
				t.Errorf("code %s fields (-want +got):\n%s", pr.Code, cmp.Diff(tt.want, problemFields(pr)))
			}
		})
	}
}
