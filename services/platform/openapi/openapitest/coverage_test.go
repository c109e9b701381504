package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/mux"
)

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "test", "version": "1"},
  "paths": {
    "/api/items": {
      "get":  {"responses": {"200": {"description": "list"}}},
      "post": {"responses": {"201": {"description": "created"}, "422": {"description": "invalid"}, "default": {"description": "error"}}}
    },
    "/api/items/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {"responses": {"200": {"description": "item"}, "4XX": {"description": "client error"}}}
    },
    "/api/ghosts": {
      "get": {"responses": {"200": {"description": "nothing routes here"}}}
    }
  }
}`

func testRouter() *mux.Router {
	r := mux.NewRouter()
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	r.Handle("/api/items", status(200)).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/api/items", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("bad") != "" {
			w.WriteHeader(422)
			return
		}
		w.WriteHeader(201)
	}).Methods(http.MethodPost)
	items := r.PathPrefix("/api/items").Subrouter()
	items.HandleFunc("/{itemId:[0-9]+}", func(w http.ResponseWriter, r *http.Request) {
		if mux.Vars(r)["itemId"] == "0" {
			w.WriteHeader(404)
			return
		}
		_, _ = w.Write([]byte("{}"))
	}).Methods(http.MethodGet)
	items.Handle("/{itemId:[0-9]+}", status(204)).Methods(http.MethodDelete)
	r.Handle("/api/undocumented", status(200))
	return r
}

// TestMissingRoutes also shows that HEAD /api/items, served with GET, counts
// as documented by its GET.
func TestMissingRoutes(t *testing.T) {
	cov, err := NewCoverage([]byte(doc), testRouter())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"* /api/undocumented",
		"DELETE /api/items/{itemId:[0-9]+}",
	}
	if diff := cmp.Diff(want, cov.MissingRoutes()); diff != "" {
		t.Errorf("MissingRoutes mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /api/ghosts"}, cov.UndocumentedOperations()); diff != "" {
		t.Errorf("UndocumentedOperations mismatch (-want +got):\n%s", diff)
	}
}

func TestUnproducedStatuses(t *testing.T) {
	all := []string{
		"GET /api/ghosts 200",
		"GET /api/items 200",
		"GET /api/items/{id} 200",
		"GET /api/items/{id} 4XX",
		"POST /api/items 201",
		"POST /api/items 422",
	}
	tests := []struct {
		name     string
		requests []string // "METHOD /path"
		use      bool     // router.Use instead of wrapping
		want     []string
	}{
		{name: "nothing served", want: all},
		{
			name:     "some served",
			requests: []string{"GET /api/items", "POST /api/items", "GET /api/items/7"},
			want:     []string{"GET /api/ghosts 200", "GET /api/items/{id} 4XX", "POST /api/items 422"},
		},
		{
			name:     "a range is produced by any code in it",
			requests: []string{"GET /api/items/0", "POST /api/items?bad=1"},
			want:     []string{"GET /api/ghosts 200", "GET /api/items 200", "GET /api/items/{id} 200", "POST /api/items 201"},
		},
		{
			name:     "as router middleware",
			requests: []string{"GET /api/items", "POST /api/items", "GET /api/items/7", "GET /api/items/0", "POST /api/items?bad=1"},
			use:      true,
			want:     []string{"GET /api/ghosts 200"},
		},
		{
			name:     "unmatched requests are ignored",
			requests: []string{"GET /nowhere", "PATCH /api/items"},
			want:     all,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router := testRouter()
			cov, err := NewCoverage([]byte(doc), router)
			if err != nil {
				t.Fatal(err)
			}
			var h http.Handler = cov.Middleware(router)
			if tt.use {
				router.Use(cov.Middleware)
				h = router
			}
			for _, req := range tt.requests {
				method, path, _ := strings.Cut(req, " ")
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path, nil))
			}
			if diff := cmp.Diff(tt.want, cov.UnproducedStatuses()); diff != "" {
				t.Errorf("UnproducedStatuses mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

type fakeT struct{ errors []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func TestCheck(t *testing.T) {
	cov, err := NewCoverage([]byte(doc), testRouter())
	if err != nil {
		t.Fatal(err)
	}
	var ft fakeT
	cov.Check(&ft)
	if len(ft.errors) != 2 || !strings.Contains(ft.errors[0], "DELETE /api/items/{itemId:[0-9]+}") ||
		!strings.Contains(ft.errors[1], "POST /api/items 422") {
		t.Errorf("Check reported %q", ft.errors)
	}

	// A fully documented and exercised router passes.
	r := mux.NewRouter()
	r.HandleFunc("/a/{x}", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodGet)
	cov, err = NewCoverage([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{y}":{"get":{"responses":{"200":{"description":"ok"}}}}}}`), r)
	if err != nil {
		t.Fatal(err)
	}
	cov.Middleware(r).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/a/1", nil))
	cov.Check(t)
}

func TestReport(t *testing.T) {
	cov, err := NewCoverage([]byte(doc), testRouter())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if cov.Report(&out) {
		t.Error("Report = true for a router with an undocumented route")
	}
	if !strings.Contains(out.String(), "OpenAPI coverage: routes missing") || !strings.Contains(out.String(), "POST /api/items 422") {
		t.Errorf("Report wrote %q", out.String())
	}
}

// testRun is a *testing.M whose tests end with code.
type testRun int

func (r testRun) Run() int { return int(r) }

func TestRunTestsChecksOnlyFullPassingRuns(t *testing.T) {
	tests := []struct {
		name     string
		tests    int // the tests' own exit code
		full     bool
		complete bool // every route documented and every status produced
		want     int
	}{
		{"full run, coverage complete", 0, true, true, 0},
		{"full run, coverage has gaps", 0, true, false, 1},
		{"partial run, gaps not checked", 0, false, false, 0},
		{"failed tests keep their code", 3, true, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cov, err := NewCoverage([]byte(doc), testRouter())
			if err != nil {
				t.Fatal(err)
			}
			if tt.complete {
				cov, err = NewCoverage([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{}}`), mux.NewRouter())
				if err != nil {
					t.Fatal(err)
				}
			}
			var out strings.Builder
			if got := cov.runTests(testRun(tt.tests), tt.full, &out); got != tt.want {
				t.Errorf("exit code %d, want %d (report: %q)", got, tt.want, out.String())
			}
		})
	}
}

func TestNormalise(t *testing.T) {
	tests := map[string]string{
		"/api/items":                 "/api/items",
		"/api/items/{id}":            "/api/items/{}",
		"/api/items/{id:[0-9]+}":     "/api/items/{}",
		"/x/{id:[0-9]{3}}/y/{other}": "/x/{}/y/{}",
	}
	for in, want := range tests {
		if got := normalise(in); got != want {
			t.Errorf("normalise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewCoverageBadDocument(t *testing.T) {
	tests := map[string]string{
		"malformed JSON": `{"paths":`,
		"not OpenAPI":    `{"paths":{}}`,
		"a path param without schema": `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{id}":{` +
			`"parameters":[{"name":"id","in":"path","required":true}],"get":{"responses":{"200":{"description":"ok"}}}}}}`,
		"a response without description": `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{}}}}}}`,
	}
	for name, doc := range tests {
		if _, err := NewCoverage([]byte(doc), mux.NewRouter()); err == nil {
			t.Errorf("NewCoverage accepted %s", name)
		}
	}
}
