package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/dev/testenv"
	"github.com/travluk/ecom/services/order/internal/order"
)

func TestGetOrder(t *testing.T) {
	e := newEnv(t, envOptions{})
	o := e.order("ada")
	r := e.do(req{method: "GET", path: "/api/orders/" + o.ID, token: e.ada})
	if r.status != http.StatusOK {
		t.Fatalf("owner: %s", r)
	}
	got := decodeInto[apiOrder](t, r)
	if got.CustomerID != "ada" || got.Status != "confirmed" || got.Currency != "EUR" || got.Quantity != 5 ||
		got.TotalAmount.String() != "40.28" || got.ShippingAddress != "1 Loop St" || got.Notes != "" ||
		len(got.Items) != 2 || got.Items[0].UnitPrice.String() != "19.99" || got.Items[0].LineTotal.String() != "39.98" ||
		got.Items[1].UnitPrice.String() != "0.10" || got.Items[1].LineTotal.String() != "0.30" ||
		len(got.StatusHistory) != 1 || got.StatusHistory[0].Status != "confirmed" || got.CreatedAt.IsZero() {
		t.Errorf("order = %s", r.body)
	}
	for _, hidden := range []string{"outbox", "totalCents", "Cents"} {
		if strings.Contains(string(r.body), hidden) {
			t.Errorf("response shows %q: %s", hidden, r.body)
		}
	}
	if diff := cmp.Diff(got, e.get(e.admin, o.ID)); diff != "" {
		t.Errorf("admin sees another order (-owner +admin):\n%s", diff)
	}

	st := e.do(req{method: "GET", path: "/api/orders/status/" + o.ID, token: e.ada})
	if st.status != http.StatusOK {
		t.Fatalf("status: %s", st)
	}
	var status struct {
		OrderID       string       `json:"orderId"`
		Status        string       `json:"status"`
		StatusHistory []apiHistory `json:"statusHistory"`
	}
	if err := json.Unmarshal(st.body, &status); err != nil || status.OrderID != o.ID || status.Status != "confirmed" ||
		len(status.StatusHistory) != 1 || strings.Contains(string(st.body), `"note"`) {
		t.Errorf("status = %s", st.body)
	}

	// Another customer's order is exactly as absent as an unknown one.
	for _, path := range []string{"/api/orders/", "/api/orders/status/"} {
		notFound := e.do(req{method: "GET", path: path + "65f0c0ffee0000000000abcd", token: e.bob})
		for _, id := range []string{o.ID, "65f0c0ffee0000000000abcd", "not-an-id", url.PathEscape(strings.Repeat("a", 300))} {
			r := e.do(req{method: "GET", path: path + id, token: e.bob})
			if r.status != http.StatusNotFound || decodeInto[apiProblem](t, r).Code != "not_found" || string(r.body) != string(notFound.body) {
				t.Errorf("bob GET %s%s: %s", path, id, r)
			}
		}
		if r := e.do(req{method: "GET", path: path + o.ID}); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %s", path, r)
		}
		if r := e.do(req{method: "GET", path: path + o.ID, token: "garbage"}); r.status != http.StatusUnauthorized {
			t.Errorf("bad token GET %s: %s", path, r)
		}
	}
	if r := e.do(req{method: "DELETE", path: "/api/orders/" + o.ID, token: e.admin}); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %s", r)
	}
}

func TestListOrders(t *testing.T) {
	e := newEnv(t, envOptions{})
	var adas, bobs []string
	for i := range 7 {
		if i%3 == 2 {
			bobs = append(bobs, e.order("bob", order.Cancelled).ID)
		} else {
			adas = append(adas, e.order("ada").ID)
		}
	}
	newestFirst := func(ids []string) []string {
		out := slices.Clone(ids)
		slices.Reverse(out)
		return out
	}
	list := func(token, query string) []string {
		t.Helper()
		var ids []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("paging does not end")
			}
			r := e.do(req{method: "GET", path: "/api/orders?limit=2&" + query + "&cursor=" + cursor, token: token})
			if r.status != http.StatusOK {
				t.Fatalf("list ?%s: %s", query, r)
			}
			page := decodeInto[apiPage](t, r)
			for _, o := range page.Items {
				ids = append(ids, o.ID)
			}
			if page.NextCursor == "" {
				return ids
			}
			cursor = page.NextCursor
		}
	}
	all := append(slices.Clone(adas), bobs...)
	slices.Sort(all) // ids grow with creation here
	tests := []struct {
		name, token, query string
		want               []string
	}{
		{"admin sees all", e.admin, "", newestFirst(all)},
		{"admin filters by customer", e.admin, "customerId=bob", newestFirst(bobs)},
		{"admin filters by status", e.admin, "status=cancelled", newestFirst(bobs)},
		{"admin filters by both", e.admin, "status=confirmed&customerId=bob", nil},
		{"customer sees their own", e.ada, "", newestFirst(adas)},
		{"customer filters their own", e.bob, "status=cancelled&customerId=bob", newestFirst(bobs)},
		{"customer without orders", e.iss2(t, "carol"), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(tt.token, tt.query)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	r := e.do(req{method: "GET", path: "/api/orders?limit=100", token: e.ada})
	if page := decodeInto[apiPage](t, r); page.NextCursor != "" || len(page.Items) != len(adas) || page.Items[0].CustomerID != "ada" {
		t.Errorf("one page: %s", r)
	}
	if r := e.do(req{method: "GET", path: "/api/orders?customerId=ada", token: e.bob}); r.status != http.StatusForbidden || decodeInto[apiProblem](t, r).Code != "forbidden" {
		t.Errorf("bob listing ada's orders: %s", r)
	}
	bad := []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"limit=x", "limit"},
		{"status=lost", "status"}, {"cursor=%21%21", "cursor"}, {"cursor=MTpub3RoZXg", "cursor"},
	}
	for _, b := range bad {
		r := e.do(req{method: "GET", path: "/api/orders?" + b.query, token: e.admin})
		if r.status != http.StatusUnprocessableEntity || !slices.Contains(fields(decodeInto[apiProblem](t, r)), b.field) {
			t.Errorf("?%s: %s", b.query, r)
		}
	}
	if r := e.do(req{method: "GET", path: "/api/orders"}); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous list: %s", r)
	}
}

// iss2 returns a customer token for sub.
func (e *env) iss2(t *testing.T, sub string) string {
	tok, _ := e.iss.Token(t, sub, "customer")
	return tok
}

// TestChangeStatus walks the state machine over HTTP with every actor.
func TestChangeStatus(t *testing.T) {
	e := newEnv(t, envOptions{})
	put := func(token, id, body string) response {
		return e.do(req{method: "PUT", path: "/api/orders/status/" + id, token: token, body: body})
	}
	t.Run("admin moves an order to delivery", func(t *testing.T) {
		o := e.order("ada")
		for _, s := range []string{"processing", "shipped", "delivered"} {
			r := put(e.admin, o.ID, fmt.Sprintf(`{"status":%q,"note":"step %s"}`, s, s))
			if r.status != http.StatusOK || decodeInto[apiOrder](t, r).Status != s {
				t.Fatalf("to %s: %s", s, r)
			}
		}
		got := e.get(e.ada, o.ID)
		var steps []string
		for _, h := range got.StatusHistory {
			steps = append(steps, h.Status+":"+h.Note)
			if h.Timestamp.IsZero() || h.Timestamp.Location().String() != "UTC" {
				t.Errorf("timestamp %v", h.Timestamp)
			}
		}
		want := []string{"confirmed:", "processing:step processing", "shipped:step shipped", "delivered:step delivered"}
		if diff := cmp.Diff(want, steps); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}
	})
	t.Run("illegal moves are 409 and change nothing", func(t *testing.T) {
		for _, tt := range []struct {
			path []order.Status
			to   string
		}{
			{nil, "shipped"}, {nil, "delivered"}, {nil, "confirmed"},
			{[]order.Status{order.Processing, order.Shipped}, "cancelled"},
			{[]order.Status{order.Processing, order.Shipped, order.Delivered}, "processing"},
			{[]order.Status{order.Cancelled}, "processing"},
		} {
			o := e.order("ada", tt.path...)
			r := put(e.admin, o.ID, fmt.Sprintf(`{"status":%q}`, tt.to))
			if r.status != http.StatusConflict || decodeInto[apiProblem](t, r).Code != "illegal_transition" {
				t.Errorf("%s to %s: %s", o.Status, tt.to, r)
			}
			if diff := cmp.Diff(o, e.get(e.admin, o.ID)); diff != "" {
				t.Errorf("refused move changed the order:\n%s", diff)
			}
		}
	})
	t.Run("owner cancels before shipping", func(t *testing.T) {
		for _, path := range [][]order.Status{nil, {order.Processing}} {
			o := e.order("ada", path...)
			r := put(e.ada, o.ID, `{"status":"cancelled","note":"found it cheaper"}`)
			got := decodeInto[apiOrder](t, r)
			if r.status != http.StatusOK || got.Status != "cancelled" || got.StatusHistory[len(got.StatusHistory)-1].Note != "found it cheaper" {
				t.Errorf("cancel from %s: %s", o.Status, r)
			}
		}
	})
	t.Run("owner cannot cancel after shipping", func(t *testing.T) {
		o := e.order("ada", order.Processing, order.Shipped)
		if r := put(e.ada, o.ID, `{"status":"cancelled"}`); r.status != http.StatusConflict {
			t.Errorf("cancel after shipping: %s", r)
		}
		if got := e.get(e.ada, o.ID); got.Status != "shipped" {
			t.Errorf("status = %s", got.Status)
		}
	})
	t.Run("owner may not move forward", func(t *testing.T) {
		o := e.order("ada")
		for _, s := range []string{"processing", "shipped", "delivered", "confirmed"} {
			r := put(e.ada, o.ID, fmt.Sprintf(`{"status":%q}`, s))
			if r.status != http.StatusForbidden || decodeInto[apiProblem](t, r).Code != "forbidden" {
				t.Errorf("owner to %s: %s", s, r)
			}
		}
		if diff := cmp.Diff(o, e.get(e.ada, o.ID)); diff != "" {
			t.Errorf("refused moves changed the order:\n%s", diff)
		}
	})
	t.Run("another customer's order is 404", func(t *testing.T) {
		o := e.order("ada")
		for _, s := range []string{"cancelled", "processing"} {
			if r := put(e.bob, o.ID, fmt.Sprintf(`{"status":%q}`, s)); r.status != http.StatusNotFound {
				t.Errorf("bob to %s: %s", s, r)
			}
		}
		for _, id := range []string{"65f0c0ffee0000000000abcd", "x"} {
			if r := put(e.admin, id, `{"status":"processing"}`); r.status != http.StatusNotFound {
				t.Errorf("admin, unknown %s: %s", id, r)
			}
		}
		if got := e.get(e.ada, o.ID); got.Status != "confirmed" {
			t.Errorf("status = %s", got.Status)
		}
	})
	t.Run("bad input changes nothing", func(t *testing.T) {
		o := e.order("ada")
		tests := []struct {
			name        string
			body        string
			contentType string
			status      int
			field       string
		}{
			{"malformed JSON", `{"status":`, "", http.StatusBadRequest, ""},
			{"array", `["cancelled"]`, "", http.StatusBadRequest, ""},
			{"two objects", `{"status":"processing"}{}`, "", http.StatusBadRequest, ""},
			{"not JSON", `status=processing`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, ""},
			{"too large", `{"status":"processing","note":"` + strings.Repeat("x", 1<<20) + `"}`, "", http.StatusRequestEntityTooLarge, ""},
			{"no status", `{"note":"x"}`, "", http.StatusUnprocessableEntity, "status"},
			{"null status", `{"status":null}`, "", http.StatusUnprocessableEntity, "status"},
			{"status a number", `{"status":2}`, "", http.StatusUnprocessableEntity, "status"},
			{"unknown status", `{"status":"lost"}`, "", http.StatusUnprocessableEntity, "status"},
			{"note not a string", `{"status":"processing","note":5}`, "", http.StatusUnprocessableEntity, "note"},
			{"note too long", `{"status":"processing","note":"` + strings.Repeat("x", 501) + `"}`, "", http.StatusUnprocessableEntity, "note"},
			{"unknown field", `{"status":"processing","customerId":"bob"}`, "", http.StatusUnprocessableEntity, "customerId"},
		}
		for _, tt := range tests {
			r := e.do(req{method: "PUT", path: "/api/orders/status/" + o.ID, token: e.admin, body: tt.body, contentType: tt.contentType})
			if r.status != tt.status {
				t.Errorf("%s: %s", tt.name, r)
				continue
			}
			if tt.field != "" && !slices.Contains(fields(decodeInto[apiProblem](t, r)), tt.field) {
				t.Errorf("%s: field not named: %s", tt.name, r)
			}
		}
		if diff := cmp.Diff(o, e.get(e.admin, o.ID)); diff != "" {
			t.Errorf("bad input changed the order:\n%s", diff)
		}
		if r := put("", o.ID, `{"status":"cancelled"}`); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous: %s", r)
		}
	})
}

// TestConcurrentStatusChanges races an admin shipping and the owner
// cancelling the same order, many times: exactly one wins each race, the
// loser gets 409, and a cancellation is recorded only when it won.
func TestConcurrentStatusChanges(t *testing.T) {
	e := newEnv(t, envOptions{})
	wins := map[string]int{}
	for range 10 {
		o := e.order("ada", order.Processing)
		var (
			wg       sync.WaitGroup
			statuses [2]int
		)
		for i, call := range []struct{ token, body string }{
			{e.admin, `{"status":"shipped"}`},
			{e.ada, `{"status":"cancelled"}`},
		} {
			wg.Go(func() {
				statuses[i] = e.do(req{method: "PUT", path: "/api/orders/status/" + o.ID, token: call.token, body: call.body}).status
			})
		}
		wg.Wait()
		got := e.get(e.admin, o.ID)
		ok := 0
		for _, s := range statuses {
			switch s {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 || len(got.StatusHistory) != 3 {
			t.Fatalf("answers %v; order %s with history %+v", statuses, got.Status, got.StatusHistory)
		}
		winner := map[bool]string{true: "shipped", false: "cancelled"}[statuses[0] == http.StatusOK]
		if got.Status != winner {
			t.Errorf("the %s request won but the order is %s", winner, got.Status)
		}
		wins[winner]++
	}
	t.Logf("wins: %v", wins)
}

func TestUpdateOrder(t *testing.T) {
	e := newEnv(t, envOptions{})
	put := func(token, id, body string) response {
		return e.do(req{method: "PUT", path: "/api/orders/" + id, token: token, body: body})
	}
	o := e.order("ada")
	r := put(e.ada, o.ID, `{"shippingAddress":"  2 Side St ","notes":"ring twice"}`)
	got := decodeInto[apiOrder](t, r)
	if r.status != http.StatusOK || got.ShippingAddress != "2 Side St" || got.Notes != "ring twice" || got.UpdatedAt.Before(o.UpdatedAt) {
		t.Fatalf("owner update: %s", r)
	}
	r = put(e.admin, o.ID, `{"notes":""}`)
	got = decodeInto[apiOrder](t, r)
	if r.status != http.StatusOK || got.Notes != "" || got.ShippingAddress != "2 Side St" || got.Status != "confirmed" || got.TotalAmount.String() != o.TotalAmount.String() {
		t.Errorf("admin clears notes: %s", r)
	}
	if r := put(e.ada, o.ID, `{}`); r.status != http.StatusOK {
		t.Errorf("empty update: %s", r)
	}
	before := e.get(e.admin, o.ID)
	tests := []struct {
		name        string
		token       string
		body        string
		contentType string
		status      int
		field       string
	}{
		{"another customer", e.bob, `{"notes":"mine now"}`, "", http.StatusNotFound, ""},
		{"status is not writable", e.ada, `{"status":"delivered"}`, "", http.StatusUnprocessableEntity, "status"},
		{"items are not writable", e.admin, `{"items":[]}`, "", http.StatusUnprocessableEntity, "items"},
		{"totalAmount is not writable", e.ada, `{"notes":"x","totalAmount":0.01}`, "", http.StatusUnprocessableEntity, "totalAmount"},
		{"null address", e.ada, `{"shippingAddress":null}`, "", http.StatusUnprocessableEntity, "shippingAddress"},
		{"blank address", e.ada, `{"shippingAddress":"   "}`, "", http.StatusUnprocessableEntity, "shippingAddress"},
		{"address too long", e.ada, `{"shippingAddress":"` + strings.Repeat("a", 501) + `"}`, "", http.StatusUnprocessableEntity, "shippingAddress"},
		{"notes not a string", e.ada, `{"notes":["x"]}`, "", http.StatusUnprocessableEntity, "notes"},
		{"notes too long", e.ada, `{"notes":"` + strings.Repeat("n", 2001) + `"}`, "", http.StatusUnprocessableEntity, "notes"},
		{"malformed", e.ada, `{"notes":`, "", http.StatusBadRequest, ""},
		{"not JSON", e.ada, `notes=x`, "text/plain", http.StatusUnsupportedMediaType, ""},
		{"too large", e.ada, `{"notes":"` + strings.Repeat("x", 1<<20) + `"}`, "", http.StatusRequestEntityTooLarge, ""},
		{"anonymous", "", `{"notes":"x"}`, "", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		r := e.do(req{method: "PUT", path: "/api/orders/" + o.ID, token: tt.token, body: tt.body, contentType: tt.contentType})
		if r.status != tt.status {
			t.Errorf("%s: %s", tt.name, r)
			continue
		}
		if tt.field != "" && !slices.Contains(fields(decodeInto[apiProblem](t, r)), tt.field) {
			t.Errorf("%s: field not named: %s", tt.name, r)
		}
	}
	if diff := cmp.Diff(before, e.get(e.admin, o.ID)); diff != "" {
		t.Errorf("refused updates changed the order:\n%s", diff)
	}
	if r := put(e.admin, "65f0c0ffee0000000000abcd", `{"notes":"x"}`); r.status != http.StatusNotFound {
		t.Errorf("unknown order: %s", r)
	}

	for _, path := range [][]order.Status{{order.Processing, order.Shipped}, {order.Processing, order.Shipped, order.Delivered}, {order.Cancelled}} {
		closed := e.order("ada", path...)
		for _, token := range []string{e.ada, e.admin} {
			r := put(token, closed.ID, `{"shippingAddress":"too late"}`)
			if r.status != http.StatusConflict || decodeInto[apiProblem](t, r).Code != "order_closed" {
				t.Errorf("update when %s: %s", closed.Status, r)
			}
		}
		if got := e.get(e.ada, closed.ID); got.ShippingAddress != "1 Loop St" {
			t.Errorf("address changed when %s: %q", closed.Status, got.ShippingAddress)
		}
	}
}

// TestSessionsUnavailable: with the session store away, every route that
// needs a token answers 503 with Retry-After rather than trust the token.
func TestSessionsUnavailable(t *testing.T) {
	u, _ := url.Parse(testenv.Redis(t))
	proxy := testenv.NewTCPProxy(t, u.Host)
	e := newEnv(t, envOptions{sessionsAddr: proxy.Addr()})
	o := e.order("ada")
	proxy.Cut()
	for _, r := range []req{
		{method: "GET", path: "/api/orders"},
		{method: "GET", path: "/api/orders/" + o.ID},
		{method: "GET", path: "/api/orders/status/" + o.ID},
		{method: "PUT", path: "/api/orders/status/" + o.ID, body: `{"status":"cancelled"}`},
		{method: "PUT", path: "/api/orders/" + o.ID, body: `{"notes":"x"}`},
	} {
		r.token = e.ada
		resp := e.do(r)
		if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with Redis away: %s", r.method, r.path, resp)
		}
	}
	proxy.Restore()
	if got := e.get(e.ada, o.ID); got.Status != "confirmed" || got.Notes != "" {
		t.Errorf("order changed during the outage: %+v", got)
	}
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do(req{method: "GET", path: "/api/orders/openapi.json"})
	var doc map[string]any
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || json.Unmarshal(r.body, &doc) != nil || doc["openapi"] != "3.1.0" {
		t.Errorf("openapi.json: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if missing := coverage.MissingRoutes(); len(missing) != 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if extra := coverage.UndocumentedOperations(); len(extra) != 0 {
		t.Errorf("operations in openapi.json that no route serves: %v", extra)
	}
}
