package stack

import (
	"net/http"
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
)

// TestStandInPassesMethodAnswers checks HEAD and wrong methods through the
// ingress stand-in, one route of each service: HEAD gets GET's status and
// Content-Length and no body, and a wrong method without a token gets the
// service's 405 with Allow, not a 401.
func TestStandInPassesMethodAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole embedded stack")
	}
	env := map[string]string{
		"DATA_DIR":      t.TempDir(),
		"INGRESS_ADDR":  testenv.FreeAddr(t),
		"CUSTOMER_ADDR": testenv.FreeAddr(t),
		"PRODUCT_ADDR":  testenv.FreeAddr(t),
		"ORDER_ADDR":    testenv.FreeAddr(t),
		"MONGODB_URI":   "",
		"REDIS_URL":     "",
		"AMQP_URL":      "",
	}
	base := "http://" + env["INGRESS_ADDR"]
	defer start(t, env)()

	for _, path := range []string{"/.well-known/jwks.json", "/api/products?limit=1", "/api/products/openapi.json", "/api/orders"} {
		get := shoptest.Do(t, shoptest.Request{Method: "GET", URL: base + path})
		head := shoptest.Do(t, shoptest.Request{Method: "HEAD", URL: base + path})
		if head.Status != get.Status || len(head.Body) != 0 ||
			head.Header.Get("Content-Length") != get.Header.Get("Content-Length") ||
			head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Errorf("HEAD %s = %d %v with %d body bytes; GET = %d %v", path,
				head.Status, head.Header, len(head.Body), get.Status, get.Header)
		}
	}
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/api/customers/register", "POST"},
		{"PUT", "/api/products/buy", "POST"},
		{"POST", "/api/orders/x", "GET, HEAD, PUT"},
	} {
		r := shoptest.Do(t, shoptest.Request{Method: tt.method, URL: base + tt.path})
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != tt.allow ||
			r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s = %d Allow %q %q, want 405 Allow %q problem", tt.method, tt.path,
				r.Status, r.Header.Get("Allow"), r.Header.Get("Content-Type"), tt.allow)
		}
	}
}
