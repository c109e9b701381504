package openapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	const doc = `{"openapi":"3.1.0"}`
	rec := httptest.NewRecorder()
	Handler([]byte(doc)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" || rec.Body.String() != doc {
		t.Errorf("Handler = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
