package shoptest

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// HeadAnswersLikeGet sends GET and then HEAD to url, with token when not
// empty: HEAD must get GET's status and headers (Content-Length and ETag
// included; Date and each request's own X-Request-Id aside) and no body, as
// RFC 9110 asks of a server.
func HeadAnswersLikeGet(t testing.TB, url, token string) {
	t.Helper()
	get := Do(t, Request{Method: http.MethodGet, URL: url, Token: token})
	head := Do(t, Request{Method: http.MethodHead, URL: url, Token: token})
	if head.Status != get.Status || len(head.Body) != 0 {
		t.Errorf("HEAD %s = %d with %d body bytes, want GET's %d and none", url, head.Status, len(head.Body), get.Status)
	}
	for _, own := range []string{"Date", "X-Request-Id"} {
		get.Header.Del(own)
		head.Header.Del(own)
	}
	if diff := cmp.Diff(get.Header, head.Header); diff != "" {
		t.Errorf("HEAD %s headers differ from GET's (-get +head):\n%s", url, diff)
	}
}

// MethodNotAllowed sends method to url without a token: the answer must be
// 405 with an Allow header of allow and a method_not_allowed problem, never
// 401, because a route checks the method before authentication.
func MethodNotAllowed(t testing.TB, method, url, allow string) {
	t.Helper()
	r := Do(t, Request{Method: method, URL: url})
	if r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("%s %s: got %s, want 405", method, url, r)
	}
	if a := r.Header.Get("Allow"); a != allow {
		t.Errorf("%s %s: Allow = %q, want %q", method, url, a, allow)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s %s: Content-Type = %q, want application/problem+json", method, url, ct)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || p.Status != http.StatusMethodNotAllowed || p.Code != "method_not_allowed" {
		t.Errorf("%s %s: body = %s, want a 405 method_not_allowed problem", method, url, r.Body)
	}
}
