package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"

	"github.com/travluk/ecom/services/platform/messaging"
)

func TestNewEvent(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Millisecond)
	e, err := messaging.NewEvent(context.Background(), "/shop", "thing.made", "t-1", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(e.ID) {
		t.Errorf("ID = %q, want 32 hex digits", e.ID)
	}
	if e.Time.Before(before) || e.Time.After(time.Now()) || e.Time.Location() != time.UTC || e.Time.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("Time = %v, want now in UTC to the millisecond", e.Time)
	}
	if e.TraceParent != "" {
		t.Errorf("TraceParent = %q without a span, want none", e.TraceParent)
	}
	other, _ := messaging.NewEvent(context.Background(), "/shop", "thing.made", "t-1", nil)
	if other.ID == e.ID {
		t.Error("two events got the same id")
	}

	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	if err := json.Unmarshal(raw, &wire); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion": "1.0", "id": e.ID, "source": "/shop", "type": "thing.made",
		"time": e.Time.Format(time.RFC3339Nano), "subject": "t-1",
		"datacontenttype": "application/json", "data": map[string]any{"n": float64(1)},
	}
	if diff := cmp.Diff(want, wire); diff != "" {
		t.Errorf("CloudEvent JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestNewEventRefusesUnencodableData(t *testing.T) {
	if _, err := messaging.NewEvent(context.Background(), "/shop", "thing.made", "", func() {}); err == nil {
		t.Error("NewEvent with a func as data = nil error")
	}
	if _, err := messaging.NewEvent(context.Background(), "", "thing.made", "", nil); err == nil {
		t.Error("NewEvent without a source = nil error")
	}
}

func TestEventContext(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8},
	})
	e, err := messaging.NewEvent(trace.ContextWithSpanContext(context.Background(), sc), "/shop", "thing.made", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-00"; e.TraceParent != want {
		t.Errorf("TraceParent = %q, want %q", e.TraceParent, want)
	}
	got := trace.SpanContextFromContext(e.Context(context.Background()))
	if got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsRemote() {
		t.Errorf("Context carries %v, want the remote span %v", got, sc)
	}
	if got := trace.SpanContextFromContext(messaging.Event{}.Context(context.Background())); got.IsValid() {
		t.Errorf("Context of an event without traceparent carries %v", got)
	}
}

func TestValidate(t *testing.T) {
	valid, err := messaging.NewEvent(context.Background(), "/shop", "thing.made", "t-1", "x")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*messaging.Event)
		want   string // in the error; "" means valid
	}{
		{"valid", func(*messaging.Event) {}, ""},
		{"no data", func(e *messaging.Event) { e.Data = nil }, ""},
		{"other spec version", func(e *messaging.Event) { e.SpecVersion = "0.3" }, "specversion"},
		{"no id", func(e *messaging.Event) { e.ID = "" }, "id"},
		{"no source", func(e *messaging.Event) { e.Source = "" }, "source"},
		{"no type", func(e *messaging.Event) { e.Type = "" }, "type"},
		{"no time", func(e *messaging.Event) { e.Time = time.Time{} }, "time"},
		{"not JSON content", func(e *messaging.Event) { e.DataContentType = "text/plain" }, "datacontenttype"},
		{"data not JSON", func(e *messaging.Event) { e.Data = json.RawMessage("{") }, "data"},
		{"bad traceparent", func(e *messaging.Event) { e.TraceParent = "00-zz-01" }, "traceparent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid
			tt.change(&e)
			err := e.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error about %s", err, tt.want)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	cause := errors.New("bad data")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", cause, false},
		{"permanent", messaging.Permanent(cause), true},
		{"wrapped permanent", fmt.Errorf("handle: %w", messaging.Permanent(cause)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := messaging.IsPermanent(tt.err); got != tt.want {
				t.Errorf("IsPermanent = %v, want %v", got, tt.want)
			}
		})
	}
	if messaging.Permanent(nil) != nil {
		t.Error("Permanent(nil) != nil")
	}
	if err := messaging.Permanent(cause); !errors.Is(err, cause) || err.Error() != cause.Error() {
		t.Errorf("Permanent(cause) = %v, want it to wrap and read as cause", err)
	}
}
