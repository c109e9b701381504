package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/travluk/ecom/dev/stack"
)

// The admin account the shop ensures at start, unless ADMIN_EMAIL and
// ADMIN_PASSWORD name another.
const (
	benchAdminEmail    = "bench-admin@example.com"
	benchAdminPassword = "bench-admin-password"
)

// readyTimeout bounds the wait for every service's /readyz.
const readyTimeout = 60 * time.Second

// shop is the running stack the suites load.
type shop struct {
	addrs  stack.Addrs
	store  string // "embedded" or the real servers in use
	admin  struct{ email, password string }
	client *http.Client // for setup calls; the load has its own connections
	cancel context.CancelFunc
	done   chan error
	dir    string // DATA_DIR, removed by stop
}

// startShop runs stack.Run in the background with DATA_DIR in a temporary
// directory and every listener on a free loopback port, waits until every
// service is ready, and returns. MONGODB_URI, REDIS_URL and the rest of the
// environment pass through, so real servers can be measured too.
func startShop(ctx context.Context, getenv func(string) string, logs io.Writer) (*shop, error) {
	dir, err := os.MkdirTemp("", "travluk-bench-")
	if err != nil {
		return nil, err
	}
	sh := &shop{dir: dir, client: &http.Client{Timeout: 30 * time.Second}, done: make(chan error, 1)}
	sh.admin.email, sh.admin.password = benchAdminEmail, benchAdminPassword
	if getenv("ADMIN_EMAIL") != "" && getenv("ADMIN_PASSWORD") != "" {
		sh.admin.email, sh.admin.password = getenv("ADMIN_EMAIL"), getenv("ADMIN_PASSWORD")
	}
	env := map[string]string{
		"DATA_DIR":       dir,
		"ADMIN_EMAIL":    sh.admin.email,
		"ADMIN_PASSWORD": sh.admin.password,
	}
	// Every service's listen address, including those stack.Run does not
	// read yet: a default port taken by a running `make run` must not
	// clash with the benchmark.
	for _, name := range []string{"INGRESS_ADDR", "CUSTOMER_ADDR", "PRODUCT_ADDR", "ORDER_ADDR"} {
		if env[name], err = freeAddr(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	sh.store = "embedded (FerretDB on SQLite, miniredis)"
	if uri, redis := getenv("MONGODB_URI"), getenv("REDIS_URL"); uri != "" || redis != "" {
		sh.store = fmt.Sprintf("MONGODB_URI set: %t, REDIS_URL set: %t (embedded for what is unset)", uri != "", redis != "")
	}
	lookup := func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		return getenv(name)
	}

	runCtx, cancel := context.WithCancel(ctx)
	sh.cancel = cancel
	ready := make(chan stack.Addrs, 1)
	go func() {
		sh.done <- stack.Run(runCtx, lookup, logs, func(a stack.Addrs) { ready <- a })
	}()
	select {
	case sh.addrs = <-ready:
	case err := <-sh.done:
		cancel()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("the shop stopped while starting: %v", err)
	case <-ctx.Done():
		cancel()
		<-sh.done
		os.RemoveAll(dir)
		return nil, ctx.Err()
	}
	if err := sh.waitReady(ctx); err != nil {
		_ = sh.stop()
		return nil, err
	}
	return sh, nil
}

// waitReady polls every service's /readyz until all answer 200.
func (sh *shop) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(readyTimeout)
	for name, addr := range sh.addrs.Services {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
			if err != nil {
				return err
			}
			resp, err := sh.client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s service not ready after %s (last: %v)", name, readyTimeout, statusOrErr(resp, err))
			}
			select {
			case err := <-sh.done:
				sh.done <- err // for stop
				return fmt.Errorf("the shop stopped while starting: %v", err)
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// stop ends the stack, waits for it, and removes its data.
func (sh *shop) stop() error {
	sh.cancel()
	var err error
	select {
	case err = <-sh.done:
	case <-time.After(30 * time.Second):
		err = errors.New("the shop did not stop within 30 s")
	}
	if rmErr := os.RemoveAll(sh.dir); err == nil {
		err = rmErr
	}
	return err
}

// adminToken logs the admin in through the ingress stand-in and returns an
// access token.
func (sh *shop) adminToken(ctx context.Context) (string, error) {
	var pair struct {
		AccessToken string `json:"accessToken"`
	}
	body := map[string]string{"email": sh.admin.email, "password": sh.admin.password}
	if err := sh.callJSON(ctx, http.MethodPost, "http://"+sh.addrs.Ingress+"/api/customers/login", "", body, http.StatusOK, &pair); err != nil {
		return "", fmt.Errorf("admin login: %w", err)
	}
	if pair.AccessToken == "" {
		return "", errors.New("admin login: no access token in the answer")
	}
	return pair.AccessToken, nil
}

// callJSON sends body (if not nil) as JSON with a bearer token (if not
// empty), fails unless the answer has status want, and decodes the answer
// into out (if not nil).
func (sh *shop) callJSON(ctx context.Context, method, url, token string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := sh.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %.300s", method, url, resp.StatusCode, want, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func statusOrErr(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}
