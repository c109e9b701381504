// Package shoptest drives a running shop from a test, as its clients do: JSON
// calls through the ingress, logins, and RabbitMQ exchanges and queues that no
// other test's shop shares. The shop is dev/stack.Run in-process or the
// travluk binary; what it needs of the machine comes from package testenv.
package shoptest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// callTimeout bounds each call, so that a shop that hangs fails the test with
// the call that hung rather than the test binary's timeout.
const callTimeout = 15 * time.Second

// Call sends a request to url, with body as JSON unless it is empty and token
// as a bearer token unless it is empty, and returns the body of the answer.
// It fails t unless the answer comes within 15 s with status want.
func Call(t testing.TB, method, url, token, body string, want int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
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
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, url, resp.StatusCode, want, got)
	}
	return got
}

// Decode unmarshals the JSON body into v, failing t if it cannot.
func Decode(t testing.TB, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// Login logs a customer in through the customer API under baseURL (such as
// "http://127.0.0.1:8080") and returns the access token. It fails t unless
// the login succeeds.
func Login(t testing.TB, baseURL, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password}) // strings always marshal
	var pair struct {
		AccessToken string `json:"accessToken"`
	}
	Decode(t, Call(t, http.MethodPost, baseURL+"/api/customers/login", "", string(body), http.StatusOK), &pair)
	if pair.AccessToken == "" {
		t.Fatalf("login %s: the answer holds no accessToken", email)
	}
	return pair.AccessToken
}
