package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/server"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
)

func TestConfigurationErrors(t *testing.T) {
	base := map[string]string{"MONGODB_URI": "mongodb://x", "REDIS_URL": "redis://x", "JWKS_URL": "http://x"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		bus     bool
		want    []string
		notWant []string
	}{
		{"nothing set", map[string]string{}, false, []string{"MONGODB_URI", "REDIS_URL", "JWKS_URL", "AMQP_URL"}, nil},
		{"AMQP_URL not needed with a bus", map[string]string{}, true, []string{"MONGODB_URI", "REDIS_URL", "JWKS_URL"}, []string{"AMQP_URL"}},
		{"bad log level", with(map[string]string{"AMQP_URL": "amqp://x", "LOG_LEVEL": "loud"}), false, []string{"LOG_LEVEL"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o server.Options
			if tt.bus {
				o.Bus = messaging.NewMemoryBus(messaging.MemoryOptions{}).For
			}
			err := server.RunWithOptions(context.Background(), func(k string) string { return tt.env[k] }, io.Discard, o)
			if err == nil {
				t.Fatal("Run started with a bad configuration")
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error does not name %s: %v", name, err)
				}
			}
			for _, name := range tt.notWant {
				if strings.Contains(err.Error(), name) {
					t.Errorf("error names %s: %v", name, err)
				}
			}
		})
	}
}

// TestOrderFlow boots Run with an in-process bus, as `make run` does,
// plays the product service's part on it (publishing order.requested and
// consuming the "product" queue), and follows one order from request to
// confirmation to cancellation, with a redelivery on the way.
func TestOrderFlow(t *testing.T) {
	iss := authtest.NewIssuer(t, testenv.Redis(t))
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	product := messagingtest.NewRecorder(nil)
	messagingtest.Consume(t, bus, messaging.Subscription{
		Queue: "product", Types: []string{"order.confirmed", "order.cancelled"}, Handler: product.Handle,
	})
	s := start(t, baseEnv(t, iss), server.Options{Bus: bus.For})
	ada, _ := iss.Token(t, "ada", auth.RoleCustomer)

	for _, path := range []string{"/healthz", "/readyz"} {
		if r := s.do("GET", path, "", ""); r.status != http.StatusOK {
			t.Errorf("%s: %s", path, r)
		}
	}
	id := "65f0c0ffee00000000000001"
	request := map[string]any{
		"orderId": id, "customerId": "ada", "currency": "EUR", "requestedAt": time.Now().UTC(),
		"items": []map[string]any{{"productId": "p1", "name": "Mug", "unitPrice": json.Number("12.50"), "quantity": 2}},
	}
	ev, err := messaging.NewEvent(context.Background(), "/product", "order.requested", id, request)
	if err != nil {
		t.Fatal(err)
	}
	// The service declares its queue once it runs; until then the event is
	// unroutable and the product's relay would retry, as this does.
	messagingtest.Eventually(t, func() error { return bus.Publish(context.Background(), ev) })

	confirmed := product.WaitHandled(t, 1)[0]
	var data struct {
		OrderID     string      `json:"orderId"`
		CustomerID  string      `json:"customerId"`
		Status      string      `json:"status"`
		TotalAmount json.Number `json:"totalAmount"`
	}
	if err := json.Unmarshal(confirmed.Data, &data); err != nil {
		t.Fatal(err)
	}
	if confirmed.Type != "order.confirmed" || confirmed.Subject != id || confirmed.Source != "/order" ||
		data.OrderID != id || data.CustomerID != "ada" || data.Status != "confirmed" || data.TotalAmount.String() != "25.00" {
		t.Fatalf("order.confirmed = %+v %s", confirmed, confirmed.Data)
	}
	if r := s.do("GET", "/api/orders/"+id, ada, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), `"totalAmount":25.00`) {
		t.Errorf("GET the order: %s", r)
	}

	// Redelivered: acknowledged, no second order.confirmed.
	if err := bus.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if r := s.do("PUT", "/api/orders/status/"+id, ada, `{"status":"cancelled","note":"changed my mind"}`); r.status != http.StatusOK {
		t.Fatalf("cancel: %s", r)
	}
	events := product.WaitHandled(t, 2)
	var cancelled struct {
		OrderID string `json:"orderId"`
		Items   []struct {
			ProductID string `json:"productId"`
			Quantity  int64  `json:"quantity"`
		} `json:"items"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(events[1].Data, &cancelled); err != nil {
		t.Fatal(err)
	}
	if events[1].Type != "order.cancelled" || cancelled.OrderID != id || len(cancelled.Items) != 1 ||
		cancelled.Items[0].ProductID != "p1" || cancelled.Items[0].Quantity != 2 || cancelled.Reason != "changed my mind" {
		t.Errorf("order.cancelled = %s", events[1].Data)
	}
	time.Sleep(200 * time.Millisecond)
	if n := len(product.Handled()); n != 2 {
		t.Errorf("the product side got %d events, want exactly 2", n)
	}
	if dead := bus.DeadLetters("order"); len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}

	metrics := string(s.do("GET", "/metrics", "", "").body)
	for _, want := range []string{
		`order_requests_handled_total{outcome="created"} 1`,
		`order_requests_handled_total{outcome="duplicate"} 1`,
		`outbox_published_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if r := s.do("GET", "/api/orders/openapi.json", "", ""); r.status != http.StatusOK {
		t.Errorf("openapi.json: %d", r.status)
	}
}
