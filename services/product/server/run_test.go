package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/product/server"
)

func TestConfigurationErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{}, []string{"MONGODB_URI", "REDIS_URL", "JWKS_URL"}},
		{"bad values", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "JWKS_URL": "http://x",
			"PRODUCT_CACHE_TTL": "1s", "LOG_LEVEL": "loud"}, []string{"PRODUCT_CACHE_TTL", "LOG_LEVEL"}},
		{"not a duration", map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "JWKS_URL": "http://x",
			"PRODUCT_CACHE_TTL": "ten"}, []string{"PRODUCT_CACHE_TTL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := server.Run(context.Background(), func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil {
				t.Fatal("Run started with a bad configuration")
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s: %v", name, err)
				}
			}
		})
	}
}

// TestEndToEnd drives the service as a client would, with tokens from a
// JWKS-publishing issuer and sessions in Redis.
func TestEndToEnd(t *testing.T) {
	iss := authtest.NewIssuer(t, testenv.Redis(t))
	s := start(t, baseEnv(t, iss))
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)
	customer, _ := iss.Token(t, "customer-1", auth.RoleCustomer)

	for _, path := range []string{"/healthz", "/readyz"} {
		if r := s.do("GET", path, "", ""); r.status != http.StatusOK {
			t.Errorf("%s: %s", path, r)
		}
	}
	r := s.do("POST", "/api/products", admin, `{"name":"Trail Runners","description":"Light","price":89.90,"stock":12,"attributes":{"size":42}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	loc := r.header.Get("Location")
	if r := s.do("POST", "/api/products", customer, `{"name":"X","description":"","price":1,"stock":1}`); r.status != http.StatusForbidden {
		t.Errorf("customer create: %s", r)
	}
	if r := s.do("POST", "/api/products", "", `{"name":"X","description":"","price":1,"stock":1}`); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous create: %s", r)
	}
	got := s.do("GET", loc, "", "")
	if got.status != http.StatusOK || got.json(t)["price"].(interface{ String() string }).String() != "89.90" {
		t.Fatalf("read: %s", got)
	}
	if r := s.do("GET", loc, "", "", "If-None-Match", got.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Errorf("conditional read: %s", r)
	}
	if r := s.do("PUT", loc, admin, `{"price":79.90}`, "If-Match", got.header.Get("ETag")); r.status != http.StatusOK {
		t.Fatalf("update: %s", r)
	}
	if r := s.do("PUT", loc, admin, `{"price":1}`, "If-Match", got.header.Get("ETag")); r.status != http.StatusPreconditionFailed {
		t.Errorf("stale update: %s", r)
	}
	if r := s.do("GET", loc, "", ""); !strings.Contains(string(r.body), `"price":79.90`) {
		t.Errorf("read after update: %s", r)
	}
	list := s.do("GET", "/api/products?q=trail&inStock=true&sort=price", "", "")
	if list.status != http.StatusOK || !strings.Contains(string(list.body), "Trail Runners") {
		t.Errorf("list: %s", list)
	}
	if r := s.do("GET", "/api/products/openapi.json", "", ""); r.status != http.StatusOK {
		t.Errorf("openapi.json: %d", r.status)
	}
	metrics := string(s.do("GET", "/metrics", "", "").body)
	for _, want := range []string{`product_cache_lookups_total{result="hit"}`, `http_requests_total{code="200",method="GET",route="/api/products/{productId}"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if r := s.do("DELETE", loc, admin, ""); r.status != http.StatusNoContent {
		t.Errorf("delete: %s", r)
	}
	if r := s.do("GET", loc, "", ""); r.status != http.StatusNotFound {
		t.Errorf("read after delete: %s", r)
	}
}

// TestRedisOutage runs the service with Redis behind a proxy that is cut
// and restored. Anonymous reads go on; /readyz reports redis; admin writes
// need their session checked, so they pass only within the verifier's
// one-second session cache and are 503 after it. A write that passed
// during the outage is never hidden by an old cache entry afterwards.
func TestRedisOutage(t *testing.T) {
	redisURL := testenv.Redis(t)
	u, _ := url.Parse(redisURL)
	proxy := testenv.NewTCPProxy(t, u.Host)
	iss := authtest.NewIssuer(t, redisURL)
	env := baseEnv(t, iss)
	u.Host = proxy.Addr()
	env["REDIS_URL"] = u.String()
	s := start(t, env)
	admin, _ := iss.Token(t, "admin-1", auth.RoleAdmin)

	r := s.do("POST", "/api/products", admin, `{"name":"Storm Lantern","description":"","price":30,"stock":3}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	loc := r.header.Get("Location")
	s.do("GET", loc, "", "")
	s.do("GET", loc, "", "") // cached now
	if r := s.do("PUT", loc, admin, `{"price":31}`); r.status != http.StatusOK {
		t.Fatalf("update: %s", r) // also caches the admin's session for a second
	}

	proxy.Cut()
	wroteDuringOutage := false
	if r := s.do("PUT", loc, admin, `{"price":32}`); r.status == http.StatusOK {
		wroteDuringOutage = true
	} else {
		t.Logf("write right after the cut was refused (%d): the session cache had already expired", r.status)
	}
	for range 3 {
		r := s.do("GET", loc, "", "")
		if r.status != http.StatusOK || r.took > time.Second {
			t.Fatalf("read with Redis away: %s in %v", r, r.took)
		}
		if wroteDuringOutage && !strings.Contains(string(r.body), `"price":32.00`) {
			t.Fatalf("read after a write during the outage: %s", r)
		}
	}
	if r := s.do("GET", "/api/products", "", ""); r.status != http.StatusOK {
		t.Errorf("list with Redis away: %s", r)
	}
	ready := s.do("GET", "/readyz", "", "")
	if ready.status != http.StatusOK || !strings.Contains(string(ready.body), `"status":"degraded"`) || !strings.Contains(string(ready.body), `"redis":"failed"`) {
		t.Errorf("/readyz with Redis away: %s", ready)
	}
	time.Sleep(1100 * time.Millisecond) // past the session cache
	r = s.do("PUT", loc, admin, `{"price":99}`)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), `"code":"unavailable"`) {
		t.Errorf("admin write once sessions cannot be checked: %s", r)
	}

	proxy.Restore()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(string(s.do("GET", "/readyz", "", "").body), `"status":"ok"`) {
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 5s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	hits := func() float64 {
		m := regexp.MustCompile(`product_cache_lookups_total\{result="hit"\} (\S+)`).FindStringSubmatch(string(s.do("GET", "/metrics", "", "").body))
		if m == nil {
			t.Fatal("no hit counter in /metrics")
		}
		f, _ := strconv.ParseFloat(m[1], 64)
		return f
	}
	want := `"price":31.00`
	if wroteDuringOutage {
		want = `"price":32.00`
	}
	before := hits()
	for hits() == before {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("cache not used again after Redis came back")
		}
		if r := s.do("GET", loc, "", ""); !strings.Contains(string(r.body), want) {
			t.Fatalf("after Redis came back: %s, want %s", r, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := s.do("GET", loc, "", ""); !strings.Contains(string(r.body), want) {
		t.Errorf("cached after recovery: %s, want %s", r, want)
	}
	if r := s.do("PUT", loc, admin, `{"price":33}`); r.status != http.StatusOK {
		t.Errorf("write after recovery: %s", r)
	}
}
