package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
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
		"ADMIN_EMAIL":    "Boss@Example.com",
		"ADMIN_PASSWORD": "admin-password-1",
		// make run's own defaults, whatever the test machine exports
		"MONGODB_URI": "",
		"REDIS_URL":   "",
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
	stop()

	stop = start(t, env)
	defer stop()
	login(t, base, "ada@example.com", "correct horse")
	login(t, base, "boss@example.com", "admin-password-1")
	// The signing key is kept under DATA_DIR, so the published key set is
	// the same one before and after the restart.
	call(t, "POST", base+"/api/customers/register", "", `{"name":"Ada","email":"ADA@example.com","password":"other horse"}`, http.StatusConflict)
}

// start runs the stack with env and waits until the customer service is
// ready behind the stand-in; the returned func stops it and waits for a
// clean exit.
func start(t *testing.T, env map[string]string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() {
		done <- Run(ctx, func(name string) string { return env[name] }, logs, nil)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + env["CUSTOMER_ADDR"] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned before becoming ready: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("not ready after 30 s\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
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

// lockedBuffer collects the logs of every service of one run.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
