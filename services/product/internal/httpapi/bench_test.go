package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/product/internal/product"
)

// BenchmarkGetCached is the hot path of `make bench`: GET of a cached
// product through the middleware httpserver.Run puts around the router
// (span, metrics, recovery), with the cache lookup on whatever Redis
// REDIS_URL names (miniredis by default), without the network in front.
func BenchmarkGetCached(b *testing.B) {
	e := newEnv(b, envOptions{})
	p := e.create("Kettle", "39.90", 10)
	svc := product.NewService(e.repo, e.cache, nil)
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: "x", Audience: "x", Keys: auth.StaticKeys{}, Sessions: auth.NewRedisSessions(nil, 0)})
	h := httpserver.Instrument(prometheus.NewRegistry())(NewHandler(svc, v, nil))
	get := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/products/"+p.ID, nil))
		return w
	}
	if w := get(); w.Code != http.StatusOK { // fills the cache
		b.Fatalf("GET: %d %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if w := get(); w.Code != http.StatusOK {
				b.Errorf("GET: %d", w.Code)
				return
			}
		}
	})
}
