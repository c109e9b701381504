package order

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func newTestService(t *testing.T) (*Service, *memoryRepo, *[]string) {
	t.Helper()
	repo := newMemoryRepo()
	var nudges []string // the orders nudged about, in order
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	return NewService(repo, clock, func(id string) { nudges = append(nudges, id) }), repo, &nudges
}

// seed creates an order for customer "ada" and moves it to status.
func seed(t *testing.T, svc *Service, id string, status Status) {
	t.Helper()
	r := validRequest()
	r.OrderID, r.CustomerID = id, "ada"
	if created, err := svc.CreateFromRequest(context.Background(), r); !created || err != nil {
		t.Fatalf("create: %v %v", created, err)
	}
	admin := Actor{ID: "root", Admin: true}
	path := map[Status][]Status{
		Confirmed: {}, Processing: {Processing}, Shipped: {Processing, Shipped},
		Delivered: {Processing, Shipped, Delivered}, Cancelled: {Cancelled},
	}[status]
	for _, s := range path {
		if _, err := svc.ChangeStatus(context.Background(), admin, id, s, ""); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCreateFromRequestIsIdempotent(t *testing.T) {
	svc, repo, nudges := newTestService(t)
	ctx := context.Background()
	r := validRequest()
	for i, want := range []bool{true, false, false} {
		created, err := svc.CreateFromRequest(ctx, r)
		if err != nil || created != want {
			t.Fatalf("delivery %d: created = %v, err = %v; want %v", i+1, created, err, want)
		}
	}
	if n := len(repo.events[r.OrderID]); n != 1 || !slices.Equal(*nudges, []string{r.OrderID}) {
		t.Errorf("events = %d, nudges = %v; want one order.confirmed and one nudge about %s", n, *nudges, r.OrderID)
	}
	ev := repo.events[r.OrderID][0]
	if d, ok := ev.Data.(ConfirmedData); ev.Type != EventConfirmed || !ok || d.TotalAmount != 2998 || d.Status != Confirmed || d.CustomerID != "cust-1" {
		t.Errorf("event = %+v", ev)
	}
}

// TestChangeStatusRights is who may make which move: admins any legal
// move, owners only a cancel before shipping, others nothing (404).
func TestChangeStatusRights(t *testing.T) {
	admin, owner, other := Actor{ID: "root", Admin: true}, Actor{ID: "ada"}, Actor{ID: "bob"}
	tests := []struct {
		actor Actor
		from  Status
		to    Status
		want  error
	}{
		{admin, Confirmed, Processing, nil},
		{admin, Processing, Shipped, nil},
		{admin, Shipped, Delivered, nil},
		{admin, Confirmed, Cancelled, nil},
		{admin, Processing, Cancelled, nil},
		{admin, Confirmed, Shipped, ErrIllegalTransition},
		{admin, Shipped, Cancelled, ErrIllegalTransition},
		{admin, Delivered, Cancelled, ErrIllegalTransition},
		{admin, Cancelled, Processing, ErrIllegalTransition},
		{admin, Confirmed, Confirmed, ErrIllegalTransition},
		{owner, Confirmed, Cancelled, nil},
		{owner, Processing, Cancelled, nil},
		{owner, Shipped, Cancelled, ErrIllegalTransition},
		{owner, Cancelled, Cancelled, ErrIllegalTransition},
		{owner, Confirmed, Processing, ErrForbidden},
		{owner, Shipped, Delivered, ErrForbidden},
		{other, Confirmed, Cancelled, ErrNotFound},
		{other, Confirmed, Processing, ErrNotFound},
	}
	for i, tt := range tests {
		name := fmt.Sprintf("%s %s to %s", map[bool]string{true: "admin", false: tt.actor.ID}[tt.actor.Admin], tt.from, tt.to)
		t.Run(name, func(t *testing.T) {
			svc, repo, _ := newTestService(t)
			id := fmt.Sprintf("%024x", i+1)
			seed(t, svc, id, tt.from)
			before := len(repo.events[id])
			o, err := svc.ChangeStatus(context.Background(), tt.actor, id, tt.to, " because ")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			stored, _ := repo.ByID(context.Background(), id)
			if tt.want != nil {
				if stored.Status != tt.from {
					t.Errorf("status changed to %s on a refused move", stored.Status)
				}
				return
			}
			last := o.History[len(o.History)-1]
			if o.Status != tt.to || last.Status != tt.to || last.Note != "because" || stored.Status != tt.to {
				t.Errorf("order after the move: %+v", o)
			}
			events := repo.events[id][before:]
			if tt.to == Cancelled {
				if len(events) != 1 || events[0].Type != EventCancelled || events[0].Seq != len(o.History)-1 {
					t.Fatalf("events appended: %+v", events)
				}
				d := events[0].Data.(CancelledData)
				if d.Reason != "because" || len(d.Items) != 2 || d.Items[0] != (CancelledItem{ProductID: "p1", Quantity: 3}) {
					t.Errorf("cancelled data = %+v", d)
				}
			} else if len(events) != 0 {
				t.Errorf("a %s move appended %+v", tt.to, events)
			}
		})
	}
}

func TestChangeStatusValidation(t *testing.T) {
	svc, _, _ := newTestService(t)
	seed(t, svc, "65f0c0ffee0000000000abcd", Confirmed)
	admin := Actor{ID: "root", Admin: true}
	for _, tt := range []struct {
		to   Status
		note string
	}{{"lost", ""}, {"", ""}, {Processing, strings.Repeat("x", MaxStatusNoteLength+1)}} {
		var v *ValidationError
		if _, err := svc.ChangeStatus(context.Background(), admin, "65f0c0ffee0000000000abcd", tt.to, tt.note); !errors.As(err, &v) {
			t.Errorf("ChangeStatus(%q, %d-char note) err = %v, want a ValidationError", tt.to, len(tt.note), err)
		}
	}
}

// TestChangeStatusRace: a move that loses to a concurrent one re-reads and
// re-checks, so it is refused when the winner made it illegal.
func TestChangeStatusRace(t *testing.T) {
	svc, repo, _ := newTestService(t)
	id := "65f0c0ffee0000000000abcd"
	seed(t, svc, id, Processing)
	repo.beforeChange = func(o *Order) {
		o.Status = Shipped // an admin shipped it meanwhile
		o.History = append(o.History, HistoryEntry{Status: Shipped})
	}
	_, err := svc.ChangeStatus(context.Background(), Actor{ID: "ada"}, id, Cancelled, "")
	if !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("cancel racing a shipment: err = %v, want ErrIllegalTransition", err)
	}
	if n := len(repo.events[id]); n != 1 {
		t.Errorf("events = %d, want only order.confirmed", n)
	}
}

func TestUpdate(t *testing.T) {
	svc, _, _ := newTestService(t)
	ctx := context.Background()
	open, shipped := "00000000000000000000000a", "00000000000000000000000b"
	seed(t, svc, open, Processing)
	seed(t, svc, shipped, Shipped)
	addr, notes, blank := "  1 Loop St ", "leave at door", "  "
	o, err := svc.Update(ctx, Actor{ID: "ada"}, open, Details{ShippingAddress: &addr, Notes: &notes})
	if err != nil || o.ShippingAddress != "1 Loop St" || o.Notes != notes {
		t.Fatalf("owner update: %+v, %v", o, err)
	}
	tests := []struct {
		name  string
		actor Actor
		id    string
		d     Details
		want  error
	}{
		{"another customer", Actor{ID: "bob"}, open, Details{Notes: &notes}, ErrNotFound},
		{"after shipping", Actor{ID: "ada"}, shipped, Details{Notes: &notes}, ErrAlreadyShipped},
		{"admin after shipping", Actor{ID: "root", Admin: true}, shipped, Details{Notes: &notes}, ErrAlreadyShipped},
		{"unknown order", Actor{ID: "root", Admin: true}, "nope", Details{}, ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := svc.Update(ctx, tt.actor, tt.id, tt.d); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	var v *ValidationError
	if _, err := svc.Update(ctx, Actor{ID: "ada"}, open, Details{ShippingAddress: &blank}); !errors.As(err, &v) {
		t.Errorf("blank address: err = %v", err)
	}
}
