package stack

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
)

// TestRunCountsEventsPerService is what an operator of `make run` sees on
// each service's /metrics after one buy over the in-process bus: the same
// messages_* series as in the cluster, each publish counted by the service
// that published it and each delivery by the service that consumed it.
func TestRunCountsEventsPerService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole embedded stack")
	}
	env := map[string]string{
		"DATA_DIR":       t.TempDir(),
		"INGRESS_ADDR":   testenv.FreeAddr(t),
		"CUSTOMER_ADDR":  testenv.FreeAddr(t),
		"PRODUCT_ADDR":   testenv.FreeAddr(t),
		"ORDER_ADDR":     testenv.FreeAddr(t),
		"ADMIN_EMAIL":    "boss@example.com",
		"ADMIN_PASSWORD": "admin-password-1",
		"MONGODB_URI":    "",
		"REDIS_URL":      "",
		"AMQP_URL":       "",
	}
	base := "http://" + env["INGRESS_ADDR"]
	defer start(t, env)()

	admin := shoptest.Login(t, base, "boss@example.com", "admin-password-1")
	shoptest.Call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`, http.StatusCreated)
	ada := shoptest.Login(t, base, "ada@example.com", "correct horse")
	var created struct{ ID string }
	shoptest.Decode(t, shoptest.Call(t, "POST", base+"/api/products", admin, `{"name":"Lamp","description":"A lamp.","price":19.99,"stock":3}`, http.StatusCreated), &created)
	shoptest.Call(t, "POST", base+"/api/products/buy", ada, `{"items":[{"productId":"`+created.ID+`","quantity":1}]}`, http.StatusCreated)

	// Nothing failed, so both queues' dead letters, routed by the
	// ingress as in the cluster, are empty; only an admin may look.
	for _, path := range []string{"/api/products/dead-letters", "/api/orders/dead-letters"} {
		var page struct{ Total int }
		shoptest.Decode(t, shoptest.Call(t, "GET", base+path, admin, "", http.StatusOK), &page)
		if page.Total != 0 {
			t.Errorf("%s: %d dead letters after a healthy buy", path, page.Total)
		}
		shoptest.Call(t, "GET", base+path, ada, "", http.StatusForbidden)
	}

	product, order := "http://"+env["PRODUCT_ADDR"]+"/metrics", "http://"+env["ORDER_ADDR"]+"/metrics"
	tests := []struct {
		name   string
		url    string
		series string
		want   float64 // 0: the series must be absent or zero
	}{
		{"product published order.requested", product, `messages_published_total{outcome="confirmed",type="order.requested"}`, 1},
		{"product consumed order.confirmed", product, `messages_consumed_total{outcome="ack",queue="product",type="order.confirmed"}`, 1},
		{"product did not publish order.confirmed", product, `messages_published_total{outcome="confirmed",type="order.confirmed"}`, 0},
		{"product did not consume queue order", product, `messages_consumed_total{outcome="ack",queue="order",type="order.requested"}`, 0},
		{"order published order.confirmed", order, `messages_published_total{outcome="confirmed",type="order.confirmed"}`, 1},
		{"order consumed order.requested", order, `messages_consumed_total{outcome="ack",queue="order",type="order.requested"}`, 1},
		{"order lag observed", order, `messages_consume_lag_seconds_count{queue="order",type="order.requested"}`, 1},
		{"order did not publish order.requested", order, `messages_published_total{outcome="confirmed",type="order.requested"}`, 0},
	}
	// The buy answers once product consumed order.confirmed; the relays
	// count their publish a moment after it was handled, so poll.
	deadline := time.Now().Add(10 * time.Second)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for {
				got := scrape(t, tt.url, tt.series)
				if got == tt.want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s on %s = %v, want %v", tt.series, tt.url, got, tt.want)
				}
				time.Sleep(50 * time.Millisecond) // polling a condition, bounded by deadline
			}
		})
	}
}

// scrape returns the value of one series, written exactly as Prometheus's
// text format writes it (labels in name order), from url; 0 when absent.
func scrape(t *testing.T, url, series string) float64 {
	t.Helper()
	body := shoptest.Call(t, "GET", url, "", "", http.StatusOK)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || name != series {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatal(fmt.Errorf("series %s: %w", series, err))
		}
		return v
	}
	return 0
}
