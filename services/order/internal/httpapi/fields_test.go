package httpapi

import (
	"net/http"
	"strings"
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

// TestOrderFieldErrorsAtOnce: one 422 lists every fault of an order body,
// its shape (unknown, mistyped or null fields, control characters) and its
// values together, and nothing changes.
func TestOrderFieldErrorsAtOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	o := e.order("ada")
	const multi = "must not contain control characters other than line breaks and tabs"
	tests := []struct {
		name, method, path, body string
		want                     []string
	}{
		{"status: shape and values", "PUT", "/api/orders/status/" + o.ID,
			`{"status":"lost","note":"` + strings.Repeat("n", 501) + `","by":"me"}`,
			[]string{"by: unknown field", "status: must be one of confirmed, processing, shipped, delivered, cancelled",
				"note: must be at most 500 characters"}},
		{"status: a missing status and a mistyped note", "PUT", "/api/orders/status/" + o.ID,
			`{"note":5}`,
			[]string{"status: is required", "note: must be a string"}},
		{"status: control characters in the note", "PUT", "/api/orders/status/" + o.ID,
			`{"status":"cancelled","note":"changed my mind\u0000"}`,
			[]string{"note: " + multi}},
		{"details: shape and values", "PUT", "/api/orders/" + o.ID,
			`{"shippingAddress":"  ","notes":7,"status":"shipped"}`,
			[]string{"status: unknown field", "notes: must be a string", "shippingAddress: must be 1 to 500 characters"}},
		{"details: a NUL in the address, a C1 control in the notes", "PUT", "/api/orders/" + o.ID,
			`{"shippingAddress":"1 Main St\u0000","notes":"ring\u009b twice"}`,
			[]string{"notes: " + multi, "shippingAddress: " + multi}},
	}
	before := e.get(e.admin, o.ID)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: tt.method, path: tt.path, token: e.ada, body: tt.body})
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			if got := problemFields(decodeInto[apiProblem](t, r)); !cmp.Equal(got, tt.want) {
				t.Errorf("fields (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
	if diff := cmp.Diff(before, e.get(e.admin, o.ID)); diff != "" {
		t.Errorf("refused bodies changed the order:\n%s", diff)
	}

	// An address and notes are multi-line text.
	r := e.do(req{method: "PUT", path: "/api/orders/" + o.ID, token: e.ada,
		body: `{"shippingAddress":"Ada\r\n1 Loop St","notes":"leave at the door\n\tthanks"}`})
	if got := decodeInto[apiOrder](t, r); r.status != http.StatusOK || got.ShippingAddress != "Ada\r\n1 Loop St" || got.Notes != "leave at the door\n\tthanks" {
		t.Errorf("multi-line address and notes: %s", r)
	}
}

// TestUnknownQueryParameters: every route refuses a query parameter it
// does not take with a 422 naming it, the list alongside its own ones; a
// refused request changes nothing.
func TestUnknownQueryParameters(t *testing.T) {
	e := newEnv(t, envOptions{})
	o := e.order("ada")
	tests := []struct {
		method, path, body string
		want               []string
	}{
		{"GET", "/api/orders?status=confirmed&sort=-createdAt", "", []string{"sort"}},
		{"GET", "/api/orders/openapi.json?v=2", "", []string{"v"}},
		{"GET", "/api/orders/status/" + o.ID + "?history=false", "", []string{"history"}},
		{"PUT", "/api/orders/status/" + o.ID + "?notify=0", `{"status":"cancelled"}`, []string{"notify"}},
		{"GET", "/api/orders/" + o.ID + "?expand=items", "", []string{"expand"}},
		{"PUT", "/api/orders/" + o.ID + "?merge=1", `{"notes":"x"}`, []string{"merge"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := e.do(req{method: tt.method, path: tt.path, token: e.ada, body: body})
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
	if got := e.get(e.ada, o.ID); got.Status != "confirmed" || got.Notes != "" {
		t.Errorf("refused requests changed the order: %+v", got)
	}
	if r := e.do(req{method: "GET", path: "/api/orders?status=confirmed&limit=5&cursor=", token: e.ada}); r.status != http.StatusOK {
		t.Errorf("documented parameters: %s", r)
	}
}

// TestSameMistakeSameStatus sends the same mistakes to every order route
// that reads a body: a missing required field is 422 naming it, as in the
// customer and product services, null is no value, and an empty partial
// update is no mistake.
func TestSameMistakeSameStatus(t *testing.T) {
	e := newEnv(t, envOptions{})
	o := e.order("ada")
	tests := []struct {
		name, method, path, body string
		status                   int
		want                     []string
	}{
		{"status {}", "PUT", "/api/orders/status/" + o.ID, `{}`, 422, []string{"status: is required"}},
		{"status with nulls", "PUT", "/api/orders/status/" + o.ID, `{"status":null,"note":null}`, 422,
			[]string{"status: must be a string", "note: must be a string"}},
		{"details with nulls", "PUT", "/api/orders/" + o.ID, `{"shippingAddress":null,"notes":null}`, 422,
			[]string{"shippingAddress: must be a string", "notes: must be a string"}},
		{"details {} changes nothing", "PUT", "/api/orders/" + o.ID, `{}`, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: tt.method, path: tt.path, token: e.ada, body: tt.body})
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
