package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/travluk/ecom/dev/shoptest"
	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/auth/authtest"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
	"github.com/travluk/ecom/services/platform/messaging/messagingtest"
	"github.com/travluk/ecom/services/platform/redisconn"
)

// deadLetterQueue and deadLetterBase are the queue this service consumes
// and where its dead letters are served.
const (
	deadLetterQueue = "product"
	deadLetterBase  = "/api/products/dead-letters"
)

// deadLetterServer serves the API with dl as the queue's dead letters and
// returns its URL and an admin's and a customer's token.
func deadLetterServer(t *testing.T, dl messaging.DeadLetters) (url, admin, customer string) {
	t.Helper()
	redisURL := testenv.Redis(t)
	rdb, err := redisconn.Connect(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	iss := authtest.NewIssuer(t, redisURL)
	v := auth.NewVerifier(auth.VerifierOptions{Issuer: authtest.IssuerName, Audience: authtest.Audience,
		Keys: iss.Keys(), Sessions: auth.NewRedisSessions(rdb, 0)})
	srv := httptest.NewServer(serve(t, NewHandler(nil, v, nil, WithDeadLetters(deadletterapi.New(dl, deadLetterQueue, nil)))))
	t.Cleanup(srv.Close)
	admin, _ = iss.Token(t, "admin-1", auth.RoleAdmin)
	customer, _ = iss.Token(t, "ada", auth.RoleCustomer)
	return srv.URL + deadLetterBase, admin, customer
}

type apiDeadLetter struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Queue      string           `json:"queue"`
	Reason     string           `json:"reason"`
	Error      *string          `json:"error"`
	Deliveries *int             `json:"deliveries"`
	Event      *messaging.Event `json:"event"`
}

// TestDeadLetterRoutes is an admin's repair over HTTP, on an in-process
// bus: two events the handler rejects are listed and shown, the handler is
// fixed, one is replayed (202) and is gone (a second replay 404), the
// other stays; non-admins get 401/403, bad input 422, unknown ids 404.
func TestDeadLetterRoutes(t *testing.T) {
	bus := messaging.NewMemoryBus(messaging.MemoryOptions{})
	var fixed atomic.Bool
	handled := messagingtest.NewRecorder(func(e messaging.Event, _ int) error {
		if !fixed.Load() {
			return messaging.Permanent(errors.New("no handler for this yet"))
		}
		return nil
	})
	messagingtest.Consume(t, bus, messaging.Subscription{Queue: deadLetterQueue, Types: []string{"thing.happened"}, Handler: handled.Handle})
	first := messagingtest.Publish(t, bus, "thing.happened", "first")
	second := messagingtest.Publish(t, bus, "thing.happened", "second")
	url, admin, customer := deadLetterServer(t, bus)
	call := func(method, path, token string) shoptest.Response {
		t.Helper()
		return shoptest.Do(t, shoptest.Request{Method: method, URL: url + path, Token: token})
	}

	refused := []struct {
		name, method, path, token string
		status                    int
		code                      string
	}{
		{"list without a token", "GET", "", "", http.StatusUnauthorized, ""},
		{"list as a customer", "GET", "", customer, http.StatusForbidden, ""},
		{"limit 0", "GET", "?limit=0", admin, http.StatusUnprocessableEntity, "validation_failed"},
		{"limit 101", "GET", "?limit=101", admin, http.StatusUnprocessableEntity, "validation_failed"},
		{"limit not a number", "GET", "?limit=x", admin, http.StatusUnprocessableEntity, "validation_failed"},
		{"get without a token", "GET", "/" + first.ID, "", http.StatusUnauthorized, ""},
		{"get as a customer", "GET", "/" + first.ID, customer, http.StatusForbidden, ""},
		{"get unknown", "GET", "/no-such-event", admin, http.StatusNotFound, "dead_letter_not_found"},
		{"replay without a token", "POST", "/" + first.ID + "/replay", "", http.StatusUnauthorized, ""},
		{"replay as a customer", "POST", "/" + first.ID + "/replay", customer, http.StatusForbidden, ""},
		{"replay unknown", "POST", "/no-such-event/replay", admin, http.StatusNotFound, "dead_letter_not_found"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := call(tt.method, tt.path, tt.token)
			if r.Status != tt.status || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %s = %s (%s), want a %d problem", tt.method, tt.path, r, r.Header.Get("Content-Type"), tt.status)
			}
			var p apiProblem
			shoptest.Decode(t, r.Body, &p)
			if tt.code != "" && p.Code != tt.code {
				t.Errorf("code = %q, want %q", p.Code, tt.code)
			}
		})
	}
	if len(handled.Handled()) != 0 {
		t.Fatal("a refused request had an event handled")
	}

	var page struct {
		Items []apiDeadLetter `json:"items"`
		Total int             `json:"total"`
	}
	shoptest.Decode(t, call("GET", "", admin).Body, &page)
	if page.Total != 2 || len(page.Items) != 2 || page.Items[0].ID != first.ID || page.Items[1].ID != second.ID {
		t.Fatalf("list = %+v, want %s and %s of 2", page, first.ID, second.ID)
	}
	if d := page.Items[0]; d.Type != "thing.happened" || d.Queue != deadLetterQueue || d.Reason != "rejected" ||
		d.Error == nil || *d.Error != "no handler for this yet" || d.Deliveries == nil || *d.Deliveries != 1 || d.Event != nil {
		t.Errorf("listed dead letter = %+v", d)
	}
	shoptest.Decode(t, call("GET", "?limit=1", admin).Body, &page)
	if page.Total != 2 || len(page.Items) != 1 || page.Items[0].ID != first.ID {
		t.Errorf("list of 1 = %+v, want %s of 2", page, first.ID)
	}
	var one apiDeadLetter
	shoptest.Decode(t, shoptest.Call(t, "GET", url+"/"+second.ID, admin, "", http.StatusOK), &one)
	if one.ID != second.ID || one.Event == nil || one.Event.ID != second.ID || string(one.Event.Data) != `"second"` || one.Event.Source != second.Source {
		t.Errorf("dead letter = %+v, want the whole event %s", one, second.ID)
	}

	fixed.Store(true)
	var replayed apiDeadLetter
	shoptest.Decode(t, shoptest.Call(t, "POST", url+"/"+first.ID+"/replay", admin, "", http.StatusAccepted), &replayed)
	if replayed.ID != first.ID || replayed.Type != "thing.happened" {
		t.Errorf("replay answered %+v, want %s", replayed, first.ID)
	}
	if got := handled.Handled(); len(got) != 1 || got[0].ID != first.ID {
		t.Errorf("handled after the replay: %d events, want %s once", len(got), first.ID)
	}
	shoptest.Call(t, "POST", url+"/"+first.ID+"/replay", admin, "", http.StatusNotFound)
	shoptest.Call(t, "GET", url+"/"+first.ID, admin, "", http.StatusNotFound)
	shoptest.Decode(t, call("GET", "", admin).Body, &page)
	if page.Total != 1 || len(page.Items) != 1 || page.Items[0].ID != second.ID {
		t.Errorf("list after the replay = %+v, want only %s", page, second.ID)
	}
	if got := len(handled.Handled()); got != 1 {
		t.Errorf("handled %d events in all, want 1", got)
	}

	for _, path := range []string{"", "/" + second.ID} {
		shoptest.HeadAnswersLikeGet(t, url+path, admin)
	}
	for _, tt := range []struct{ method, path, allow string }{
		{"POST", "", "GET, HEAD"},
		{"DELETE", "/" + second.ID, "GET, HEAD"},
		{"GET", "/" + second.ID + "/replay", "POST"},
	} {
		shoptest.MethodNotAllowed(t, tt.method, url+tt.path, tt.allow)
	}
}

// unreachable is a broker that cannot be reached.
type unreachable struct{}

var errUnreachable = errors.New("connection refused")

func (unreachable) ListDeadLetters(context.Context, string, int) (messaging.DeadLetterList, error) {
	return messaging.DeadLetterList{}, errUnreachable
}
func (unreachable) DeadLetter(context.Context, string, string) (messaging.DeadLetter, error) {
	return messaging.DeadLetter{}, errUnreachable
}
func (unreachable) ReplayDeadLetter(context.Context, string, string) (messaging.DeadLetter, error) {
	return messaging.DeadLetter{}, errUnreachable
}

// TestDeadLettersBrokerUnreachable: every route answers 503 with
// Retry-After and without the cause.
func TestDeadLettersBrokerUnreachable(t *testing.T) {
	url, admin, _ := deadLetterServer(t, unreachable{})
	for _, tt := range []struct{ method, path string }{
		{"GET", ""}, {"GET", "/e-1"}, {"POST", "/e-1/replay"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := shoptest.Do(t, shoptest.Request{Method: tt.method, URL: url + tt.path, Token: admin})
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" || string(r.Body) == "" {
				t.Fatalf("%s %s = %s, want 503 with Retry-After", tt.method, tt.path, r)
			}
			if strings.Contains(string(r.Body), errUnreachable.Error()) {
				t.Errorf("503 carries the cause: %s", r.Body)
			}
		})
	}
}
