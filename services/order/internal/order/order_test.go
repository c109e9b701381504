package order

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusTransitions(t *testing.T) {
	allowed := map[[2]Status]bool{
		{Confirmed, Processing}: true,
		{Confirmed, Cancelled}:  true,
		{Processing, Shipped}:   true,
		{Processing, Cancelled}: true,
		{Shipped, Delivered}:    true,
	}
	// Every pair of statuses, so that the table is the whole machine.
	for _, from := range Statuses() {
		for _, to := range Statuses() {
			want := allowed[[2]Status{from, to}]
			t.Run(fmt.Sprintf("%s to %s", from, to), func(t *testing.T) {
				if got := from.CanMoveTo(to); got != want {
					t.Errorf("CanMoveTo = %v, want %v", got, want)
				}
			})
		}
	}
	for _, s := range []Status{"", "pending", "Confirmed"} {
		if s.Valid() || s.CanMoveTo(Cancelled) || Confirmed.CanMoveTo(s) {
			t.Errorf("status %q is treated as known", s)
		}
	}
	for s, want := range map[Status]bool{Confirmed: true, Processing: true, Shipped: false, Delivered: false, Cancelled: false} {
		if s.BeforeShipping() != want {
			t.Errorf("%s.BeforeShipping() = %v", s, !want)
		}
	}
}

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in   string
		want Money
		err  error
	}{
		{"19.99", 1999, nil},
		{"0.1", 10, nil},
		{"0.30", 30, nil},
		{"20", 2000, nil},
		{"1.000", 100, nil},
		{"1e2", 10000, nil},
		{"1999e-2", 1999, nil},
		{"0", 0, nil},
		{"100000000000", 10_000_000_000_000, nil},
		{"100000000000.01", 0, errTooLarge},
		{"1.001", 0, errTooPrecise},
		{"1e-3", 0, errTooPrecise},
		{"", 0, errNotANumber},
		{"01", 0, errNotANumber},
		{"1.", 0, errNotANumber},
		{"abc", 0, errNotANumber},
		{`"1.00"`, 0, errNotANumber},
		{"-5", -500, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMoney(tt.in)
			if !errors.Is(err, tt.err) || got != tt.want {
				t.Errorf("ParseMoney(%q) = %d, %v; want %d, %v", tt.in, got, err, tt.want, tt.err)
			}
		})
	}
	for m, want := range map[Money]string{0: "0.00", 5: "0.05", 1999: "19.99", 2000: "20.00", -150: "-1.50"} {
		if m.String() != want {
			t.Errorf("Money(%d).String() = %q, want %q", int64(m), m.String(), want)
		}
	}
}

func validRequest() Request {
	return Request{
		OrderID:    "65f0c0ffee0000000000abcd",
		CustomerID: "cust-1",
		Currency:   "EUR",
		Items: []RequestItem{
			{ProductID: "p1", Name: "Mug", UnitPrice: 999, Quantity: 3},
			{ProductID: "p2", Name: "Lamp", UnitPrice: 1, Quantity: 1},
		},
	}
}

func TestNewOrder(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 8_000_000, time.UTC)
	o, err := newOrder(validRequest(), now)
	if err != nil {
		t.Fatal(err)
	}
	want := &Order{
		ID: "65f0c0ffee0000000000abcd", CustomerID: "cust-1", Currency: "EUR", Status: Confirmed,
		Items: []Item{
			{ProductID: "p1", Name: "Mug", UnitPrice: 999, Quantity: 3, LineTotal: 2997},
			{ProductID: "p2", Name: "Lamp", UnitPrice: 1, Quantity: 1, LineTotal: 1},
		},
		Quantity: 4, Total: 2998,
		History:   []HistoryEntry{{Status: Confirmed, At: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNewOrderValidation(t *testing.T) {
	many := make([]RequestItem, MaxItems+1)
	for i := range many {
		many[i] = RequestItem{ProductID: fmt.Sprint("p", i), Name: "x", UnitPrice: 1, Quantity: 1}
	}
	tests := []struct {
		name   string
		change func(*Request)
		fields []string
	}{
		{"order id not hex", func(r *Request) { r.OrderID = "not-an-id" }, []string{"orderId"}},
		{"order id upper case", func(r *Request) { r.OrderID = strings.ToUpper(r.OrderID) }, []string{"orderId"}},
		{"no customer", func(r *Request) { r.CustomerID = "" }, []string{"customerId"}},
		{"currency", func(r *Request) { r.Currency = "euro" }, []string{"currency"}},
		{"no items", func(r *Request) { r.Items = nil }, []string{"items"}},
		{"too many items", func(r *Request) { r.Items = many }, []string{"items"}},
		{"duplicate product", func(r *Request) { r.Items[1].ProductID = "p1" }, []string{"items[1].productId"}},
		{"zero quantity", func(r *Request) { r.Items[0].Quantity = 0 }, []string{"items[0].quantity"}},
		{"quantity over 1000", func(r *Request) { r.Items[0].Quantity = 1001 }, []string{"items[0].quantity"}},
		{"free product", func(r *Request) { r.Items[1].UnitPrice = 0 }, []string{"items[1].unitPrice"}},
		{"no name", func(r *Request) { r.Items[0].Name = "" }, []string{"items[0].name"}},
		{"address too long", func(r *Request) { r.ShippingAddress = strings.Repeat("é", MaxAddressLength+1) }, []string{"shippingAddress"}},
		{"total too large", func(r *Request) {
			r.Items[0].UnitPrice, r.Items[0].Quantity = MaxAmount, 2
		}, []string{"items[0].quantity"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRequest()
			r.Items = append([]RequestItem(nil), r.Items...)
			tt.change(&r)
			_, err := newOrder(r, time.Now())
			var v *ValidationError
			if !errors.As(err, &v) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			var got []string
			for _, f := range v.Errors {
				got = append(got, f.Field)
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseListQuery(t *testing.T) {
	admin := Actor{ID: "admin-1", Admin: true}
	ada := Actor{ID: "ada"}
	cursor := Cursor{CreatedAt: time.UnixMilli(1_700_000_000_123).UTC(), ID: "65f0c0ffee0000000000abcd"}
	tests := []struct {
		name   string
		actor  Actor
		params ListParams
		want   ListQuery
		err    string
	}{
		{"admin, no filter", admin, ListParams{}, ListQuery{Limit: DefaultLimit}, ""},
		{"admin filters", admin, ListParams{Status: "shipped", CustomerID: "bob", Limit: "5"}, ListQuery{Status: Shipped, CustomerID: "bob", Limit: 5}, ""},
		{"customer sees only their own", ada, ListParams{}, ListQuery{CustomerID: "ada", Limit: DefaultLimit}, ""},
		{"customer naming themselves", ada, ListParams{CustomerID: "ada", Status: "cancelled"}, ListQuery{CustomerID: "ada", Status: Cancelled, Limit: DefaultLimit}, ""},
		{"customer naming another", ada, ListParams{CustomerID: "bob"}, ListQuery{}, "not allowed"},
		{"cursor round trip", ada, ListParams{Cursor: cursor.Encode(), Limit: "100"}, ListQuery{CustomerID: "ada", Limit: 100, After: &cursor}, ""},
		{"limit 0", admin, ListParams{Limit: "0"}, ListQuery{}, "limit"},
		{"limit 101", admin, ListParams{Limit: "101"}, ListQuery{}, "limit"},
		{"limit text", admin, ListParams{Limit: "ten"}, ListQuery{}, "limit"},
		{"unknown status", admin, ListParams{Status: "lost"}, ListQuery{}, "status"},
		{"garbage cursor", admin, ListParams{Cursor: "!!"}, ListQuery{}, "cursor"},
		{"cursor without id", admin, ListParams{Cursor: "MTIz"}, ListQuery{}, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListQuery(tt.actor, tt.params)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one about %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
