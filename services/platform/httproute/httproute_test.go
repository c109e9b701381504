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
