package shoptest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fatal records how a helper failed a test, without failing this one.
type fatal struct {
	testing.TB
	msg string
}

func (f *fatal) Helper() {}
func (f *fatal) Fatalf(format string, a ...any) {
	f.msg = fmt.Sprintf(format, a...)
	runtime.Goexit()
}

// failure runs helper and returns its failure message, "" if it passed.
func failure(t *testing.T, helper func(testing.TB)) string {
	f := &fatal{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		helper(f)
	}()
	<-done
	return f.msg
}

// request is what the server of a test saw of one call.
type request struct {
	Method, Path, Authorization, ContentType, Body, IfMatch string
}

// shopServer answers every request with status and answer, recording it.
func shopServer(t *testing.T, status int, answer string, seen *[]request) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		*seen = append(*seen, request{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body), r.Header.Get("If-Match")})
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func TestCall(t *testing.T) {
	tests := []struct {
		name                string
		method, token, body string
		status, want        int
		sent                request
		failure             string // "" for none
	}{
		{
			name: "GET, anonymous", method: "GET", status: 200, want: 200,
			sent: request{Method: "GET", Path: "/api/things"},
		},
		{
			name: "POST JSON with a token", method: "POST", token: "tok", body: `{"a":1}`, status: 201, want: 201,
			sent: request{Method: "POST", Path: "/api/things", Authorization: "Bearer tok", ContentType: "application/json", Body: `{"a":1}`},
		},
		{
			name: "another status fails", method: "GET", status: 409, want: 201,
			sent:    request{Method: "GET", Path: "/api/things"},
			failure: "/api/things = 409, want 201: the answer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []request
			url := shopServer(t, tt.status, "the answer", &seen) + "/api/things"
			var got []byte
			msg := failure(t, func(tb testing.TB) { got = Call(tb, tt.method, url, tt.token, tt.body, tt.want) })
			if want := []request{tt.sent}; !slices.Equal(seen, want) {
				t.Errorf("the server saw %+v, want %+v", seen, want)
			}
			if tt.failure == "" {
				if msg != "" || string(got) != "the answer" {
					t.Errorf("Call = %q, failure %q; want the body and no failure", got, msg)
				}
			} else if !strings.Contains(msg, tt.failure) {
				t.Errorf("Call failed with %q, want %q", msg, tt.failure)
			}
		})
	}
	t.Run("no answer fails", func(t *testing.T) {
		s := httptest.NewServer(nil)
		url := s.URL
		s.Close()
		if msg := failure(t, func(tb testing.TB) { Call(tb, "GET", url, "", "", 200) }); !strings.Contains(msg, "refused") {
			t.Errorf("Call to a closed server failed with %q, want connection refused", msg)
		}
	})
}

func TestDo(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		sent request
	}{
		{
			name: "no body",
			req:  Request{Method: "GET"},
			sent: request{Method: "GET", Path: "/api/things"},
		},
		{
			name: "a string as is, with a token",
			req:  Request{Method: "POST", Token: "tok", Body: `{"a":1}`},
			sent: request{Method: "POST", Path: "/api/things", Authorization: "Bearer tok", ContentType: "application/json", Body: `{"a":1}`},
		},
		{
			name: "bytes with their own content type",
			req:  Request{Method: "POST", Body: []byte("a=1"), ContentType: "text/plain"},
			sent: request{Method: "POST", Path: "/api/things", ContentType: "text/plain", Body: "a=1"},
		},
		{
			name: "a value as JSON, with a header",
			req:  Request{Method: "PUT", Body: map[string]int{"a": 1}, Header: map[string]string{"If-Match": `"v1"`}},
			sent: request{Method: "PUT", Path: "/api/things", ContentType: "application/json", Body: `{"a":1}`, IfMatch: `"v1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []request
			tt.req.URL = shopServer(t, http.StatusConflict, "the answer", &seen) + "/api/things"
			var got Response
			if msg := failure(t, func(tb testing.TB) { got = Do(tb, tt.req) }); msg != "" {
				t.Fatalf("Do failed: %s", msg)
			}
			if want := []request{tt.sent}; !slices.Equal(seen, want) {
				t.Errorf("the server saw %+v, want %+v", seen, want)
			}
			// Any status is an answer: the caller judges it.
			if got.Status != http.StatusConflict || string(got.Body) != "the answer" || got.Took <= 0 {
				t.Errorf("Do = %d %q (took %v), want 409 \"the answer\" and a duration", got.Status, got.Body, got.Took)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		answer  string
		token   string
		failure string
	}{
		{name: "a token", status: 200, answer: `{"accessToken":"tok","refreshToken":"r"}`, token: "tok"},
		{name: "wrong password", status: 401, answer: `{"code":"unauthorized"}`, failure: "= 401, want 200"},
		{name: "no token", status: 200, answer: `{"refreshToken":"r"}`, failure: "login ada@example.com: the answer holds no accessToken"},
		{name: "not JSON", status: 200, answer: `<html>`, failure: "decode <html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []request
			base := shopServer(t, tt.status, tt.answer, &seen)
			var got string
			msg := failure(t, func(tb testing.TB) { got = Login(tb, base, "ada@example.com", "correct horse") })
			want := []request{{Method: "POST", Path: "/api/customers/login", ContentType: "application/json", Body: `{"email":"ada@example.com","password":"correct horse"}`}}
			if !slices.Equal(seen, want) {
				t.Errorf("the server saw %+v, want %+v", seen, want)
			}
			if got != tt.token || !strings.Contains(msg, tt.failure) || (tt.failure == "") != (msg == "") {
				t.Errorf("Login = %q, failure %q; want %q, failure %q", got, msg, tt.token, tt.failure)
			}
		})
	}
}
