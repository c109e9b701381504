package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestBuyFieldErrorsAtOnce: one 422 lists every fault of a buy body, its
// shape and its values together, in either form.
func TestBuyFieldErrorsAtOnce(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirm: true})
	p := b.create("Lamp", "10.00", 10)
	tests := []struct {
		name, key, body string
		want            []string
	}{
		{"a bad Idempotency-Key with the body's faults", "bad\tkey", `{"items":[],"extra":1}`,
			[]string{"Idempotency-Key: must be one header of 1 to 255 printable ASCII characters",
				"extra: unknown field", "items: must have 1 to 50 lines"}},
		{"shape and values", "", fmt.Sprintf(`{"items":[{"productId":%q,"quantity":"2"},{"productId":"","quantity":0,"price":1}],"shippingAddress":"  "}`, p.ID),
			[]string{"items[0].quantity: must be an integer", "items[1].price: unknown field",
				"items[1].productId: is required", "items[1].quantity: must be a whole number from 1 to 1000",
				"shippingAddress: must be 1 to 500 characters"}},
		{"control characters", "", fmt.Sprintf(`{"items":[{"productId":"%s\u0000","quantity":1}],"shippingAddress":"1 Main St\u0000"}`, p.ID),
			[]string{"items[0].productId: " + noControl, "shippingAddress: " + noControlMultiline}},
		{"ids form", "", fmt.Sprintf(`{"ids":[%q,%q],"quantity":0,"shippingAddress":7}`, p.ID, p.ID),
			[]string{"shippingAddress: must be a string", "quantity: must be a whole number from 1 to 1000",
				"ids[1]: appears more than once (also items[0])"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header map[string]string
			if tt.key != "" {
				header = map[string]string{"Idempotency-Key": tt.key}
			}
			r := b.buy(b.customer, tt.body, header)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s", r)
			}
			if got := problemFields(decodeInto[apiProblem](t, r)); !cmp.Equal(got, tt.want) {
				t.Errorf("fields (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
	if got := b.units(p.ID); got != [3]int64{10, 0, 0} {
		t.Errorf("refused buys reserved: %v", got)
	}
}

// TestBuyShippingAddress: the address of a buy is trimmed, answered in
// the order and carried by order.requested; a buy without one leaves it
// out of the event; the same Idempotency-Key with another address is
// another body.
func TestBuyShippingAddress(t *testing.T) {
	b := newBuyEnv(t, buyOptions{confirmWait: 50 * time.Millisecond})
	p := b.create("Tent", "199.00", 10)
	items := fmt.Sprintf(`"items":[{"productId":%q,"quantity":1}]`, p.ID)
	const addr = "Ada Lovelace\r\n12 St James's Square\r\nLondon"

	requested := func(t *testing.T, orderID string) map[string]any {
		t.Helper()
		pending, err := b.purchases.PendingOf(context.Background(), orderID)
		if err != nil || len(pending) != 1 || pending[0].Event.Type != "order.requested" {
			t.Fatalf("outbox of %s: %+v, %v", orderID, pending, err)
		}
		var data map[string]any
		if err := json.Unmarshal(pending[0].Event.Data, &data); err != nil {
			t.Fatal(err)
		}
		return data
	}

	key := map[string]string{"Idempotency-Key": "ship-" + p.ID}
	r := b.buy(b.customer, `{`+items+`,"shippingAddress":"  `+strings.ReplaceAll(addr, "\r\n", `\r\n`)+`  "}`, key)
	if r.status != http.StatusAccepted {
		t.Fatalf("buy: %s", r)
	}
	orderID := decodeInto[struct{ OrderID string }](t, r).OrderID
	if got := requested(t, orderID)["shippingAddress"]; got != addr {
		t.Errorf("order.requested shippingAddress = %q, want %q", got, addr)
	}
	// Replayed with the same address (sent untrimmed or not): the same order.
	again := b.buy(b.customer, `{`+items+`,"shippingAddress":"`+strings.ReplaceAll(addr, "\r\n", `\r\n`)+`"}`, key)
	if again.status != http.StatusAccepted || decodeInto[struct{ OrderID string }](t, again).OrderID != orderID {
		t.Errorf("same key, same address: %s", again)
	}
	for name, body := range map[string]string{
		"another address": `{` + items + `,"shippingAddress":"Elsewhere 1"}`,
		"no address":      `{` + items + `}`,
	} {
		r := b.buy(b.customer, body, key)
		if pr := decodeInto[apiProblem](t, r); r.status != http.StatusUnprocessableEntity || pr.Code != "idempotency_key_reused" {
			t.Errorf("same key, %s: %s", name, r)
		}
	}
	if got := b.units(p.ID); got != [3]int64{9, 1, 0} {
		t.Errorf("replays reserved again: %v", got)
	}

	// The confirmed order shows the address.
	b.confirm.Store(true)
	b.confirmPending()
	r = b.buy(b.customer, `{`+items+`,"shippingAddress":"`+strings.ReplaceAll(addr, "\r\n", `\r\n`)+`"}`, key)
	var o struct {
		ID              string `json:"id"`
		ShippingAddress string `json:"shippingAddress"`
	}
	if err := json.Unmarshal(r.body, &o); err != nil || r.status != http.StatusCreated || o.ID != orderID || o.ShippingAddress != addr {
		t.Errorf("confirmed order: %s", r)
	}

	// Without an address the event has none (consumers default it).
	b.confirm.Store(false)
	r = b.buy(b.customer, `{`+items+`}`, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("buy without an address: %s", r)
	}
	if data := requested(t, decodeInto[struct{ OrderID string }](t, r).OrderID); data["shippingAddress"] != nil {
		t.Errorf("order.requested without an address carries %q", data["shippingAddress"])
	}
}
