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
