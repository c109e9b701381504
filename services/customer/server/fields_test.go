package server_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// problemFields returns the code and the "field: message" pairs of a
// problem, in the order sent.
func problemFields(t *testing.T, r response) (string, []string) {
	t.Helper()
	var p struct {
		Code   string `json:"code"`
		Errors []struct{ Field, Message string }
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem is not JSON: %v: %s", err, r.body)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field+": "+e.Message)
	}
	return p.Code, out
}

// testFieldErrors sends bodies with several faults at once to every route
// that reads a body: one 422 must list every fault, whether the body's
// shape (unknown field, wrong type, null, control character) or its values
// (a short password) are wrong.
func testFieldErrors(t *testing.T, svc *service) {
	self := svc.register(t, "Fiona")
	tok := svc.login(t, self.email, self.password)
	me := "/api/customers/" + self.id
	const (
		nul      = `\u0000` // as JSON escapes it: a raw NUL is malformed JSON (400)
		noCtl    = "must not contain control characters"
		noCtlML  = "must not contain control characters other than line breaks and tabs"
		notAStr  = "must be a string"
		required = "is required"
	)
	tests := []struct {
		name, method, path, token string
		body                      string
		want                      []string
	}{
		{"register: shape and values", "POST", "/api/customers/register", "",
			`{"name":42,"email":"not-an-email","password":"short","role":"admin"}`,
			[]string{"name: " + notAStr, "role: unknown field", "email: must be a valid email address", "password: must be at least 8 characters"}},
		{"register: control characters in every text field", "POST", "/api/customers/register", "",
			`{"name":"Ann\u0007","email":"ann\u007f@example.com","password":"long enough","address":"1 Main St` + nul + `"}`,
			[]string{"address: " + noCtlML, "email: " + noCtl, "name: " + noCtl}},
		{"register: a C1 control in the name", "POST", "/api/customers/register", "",
			`{"name":"Ann\u0085","email":"c1@example.com","password":"long enough"}`,
			[]string{"name: " + noCtl}},
		{"register: null is no value", "POST", "/api/customers/register", "",
			`{"name":null,"email":"n@example.com","password":"long enough","address":null}`,
			[]string{"address: " + notAStr, "name: " + notAStr}},
		{"login: shape and a missing field", "POST", "/api/customers/login", "",
			`{"email":42,"extra":true}`,
			[]string{"email: " + notAStr, "extra: unknown field", "password: " + required}},
		{"login: control character in the email", "POST", "/api/customers/login", "",
			`{"email":"a` + nul + `@example.com","password":"whatever-it-is"}`,
			[]string{"email: " + noCtl}},
		{"refresh: unknown field and the missing token", "POST", "/api/customers/refresh", "",
			`{"token":"x"}`,
			[]string{"token: unknown field", "refreshToken: " + required}},
		{"update: shape and values", "PUT", me, tok.access,
			`{"name":7,"email":"bad","password":"short"}`,
			[]string{"name: " + notAStr, "email: must be a valid email address", "password: must be at least 8 characters",
				"currentPassword: is required to change the password"}},
		{"update: control characters", "PUT", me, tok.access,
			`{"name":"Fi` + nul + `","address":"Flat 2\u001b[2J"}`,
			[]string{"address: " + noCtlML, "name: " + noCtl}},
		{"update: null is no value, not no change", "PUT", me, tok.access,
			`{"name":null}`,
			[]string{"name: " + notAStr}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := expect(t, svc.do(req{method: tt.method, path: tt.path, token: tt.token, body: tt.body}), 422, tt.name)
			code, got := problemFields(t, r)
			if code != "validation_failed" || !slices.Equal(got, tt.want) {
				t.Errorf("problem %s\ngot fields  %q\nwant fields %q", code, got, tt.want)
			}
		})
	}

	// Line breaks and tabs are fine in an address, which is multi-line text.
	r := expect(t, svc.do(req{method: "PUT", path: me, token: tok.access,
		body: `{"address":"Flat 2\r\n1 Main St\tOslo"}`}), 200, "multi-line address")
	if a := r.json(t)["address"]; a != "Flat 2\r\n1 Main St\tOslo" {
		t.Errorf("address = %q, want the line breaks kept", a)
	}
}

// testSameMistakeSameStatus sends the same mistakes to every route that
// reads a body: a missing required field is a 422 everywhere (refresh used
// to answer 401 to {}), and an empty update is no mistake.
func testSameMistakeSameStatus(t *testing.T, svc *service) {
	a := svc.register(t, "Sam")
	tok := svc.login(t, a.email, a.password)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		fields                          []string
	}{
		{"register {}", "POST", "/api/customers/register", "", `{}`, 422,
			[]string{"name: is required", "email: is required", "password: is required"}},
		{"login {}", "POST", "/api/customers/login", "", `{}`, 422,
			[]string{"email: is required", "password: is required"}},
		{"refresh {}", "POST", "/api/customers/refresh", "", `{}`, 422,
			[]string{"refreshToken: is required"}},
		{"refresh with an empty token", "POST", "/api/customers/refresh", "", `{"refreshToken":""}`, 422,
			[]string{"refreshToken: is required"}},
		{"login with an empty password", "POST", "/api/customers/login", "", `{"email":"` + a.email + `","password":""}`, 422,
			[]string{"password: is required"}},
		{"update {} changes nothing", "PUT", "/api/customers/" + a.id, tok.access, `{}`, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := expect(t, svc.do(req{method: tt.method, path: tt.path, token: tt.token, body: tt.body}), tt.status, tt.name)
			if tt.status != 422 {
				return
			}
			if code, got := problemFields(t, r); code != "validation_failed" || !slices.Equal(got, tt.fields) {
				t.Errorf("problem %s fields %q, want validation_failed %q", code, got, tt.fields)
			}
		})
	}
}

// testUnknownQuery sends a query parameter to every route, none of which
// takes one: each answers 422 naming it, and nothing is done (the login
// starts no session, the logout ends none).
func testUnknownQuery(t *testing.T, svc *service) {
	a := svc.register(t, "Quinn")
	tok := svc.login(t, a.email, a.password)
	tests := []struct {
		method, path, token string
		body                any
	}{
		{"POST", "/api/customers/register", "", map[string]string{"name": "Q", "email": "q-" + uniq() + "@example.com", "password": "long enough"}},
		{"POST", "/api/customers/login", "", map[string]string{"email": a.email, "password": a.password}},
		{"POST", "/api/customers/refresh", "", map[string]string{"refreshToken": tok.refresh}},
		{"POST", "/api/customers/logout", tok.access, nil},
		{"GET", "/api/customers/home", tok.access, nil},
		{"GET", "/api/customers/me", tok.access, nil},
		{"GET", "/api/customers/openapi.json", "", nil},
		{"GET", "/api/customers/" + a.id, tok.access, nil},
		{"PUT", "/api/customers/" + a.id, tok.access, map[string]string{"name": "Changed"}},
		{"GET", "/.well-known/jwks.json", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := expect(t, svc.do(req{method: tt.method, path: tt.path + "?verbose=1&fields=id", token: tt.token, body: tt.body}), 422, "unknown query parameters")
			code, got := problemFields(t, r)
			if want := []string{"fields: unknown query parameter", "verbose: unknown query parameter"}; code != "validation_failed" || !slices.Equal(got, want) {
				t.Errorf("problem %s fields %q, want validation_failed %q", code, got, want)
			}
		})
	}
	// The refused refresh did not spend the token, the refused logout
	// ended nothing, the refused update changed nothing.
	expect(t, svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}), 200, "the session is live")
	if p := svc.do(req{method: "GET", path: "/api/customers/me", token: tok.access}).json(t); p["name"] != "Quinn" {
		t.Errorf("a refused update changed the profile: %v", p)
	}
	expect(t, svc.do(req{method: "POST", path: "/api/customers/refresh", body: map[string]string{"refreshToken": tok.refresh}}), 200, "the refresh token is unspent")
}
