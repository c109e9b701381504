package stack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
)

// TestRunKeepsCustomersAcrossRestarts is `make run` as a newcomer meets it:
// the embedded stack starts, the customer API answers through the ingress
// stand-in, the admin from the environment can log in, and after a restart on
// the same DATA_DIR every account is still there.
func TestRunKeepsCustomersAcrossRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole embedded stack twice")
	}
	env := map[string]string{
		"DATA_DIR":       t.TempDir(),
		"INGRESS_ADDR":   testenv.FreeAddr(t),
		"CUSTOMER_ADDR":  testenv.FreeAddr(t),
		"PRODUCT_ADDR":   testenv.FreeAddr(t),
		"ORDER_ADDR":     testenv.FreeAddr(t),
		"ADMIN_EMAIL":    "Boss@Example.com",
		"ADMIN_PASSWORD": "admin-password-1",
		// make run's own defaults, whatever the test machine exports
		"MONGODB_URI": "",
		"REDIS_URL":   "",
		"AMQP_URL":    "",
	}
	base := "http://" + env["INGRESS_ADDR"]

	stop := start(t, env)
	shoptest.Call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`, http.StatusCreated)
	token := shoptest.Login(t, base, "ada@example.com", "correct horse")
	home := string(shoptest.Call(t, "GET", base+"/api/customers/home", token, "", http.StatusOK))
	if !strings.Contains(home, "Welcome to Home, Ada") {
		t.Errorf("home = %s", home)
	}
	adminToken := shoptest.Login(t, base, "boss@example.com", "admin-password-1")
	me := string(shoptest.Call(t, "GET", base+"/api/customers/me", adminToken, "", http.StatusOK))
	if !strings.Contains(me, `"role":"admin"`) {
		t.Errorf("admin profile = %s", me)
	}
	shoptest.Call(t, "GET", base+"/.well-known/jwks.json", "", "", http.StatusOK)
	shoptest.Call(t, "GET", base+"/api/unknown", "", "", http.StatusNotFound)

	// The order flow over the in-process bus: a buy is answered with the
	// confirmed order, which the order service then serves.
	var created struct{ ID string }
	shoptest.Decode(t, shoptest.Call(t, "POST", base+"/api/products", adminToken, `{"name":"Lamp","description":"A lamp.","price":19.99,"stock":3}`, http.StatusCreated), &created)
	var order struct{ ID, Status string }
	shoptest.Decode(t, shoptest.Call(t, "POST", base+"/api/products/buy", token, `{"items":[{"productId":"`+created.ID+`","quantity":2}]}`, http.StatusCreated), &order)
	if order.Status != "confirmed" || order.ID == "" {
		t.Fatalf("buy answered order %+v, want a confirmed one", order)
	}
	shoptest.Call(t, "GET", base+"/api/orders/"+order.ID, token, "", http.StatusOK)
	stop()

	stop = start(t, env)
	defer stop()
	shoptest.Login(t, base, "ada@example.com", "correct horse")
	shoptest.Login(t, base, "boss@example.com", "admin-password-1")
	// The signing key is kept under DATA_DIR, so the published key set is
	// the same one before and after the restart.
	shoptest.Call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ADA@example.com","password":"other horse"}`, http.StatusConflict)
	var product struct{ Stock int }
	shoptest.Decode(t, shoptest.Call(t, "GET", base+"/api/products/"+created.ID, "", "", http.StatusOK), &product)
	if product.Stock != 1 {
		t.Errorf("stock after buying 2 of 3 and a restart = %d, want 1", product.Stock)
	}
	token = shoptest.Login(t, base, "ada@example.com", "correct horse")
	shoptest.Call(t, "GET", base+"/api/orders/"+order.ID, token, "", http.StatusOK)
}

// start runs the stack with env and waits until the customer service is
// ready behind the stand-in; the returned func stops it and waits for a
// clean exit.
func start(t *testing.T, env map[string]string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	logs := &testenv.LogBuffer{}
	go func() {
		done <- Run(ctx, func(name string) string { return env[name] }, logs, nil)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for _, service := range []string{"CUSTOMER_ADDR", "PRODUCT_ADDR", "ORDER_ADDR"} {
		testenv.WaitOK(t, "http://"+env[service]+"/readyz", deadline, done, logs)
	}
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not stop within 20 s")
		}
	}
}
