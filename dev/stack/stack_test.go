package stack

import (
	"context"
	"encoding/json"
	"github.com/travluk/ecom/dev/testenv"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
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
		"INGRESS_ADDR":   freeAddr(t),
		"CUSTOMER_ADDR":  freeAddr(t),
		"PRODUCT_ADDR":   freeAddr(t),
		"ORDER_ADDR":     freeAddr(t),
		"ADMIN_EMAIL":    "Boss@Example.com",
		"ADMIN_PASSWORD": "admin-password-1",
		// make run's own defaults, whatever the test machine exports
		"MONGODB_URI": "",
		"REDIS_URL":   "",
		"AMQP_URL":    "",
	}
	base := "http://" + env["INGRESS_ADDR"]

	stop := start(t, env)
	call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`, http.StatusCreated)
	token := login(t, base, "ada@example.com", "correct horse")
	home := call(t, "GET", base+"/api/customers/home", token, "", http.StatusOK)
	if !strings.Contains(home, "Welcome to Home, Ada") {
		t.Errorf("home = %s", home)
	}
	adminToken := login(t, base, "boss@example.com", "admin-password-1")
	me := call(t, "GET", base+"/api/customers/me", adminToken, "", http.StatusOK)
	if !strings.Contains(me, `"role":"admin"`) {
		t.Errorf("admin profile = %s", me)
	}
	call(t, "GET", base+"/.well-known/jwks.json", "", "", http.StatusOK)
	call(t, "GET", base+"/api/unknown", "", "", http.StatusNotFound)

	// The order flow over the in-process bus: a buy is answered with the
	// confirmed order, which the order service then serves.
	var created struct{ ID string }
	decode(t, call(t, "POST", base+"/api/products", adminToken, `{"name":"Lamp","description":"A lamp.","price":19.99,"stock":3}`, http.StatusCreated), &created)
	var order struct{ ID, Status string }
	decode(t, call(t, "POST", base+"/api/products/buy", token, `{"items":[{"productId":"`+created.ID+`","quantity":2}]}`, http.StatusCreated), &order)
	if order.Status != "confirmed" || order.ID == "" {
		t.Fatalf("buy answered order %+v, want a confirmed one", order)
	}
	call(t, "GET", base+"/api/orders/"+order.ID, token, "", http.StatusOK)
	stop()

	stop = start(t, env)
	defer stop()
	login(t, base, "ada@example.com", "correct horse")
	login(t, base, "boss@example.com", "admin-password-1")
	// The signing key is kept under DATA_DIR, so the published key set is
	// the same one before and after the restart.
	call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ADA@example.com","password":"other horse"}`, http.StatusConflict)
	var product struct{ Stock int }
	decode(t, call(t, "GET", base+"/api/products/"+created.ID, "", "", http.StatusOK), &product)
	if product.Stock != 1 {
		t.Errorf("stock after buying 2 of 3 and a restart = %d, want 1", product.Stock)
	}
	token = login(t, base, "ada@example.com", "correct horse")
	call(t, "GET", base+"/api/orders/"+order.ID, token, "", http.StatusOK)
}

func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
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
		waitReady(t, "http://"+env[service]+"/readyz", deadline, done, logs)
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

// waitReady polls url until it answers 200, failing the test when Run ends
// first or the deadline passes.
func waitReady(t *testing.T, url string, deadline time.Time, done <-chan error, logs *testenv.LogBuffer) {
	t.Helper()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before %s was ready: %v\n%s", url, err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after 30 s\n%s", url, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func login(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	var pair struct{ AccessToken string }
	if err := json.Unmarshal([]byte(call(t, "POST", base+"/api/customers/login", "", string(body), http.StatusOK)), &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("login %s: no access token (%v)", email, err)
	}
	return pair.AccessToken
}

func call(t *testing.T, method, url, token, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, url, resp.StatusCode, want, got)
	}
	return string(got)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
