package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/product/seed"
)

// BenchmarkCatalog measures list and read latency over HTTP against the
// running service with 2,000 products (the demo catalog generator), on
// whatever MONGODB_URI and REDIS_URL name (embedded FerretDB and miniredis
// by default). Each iteration is one request, so ns/op is the latency a
// lone client sees.
func BenchmarkCatalog(b *testing.B) {
	iss := authtest.NewIssuer(b, testenv.Redis(b))
	env := baseEnv(b, iss)
	env["LOG_LEVEL"] = "warn"
	ctx := context.Background()
	client, err := mongoconn.Connect(ctx, env["MONGODB_URI"])
	if err != nil {
		b.Fatal(err)
	}
	defer client.Disconnect(ctx)
	if _, err := seed.Load(ctx, client.Database(env["MONGODB_DATABASE"]), 2000); err != nil {
		b.Fatal(err)
	}
	s := start(b, env)

	var first struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor string `json:"nextCursor"`
	}
	if err := json.Unmarshal(s.do("GET", "/api/products?limit=1", "", "").body, &first); err != nil || len(first.Items) == 0 {
		b.Fatalf("no products: %v", err)
	}
	id := first.Items[0].ID
	cursor := ""
	for range 50 { // a cursor 1,000 products deep in price order
		var page struct {
			NextCursor string `json:"nextCursor"`
		}
		_ = json.Unmarshal(s.do("GET", "/api/products?limit=20&sort=price&cursor="+cursor, "", "").body, &page)
		cursor = page.NextCursor
	}

	cases := []struct{ name, path string }{
		{"get cached product", "/api/products/" + id},
		{"list first page", "/api/products"},
		{"list 100 by price", "/api/products?limit=100&sort=price"},
		{"list page 51 by price", "/api/products?limit=20&sort=price&cursor=" + url.QueryEscape(cursor)},
		{"list search q", "/api/products?q=hoodie"},
		{"list price range in stock", "/api/products?minPrice=20&maxPrice=50.5&inStock=true&sort=-price"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if r := s.do("GET", c.path, "", ""); r.status != http.StatusOK {
					b.Fatalf("%s: %s", c.path, r)
				}
			}
		})
	}
}
