package openapitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
)

// priceDoc documents one resource with what the services' documents hold
// to: a money field, a required response header, problem responses.
const priceDoc = `{
  "openapi": "3.1.0",
  "info": {"title": "prices", "version": "1"},
  "paths": {
    "/api/prices": {
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Price"}}}},
        "responses": {
          "201": {
            "description": "created",
            "headers": {"Location": {"required": true, "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Price"}}}
          },
          "422": {"description": "invalid", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        }
      }
    },
    "/api/prices/{id}": {
      "get": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {
            "description": "the price",
            "headers": {"ETag": {"required": true, "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Price"}}}
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Price": {
        "type": "object", "additionalProperties": false, "required": ["price"],
        "properties": {"price": {"type": "number", "format": "money", "minimum": 0}}
      },
      "Problem": {"type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}}}
    }
  }
}`

// answer is what the handler under test sends.
type answer struct {
	status int
	header map[string]string
	body   string
}

func priceRouter(a answer) *mux.Router {
	r := mux.NewRouter()
	h := func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}
	r.HandleFunc("/api/prices", h).Methods(http.MethodPost)
	r.HandleFunc("/api/prices/{id}", h).Methods(http.MethodGet, http.MethodHead)
	return r
}

func TestViolations(t *testing.T) {
	jsonType := map[string]string{"Content-Type": "application/json"}
	withETag := map[string]string{"Content-Type": "application/json", "ETag": `"1"`}
	created := map[string]string{"Content-Type": "application/json", "Location": "/api/prices/1"}
	problem := map[string]string{"Content-Type": "application/problem+json"}
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		answer   answer
		violates string // a part of the one violation expected; "" for none
	}{
		{"a correct response", "GET", "/api/prices/1", "", answer{200, withETag, `{"price":76.99}`}, ""},
		{"a whole amount", "GET", "/api/prices/1", "", answer{200, withETag, `{"price":100}`}, ""},
		{"a wrong type", "GET", "/api/prices/1", "", answer{200, withETag, `{"price":"76.99"}`}, "price"},
		{"three decimals", "GET", "/api/prices/1", "", answer{200, withETag, `{"price":76.999}`}, "more than two decimal places"},
		{"a missing required header", "GET", "/api/prices/1", "", answer{200, jsonType, `{"price":1}`}, "ETag"},
		{"an undocumented status", "GET", "/api/prices/1", "", answer{500, jsonType, `{}`}, "500"},
		{"an undocumented field", "GET", "/api/prices/1", "", answer{200, withETag, `{"price":1,"cost":2}`}, "cost"},
		{"a wrong media type", "GET", "/api/prices/1", "", answer{200, map[string]string{"Content-Type": "text/plain", "ETag": `"1"`}, `{"price":1}`}, "text/plain"},
		{"HEAD is not held to GET's body", "HEAD", "/api/prices/1", "", answer{200, withETag, ""}, ""},
		{"a valid request created", "POST", "/api/prices", `{"price":76.99}`, answer{201, created, `{"price":76.99}`}, ""},
		{"201 without Location", "POST", "/api/prices", `{"price":76.99}`, answer{201, jsonType, `{"price":76.99}`}, "Location"},
		{"an invalid request refused", "POST", "/api/prices", `{"price":1.005}`, answer{422, problem, `{"status":422}`}, ""},
		{"malformed JSON refused", "POST", "/api/prices", `{"price":`, answer{422, problem, `{"status":422}`}, ""},
		{"an invalid request refused, badly", "POST", "/api/prices", `{"price":1.005}`, answer{422, problem, `{"status":"422"}`}, "status"},
		{"an invalid request accepted", "POST", "/api/prices", `{"price":1.005}`, answer{201, created, `{"price":1}`}, "a request the document refuses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			router := priceRouter(tt.answer)
			cov, err := NewCoverage([]byte(priceDoc), router)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			rec := httptest.NewRecorder()
			cov.Middleware(router).ServeHTTP(rec, req)
			if rec.Code != tt.answer.status || rec.Body.String() != tt.answer.body {
				t.Fatalf("the middleware changed the answer: %d %q", rec.Code, rec.Body)
			}

			got := cov.Violations()
			switch {
			case tt.violates == "" && len(got) != 0:
				t.Errorf("violations %q, want none", got)
			case tt.violates != "" && (len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.violates)):
				t.Errorf("violations %q, want one naming %q", got, tt.violates)
			}
		})
	}
}

// TestWrapFailsTheTest shows that Wrap reports a violation to its test at
// once and keeps none for Report, and that the handler still gets the body.
func TestWrapFailsTheTest(t *testing.T) {
	var gotBody string
	r := mux.NewRouter()
	r.HandleFunc("/api/prices", func(w http.ResponseWriter, req *http.Request) {
		var p struct{ Price json.Number }
		_ = json.NewDecoder(req.Body).Decode(&p)
		gotBody = p.Price.String()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated) // no Location
		_, _ = w.Write([]byte(`{"price":76.99}`))
	}).Methods(http.MethodPost)
	cov, err := NewCoverage([]byte(priceDoc), r)
	if err != nil {
		t.Fatal(err)
	}
	var ft fakeT
	req := httptest.NewRequest(http.MethodPost, "/api/prices", strings.NewReader(`{"price":76.99}`))
	req.Header.Set("Content-Type", "application/json")
	cov.Wrap(&ft, r).ServeHTTP(httptest.NewRecorder(), req)
	if gotBody != "76.99" {
		t.Errorf("handler read price %q, want 76.99", gotBody)
	}
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "POST /api/prices: response 201") || !strings.Contains(ft.errors[0], "Location") {
		t.Errorf("Wrap reported %q", ft.errors)
	}
	if v := cov.Violations(); len(v) != 0 {
		t.Errorf("Wrap kept violations %q for Report", v)
	}
}

func TestRunTestsReportsViolationsOfPartialRuns(t *testing.T) {
	router := priceRouter(answer{200, map[string]string{"Content-Type": "application/json"}, `{"price":1}`})
	cov, err := NewCoverage([]byte(priceDoc), router)
	if err != nil {
		t.Fatal(err)
	}
	cov.Middleware(router).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/prices/1", nil))
	var out strings.Builder
	if code := cov.runTests(testRun(0), false, &out); code != 1 || !strings.Contains(out.String(), "ETag") {
		t.Errorf("exit code %d, report %q; want 1 naming the missing ETag", code, out.String())
	}
}
