// Package shoptest drives a running shop from a test, as its clients do: JSON
// calls through the ingress, logins, and RabbitMQ exchanges and queues that no
// other test's shop shares. The shop is dev/stack.Run in-process or the
// travluk binary; what it needs of the machine comes from package testenv.
package shoptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// callTimeout bounds each call, so that a shop that hangs fails the test with
// the call that hung rather than the test binary's timeout.
const callTimeout = 15 * time.Second

// Request is one HTTP request of a test.
type Request struct {
	Method, URL string
	// Token, when not empty, goes in Authorization as a bearer token.
	Token string
	// Body is sent as is when it is a string or []byte (even an empty one),
	// JSON-encoded otherwise; nil sends none.
	Body any
	// ContentType is the body's; application/json when empty.
	ContentType string
	// Header holds further request headers.
	Header map[string]string
}

// Response is what a Request got back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Took is from sending the request to the end of the answer.
	Took time.Duration
}

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// Do sends r and reads the whole answer, whatever its status. It fails t
// when r cannot be sent, or the answer does not come within 15 s.
func Do(t testing.TB, r Request) Response {
	t.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("%s %s: encode the body: %v", r.Method, r.URL, err)
		}
		body = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	if body != nil {
		ct := r.ContentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	began := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", r.Method, r.URL, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data, Took: time.Since(began)}
}

// Call sends a request to url, with body as JSON unless it is empty and token
// as a bearer token unless it is empty, and returns the body of the answer.
// It fails t unless the answer comes within 15 s with status want.
func Call(t testing.TB, method, url, token, body string, want int) []byte {
	t.Helper()
	r := Request{Method: method, URL: url, Token: token}
	if body != "" {
		r.Body = body
	}
	got := Do(t, r)
	if got.Status != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, url, got.Status, want, got.Body)
	}
	return got.Body
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
