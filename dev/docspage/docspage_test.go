package docspage

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	asyncAPI, err := LoadAsyncAPI(".")
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler([]Service{{Name: "product", Title: "Catalog", OpenAPIPath: "/api/products/openapi.json"}}, asyncAPI)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPageNeedsNoNetwork: every script, style sheet and link of the page is
// on the shop itself (a path or an anchor), so the page renders on a machine
// without internet; and what it references is served.
func TestPageNeedsNoNetwork(t *testing.T) {
	srv := httptest.NewServer(testHandler(t))
	defer srv.Close()
	page := get(t, srv.URL+"/", "text/html; charset=utf-8")
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d things, want its script, style sheet and documents", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") && !strings.HasPrefix(ref, "#") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page references %q, off the shop", ref)
		}
		if strings.HasPrefix(ref, "/docs/") {
			get(t, srv.URL+ref, "")
		}
	}
	if strings.Contains(get(t, srv.URL+"/docs/viewer.js", ""), "http") {
		t.Error("viewer.js names an http(s) URL; it must load only what the page names")
	}
}

// TestAsyncAPIAsJSON: the events document reaches the browser as JSON, whole.
func TestAsyncAPIAsJSON(t *testing.T) {
	srv := httptest.NewServer(testHandler(t))
	defer srv.Close()
	var doc struct {
		AsyncAPI string         `json:"asyncapi"`
		Channels map[string]any `json:"channels"`
	}
	if err := json.Unmarshal([]byte(get(t, srv.URL+"/docs/asyncapi.json", "application/json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI != "3.0.0" || len(doc.Channels) == 0 {
		t.Errorf("asyncapi.json = version %q with %d channels, want 3.0.0 with channels", doc.AsyncAPI, len(doc.Channels))
	}
}

func TestIsPagePath(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/docs/viewer.js": true, "/docs/asyncapi.json": true,
		"/docs": false, "/api/products": false, "/api/docs/x": false, "/.well-known/jwks.json": false,
	} {
		if got := IsPagePath(path); got != want {
			t.Errorf("IsPagePath(%q) = %v, want %v", path, got, want)
		}
	}
}

func get(t *testing.T, url, contentType string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", url, resp.StatusCode, body)
	}
	if contentType != "" && resp.Header.Get("Content-Type") != contentType {
		t.Errorf("GET %s: Content-Type %q, want %q", url, resp.Header.Get("Content-Type"), contentType)
	}
	return string(body)
}
