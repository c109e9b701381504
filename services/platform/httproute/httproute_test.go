package httproute

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandle drives a router shaped like the services' (a literal path before
// a pattern that also matches it, the pattern behind a stand-in for
// authentication) with every method that matters.
func TestHandle(t *testing.T) {
	body := func(text string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("ETag", `"1"`)
			_, _ = io.WriteString(w, text)
		})
	}
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") == "" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	r := NewRouter()
	Handle(r, "/items/register", Methods{http.MethodPost: body("registered")})
	Handle(r, "/items/{id}", Methods{
		http.MethodGet:    authenticate(body("item")),
		http.MethodDelete: authenticate(body("")),
		http.MethodPut:    authenticate(body("put")),
	})
	r.Handle("/plain", body("plain")).Methods(http.MethodGet, http.MethodPost)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	tests := []struct {
		method, path string
		status       int
		allow        string
		body         string
	}{
		{"POST", "/items/register", 200, "", "registered"},
		{"GET", "/items/register", 405, "POST", ""},
		{"HEAD", "/items/register", 405, "POST", ""},
		{"GET", "/items/7", 401, "", ""},
		{"HEAD", "/items/7", 401, "", ""},
		{"PATCH", "/items/7", 405, "GET, HEAD, PUT, DELETE", ""},
		{"OPTIONS", "/items/7", 405, "GET, HEAD, PUT, DELETE", ""},
		{"DELETE", "/plain", 405, "GET, HEAD, POST", ""},
		{"GET", "/nowhere", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, got)
			}
			if a := resp.Header.Get("Allow"); a != tt.allow {
				t.Errorf("Allow = %q, want %q", a, tt.allow)
			}
			if tt.status == 405 && tt.method != "HEAD" {
				var p struct {
					Status int
					Code   string
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if err := json.Unmarshal(got, &p); err != nil || p.Status != 405 || p.Code != "method_not_allowed" {
					t.Errorf("body = %s, want a 405 method_not_allowed problem", got)
				}
			} else if tt.body != "" && string(got) != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

// TestHeadIsGetWithoutBody checks that HEAD gets GET's status and headers,
// Content-Length included, and no body.
func TestHeadIsGetWithoutBody(t *testing.T) {
	r := NewRouter()
	Handle(r, "/doc", Methods{http.MethodGet: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
	})})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	get, err := http.Get(srv.URL + "/doc")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	head, err := http.Head(srv.URL + "/doc")
	if err != nil {
		t.Fatal(err)
	}
	defer head.Body.Close()
	b, _ := io.ReadAll(head.Body)
	if head.StatusCode != 200 || len(b) != 0 {
		t.Errorf("HEAD = %d with %d body bytes, want 200 and none", head.StatusCode, len(b))
	}
	for _, h := range []string{"Content-Length", "ETag", "Content-Type"} {
		if head.Header.Get(h) != get.Header.Get(h) {
			t.Errorf("HEAD %s = %q, GET's = %q", h, head.Header.Get(h), get.Header.Get(h))
		}
	}
}

// TestQuery: parameters a handler takes pass, any other is a 422 naming
// each, before the handler runs.
func TestQuery(t *testing.T) {
	reached := false
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { reached = true })
	tests := []struct {
		name   string
		params []string
		query  string
		status int
		fields []string
	}{
		{"no query", nil, "", 200, nil},
		{"takes none, gets one", nil, "x=1", 422, []string{"x"}},
		{"a known one", []string{"limit", "cursor"}, "limit=5&cursor=abc", 200, nil},
		{"a known one repeated", []string{"limit"}, "limit=5&limit=6", 200, nil},
		{"unknown ones, sorted", []string{"limit"}, "limt=5&limit=1&Limit=2", 422, []string{"Limit", "limt"}},
		{"a name without a value", []string{"limit"}, "debug", 422, []string{"debug"}},
		{"an escaped name", []string{"limit"}, "li%6Dit=1&%00=1", 422, []string{"\x00"}},
		{"only separators", nil, "&&", 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached = false
			rec := httptest.NewRecorder()
			Query(h, tt.params...).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/things?"+tt.query, nil))
			if rec.Code != tt.status || reached != (tt.status == 200) {
				t.Fatalf("status %d, handler reached %v; want %d", rec.Code, reached, tt.status)
			}
			if tt.status == 200 {
				return
			}
			var p struct {
				Code   string `json:"code"`
				Errors []struct{ Field, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("not a problem: %s", rec.Body)
			}
			var fields []string
			for _, e := range p.Errors {
				if e.Message != "unknown query parameter" {
					t.Errorf("message %q", e.Message)
				}
				fields = append(fields, e.Field)
			}
			if p.Code != "validation_failed" || strings.Join(fields, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("code %s fields %q, want validation_failed %q", p.Code, fields, tt.fields)
			}
		})
	}
}
