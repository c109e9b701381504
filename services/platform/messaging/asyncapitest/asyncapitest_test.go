package asyncapitest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/travluk/ecom/services/platform/messaging"
)

// recorder is a testing.TB that collects failures instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
}
func (r *recorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); panic(r) }
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); panic(r) }

// failures runs check against a recorder and returns what it reported.
func failures(t *testing.T, check func(tb testing.TB)) string {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		check(r)
	}()
	return strings.Join(r.errs, "\n")
}

const testDoc = `
asyncapi: 3.0.0
info: {title: t, version: '1'}
channels:
  thingDone:
    address: thing.done
    messages:
      thingDone: {$ref: '#/components/messages/thingDone'}
    bindings:
      amqp: {is: routingKey, exchange: {name: travluk.events, type: topic}}
  things:
    address: things
    x-routing-keys: [thing.done]
    messages:
      thingDone: {$ref: '#/components/messages/thingDone'}
    bindings:
      amqp: {is: queue, queue: {name: things}}
operations:
  sendThingDone:
    action: send
    x-service: a
    channel: {$ref: '#/channels/thingDone'}
    messages: [{$ref: '#/channels/thingDone/messages/thingDone'}]
  receiveThingDone:
    action: receive
    x-service: b
    channel: {$ref: '#/channels/things'}
    messages: [{$ref: '#/channels/things/messages/thingDone'}]
components:
  messages:
    thingDone:
      name: thing.done
      payload:
        allOf:
          - {$ref: '#/components/schemas/Envelope'}
          - properties:
              data: {$ref: '#/components/schemas/Thing'}
  schemas:
    Envelope:
      type: object
      additionalProperties: false
      required: [type, data]
      properties:
        type: {type: string, const: thing.done}
        data: {}
    Thing:
      type: object
      additionalProperties: false
      required: [id, at, parts, price]
      properties:
        id: {type: string, pattern: '^[a-z]+$', maxLength: 5}
        at: {type: string, format: date-time}
        note: {type: string}
        price: {type: number, minimum: 0.01, format: money}
        parts:
          type: array
          minItems: 1
          items:
            type: object
            additionalProperties: false
            required: [count]
            properties:
              count: {type: integer, minimum: 1, maximum: 9}
`

type cents int64

func (c cents) MarshalJSON() ([]byte, error) { return fmt.Appendf(nil, "%d.%02d", c/100, c%100), nil }

type part struct {
	N int `json:"count"`
}

type thing struct {
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
	Price cents     `json:"price"`
	Parts []part    `json:"parts"`
}

func parse(t *testing.T, doc string) *Doc {
	t.Helper()
	d, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestCheckPayloadMatches(t *testing.T) {
	d := parse(t, testDoc)
	if got := failures(t, func(tb testing.TB) { d.CheckPayload(tb, "thing.done", reflect.TypeFor[thing]()) }); got != "" {
		t.Errorf("matching type reported:\n%s", got)
	}
}

func TestCheckPayloadDrift(t *testing.T) {
	d := parse(t, testDoc)
	for name, c := range map[string]struct {
		typ  reflect.Type
		want string
	}{
		"field missing from the schema": {reflect.TypeFor[struct {
			thing
			Extra string `json:"extra"`
		}](), `Go field "extra"`},
		"property missing from the type": {reflect.TypeFor[struct {
			ID    string    `json:"id"`
			At    time.Time `json:"at"`
			Price cents     `json:"price"`
			Parts []part    `json:"parts"`
		}](), `schema property "note" is not a field`},
		"required drift": {reflect.TypeFor[struct {
			ID    string    `json:"id"`
			At    time.Time `json:"at"`
			Note  string    `json:"note"`
			Price cents     `json:"price"`
			Parts []part    `json:"parts"`
		}](), "required [at id parts price]"},
		"type drift": {reflect.TypeFor[struct {
			ID    string    `json:"id"`
			At    time.Time `json:"at"`
			Note  string    `json:"note,omitempty"`
			Price int64     `json:"price"`
			Parts []part    `json:"parts"`
		}](), `JSON "integer", the schema says "number"`},
		"nested drift": {reflect.TypeFor[struct {
			ID    string    `json:"id"`
			At    time.Time `json:"at"`
			Note  string    `json:"note,omitempty"`
			Price cents     `json:"price"`
			Parts []struct {
				N string `json:"count"`
			} `json:"parts"`
		}](), `parts[].count: Go type string is JSON "string", the schema says "integer"`},
	} {
		got := failures(t, func(tb testing.TB) { d.CheckPayload(tb, "thing.done", c.typ) })
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: reported %q, want it to mention %q", name, got, c.want)
		}
	}
}

func TestCheckPayloadMoneyFormat(t *testing.T) {
	d := parse(t, strings.Replace(testDoc, ", format: money}", "}", 1))
	got := failures(t, func(tb testing.TB) { d.CheckPayload(tb, "thing.done", reflect.TypeFor[thing]()) })
	if want := "price: Go type asyncapitest.cents is a JSON number, money: the schema wants format money"; !strings.Contains(got, want) {
		t.Errorf("money without format money: reported %q, want it to mention %q", got, want)
	}
}

func TestCheckConsumer(t *testing.T) {
	d := parse(t, testDoc)
	type reads struct {
		ID    string          `json:"id"`
		Price json.RawMessage `json:"price"`
	}
	if got := failures(t, func(tb testing.TB) { d.CheckConsumer(tb, "thing.done", reflect.TypeFor[reads]()) }); got != "" {
		t.Errorf("a consumer reading a subset reported:\n%s", got)
	}
	type expects struct {
		ID    string `json:"id"`
		Owner string `json:"owner"`
	}
	if got := failures(t, func(tb testing.TB) { d.CheckConsumer(tb, "thing.done", reflect.TypeFor[expects]()) }); !strings.Contains(got, `"owner"`) {
		t.Errorf("a consumer expecting an unsent field reported %q", got)
	}
	if got := failures(t, func(tb testing.TB) { d.CheckConsumer(tb, "thing.done", reflect.TypeFor[expects](), "owner") }); got != "" {
		t.Errorf("an ignored field reported %q", got)
	}
}

func TestValidate(t *testing.T) {
	d := parse(t, testDoc)
	ok := `{"type":"thing.done","data":{"id":"abc","at":"2026-01-01T00:00:00.5Z","price":19.90,"parts":[{"count":1}]}}`
	if err := d.Validate([]byte(ok)); err != nil {
		t.Fatalf("valid event: %v", err)
	}
	// Each want is the library's message for the broken rule, with the
	// place in the event it names.
	for _, c := range []struct{ from, to, want string }{
		{`"id":"abc"`, `"id":"ABC"`, `at '/data/id': 'ABC' does not match pattern`},
		{`"id":"abc"`, `"id":"abcdef"`, `at '/data/id': maxLength: got 6, want 5`},
		{`"id":"abc",`, ``, `at '/data': missing property 'id'`},
		{`"at":"2026-01-01T00:00:00.5Z"`, `"at":"yesterday"`, `at '/data/at': 'yesterday' is not valid date-time`},
		{`"price":19.90`, `"price":"19.90"`, `at '/data/price': got string, want number`},
		{`"price":19.90`, `"price":0`, `at '/data/price': minimum`},
		{`"price":19.90`, `"price":19.905`, `at '/data/price': 19.905 is not valid money: 19.905 has more than two decimal places`},
		{`{"count":1}`, `{"count":1.5}`, `at '/data/parts/0/count': got number, want integer`},
		{`{"count":1}`, `{"count":10}`, `at '/data/parts/0/count': maximum`},
		{`[{"count":1}]`, `[]`, `at '/data/parts': minItems`},
		{`{"count":1}`, `{"count":1,"m":2}`, `at '/data/parts/0': additional properties 'm' not allowed`},
		{`"type":"thing.done",`, `"type":"thing.done","extra":1,`, `at '': additional properties 'extra' not allowed`},
	} {
		bad := strings.Replace(ok, c.from, c.to, 1)
		if err := d.Validate([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", bad, err, c.want)
		}
	}
	if err := d.Validate([]byte(`{"type":"thing.undone"}`)); err == nil {
		t.Error("an event of an undocumented type validated")
	}
}

func TestParseRefusesInvalidSchemas(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"price: {type: number,", "price: {type: nummber,"},
		{"price: {type: number,", "price: {type: number, oneOf: [],"},
		{"price: {type: number,", "price: {type: number, pattern: '(',"},
		// YAML 1.1 reads an unquoted n as false: required [false].
		{"required: [count]", "required: [n]"},
	} {
		doc := strings.Replace(testDoc, c.from, c.to, 1)
		if doc == testDoc {
			t.Fatalf("%q is not in the test document", c.from)
		}
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", c.to)
		} else {
			t.Logf("%s: %v", c.to, err)
		}
	}
}

func TestCheckSendsAndReceives(t *testing.T) {
	d := parse(t, testDoc)
	subs := func(queue string, types ...string) []messaging.Subscription {
		return []messaging.Subscription{{Queue: queue, Types: types}}
	}
	for name, c := range map[string]struct {
		check func(tb testing.TB)
		fails bool
	}{
		"sends":             {func(tb testing.TB) { d.CheckSends(tb, "a", "thing.done") }, false},
		"sends more":        {func(tb testing.TB) { d.CheckSends(tb, "a", "thing.done", "thing.undone") }, true},
		"sends nothing":     {func(tb testing.TB) { d.CheckSends(tb, "b", "thing.done") }, true},
		"receives":          {func(tb testing.TB) { d.CheckReceives(tb, "b", subs("things", "thing.done")) }, false},
		"receives more":     {func(tb testing.TB) { d.CheckReceives(tb, "b", subs("things", "thing.done", "x")) }, true},
		"other queue":       {func(tb testing.TB) { d.CheckReceives(tb, "b", subs("stuff", "thing.done")) }, true},
		"receives nothing":  {func(tb testing.TB) { d.CheckReceives(tb, "a", subs("things", "thing.done")) }, true},
		"nothing, as known": {func(tb testing.TB) { d.CheckReceives(tb, "a", nil) }, false},
	} {
		if got := failures(t, c.check); (got != "") != c.fails {
			t.Errorf("%s: reported %q, want failure %v", name, got, c.fails)
		}
	}
}

// TestDocument checks services/asyncapi.yaml itself: its envelope is
// messaging.Event and its examples are valid.
func TestDocument(t *testing.T) {
	d := Load(t)
	d.CheckEnvelope(t)
	d.CheckExamples(t)
	for _, typ := range []string{"order.requested", "order.confirmed", "order.cancelled"} {
		if _, err := d.DataSchema(typ); err != nil {
			t.Error(err)
		}
	}
}
