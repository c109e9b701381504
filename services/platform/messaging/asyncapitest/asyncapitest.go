// Package asyncapitest keeps the AsyncAPI document of the events
// (services/asyncapi.yaml) and the Go code that really publishes and
// consumes them from drifting apart. A service's tests load the document
// and check against it the Go types of the payloads they publish (the
// same JSON field names, JSON types and required fields), the events
// their own constructors make (validated against the message schemas),
// the payload types their consumers decode, and the queues and event
// types they subscribe to.
//
// Payloads are validated by a complete JSON Schema implementation
// (github.com/santhosh-tekuri/jsonschema/v6, draft-07 as AsyncAPI 3.0
// specifies) with format assertions on, and one format of our own:
// "money", a JSON number with at most two decimal places.
package asyncapitest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/travluk/ecom/services/platform/jsonformat"
	"github.com/travluk/ecom/services/platform/messaging"
)

// FileName is the document's name in the services folder.
const FileName = "asyncapi.yaml"

// Doc is a parsed AsyncAPI document.
type Doc struct {
	root     map[string]any                // the document as JSON values
	payloads map[string]*jsonschema.Schema // compiled payload schemas, by message name (the event type)
}

// Load finds services/asyncapi.yaml by walking up from the working
// directory (a test's package directory) to the workspace root, the
// directory holding go.work, and parses it. It fails t when the document
// is missing or invalid.
func Load(t testing.TB) *Doc {
	t.Helper()
	path, err := find()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

func find() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.work")) {
			path := filepath.Join(dir, "services", FileName)
			if !fileExists(path) {
				return "", fmt.Errorf("asyncapitest: no %s in the workspace %s", filepath.Join("services", FileName), dir)
			}
			return path, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("asyncapitest: no go.work above the working directory")
		}
		dir = parent
	}
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// docURL names the document inside the schema compiler: references such as
// "#/components/schemas/Amount" resolve against it, and validation errors
// name schema locations by it. Nothing is ever fetched from it.
const docURL = "urn:travluk:asyncapi.yaml"

// Parse reads an AsyncAPI 3 document in YAML (or JSON) and compiles every
// schema in components.schemas and every message payload, so that a
// schema the JSON Schema metaschema refuses (a misspelt type, required
// [n], which YAML 1.1 reads as [false]) fails here rather than passing
// everything later.
//
// The schemas are JSON Schema draft-07, the base of AsyncAPI 3.0's
// default schema format, with format assertions on: date-time and the
// other standard formats are checked, and so is money (see
// jsonformat.Money).
func Parse(data []byte) (*Doc, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("asyncapitest: %w", err)
	}
	// UnmarshalJSON keeps numbers as json.Number, their decimal text, so
	// that money is judged on what was written, not on a float.
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("asyncapitest: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("asyncapitest: the document is not an object")
	}
	if s, _ := root["asyncapi"].(string); !strings.HasPrefix(s, "3.") {
		return nil, fmt.Errorf("asyncapitest: asyncapi %q, want 3.x", s)
	}

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "money", Validate: jsonformat.Money})
	if err := c.AddResource(docURL, root); err != nil {
		return nil, fmt.Errorf("asyncapitest: %w", err)
	}

	d := &Doc{root: root, payloads: map[string]*jsonschema.Schema{}}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(obj(d.get("components", "schemas")))) {
		if _, err := c.Compile(docURL + "#/components/schemas/" + name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		// The payloads refer to these schemas: compiling them would repeat
		// the same errors.
		return nil, fmt.Errorf("asyncapitest: %w", errors.Join(errs...))
	}
	messages := obj(d.get("components", "messages"))
	for _, key := range slices.Sorted(maps.Keys(messages)) {
		name, _ := obj(messages[key])["name"].(string)
		if _, dup := d.payloads[name]; dup {
			errs = append(errs, fmt.Errorf("components.messages.%s: a second message named %q", key, name))
			continue
		}
		s, err := c.Compile(docURL + "#/components/messages/" + key + "/payload")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.payloads[name] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("asyncapitest: %w", err)
	}
	return d, nil
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (d *Doc) get(path ...string) any {
	var v any = d.root
	for _, p := range path {
		v = obj(v)[p]
	}
	return v
}

// resolve follows a local $ref ("#/a/b") to the object it names. The
// schema compiler resolves references for validation; this is for the
// checks that walk the document itself (channels, operations, and the
// schemas compared with Go types).
func (d *Doc) resolve(v any) (map[string]any, error) {
	m := obj(v)
	for range 16 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %q: only local references are supported", ref)
		}
		target := d.get(strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		if target == nil {
			return nil, fmt.Errorf("$ref %q resolves to nothing", ref)
		}
		m = obj(target)
		if m == nil {
			return nil, fmt.Errorf("$ref %q is not an object", ref)
		}
	}
	return nil, errors.New("$ref chain too long")
}

// Message returns the message (in components.messages) whose name is the
// event type.
func (d *Doc) Message(eventType string) (map[string]any, error) {
	for _, m := range obj(d.get("components", "messages")) {
		if obj(m)["name"] == eventType {
			return obj(m), nil
		}
	}
	return nil, fmt.Errorf("asyncapitest: no message named %q in components.messages", eventType)
}

// DataSchema returns the schema of the data of the event type's message:
// the "data" property of its payload (the CloudEvent), through allOf and
// $ref.
func (d *Doc) DataSchema(eventType string) (map[string]any, error) {
	m, err := d.Message(eventType)
	if err != nil {
		return nil, err
	}
	var found map[string]any
	var walk func(s map[string]any) error
	walk = func(s map[string]any) error {
		s, err := d.resolve(s)
		if err != nil {
			return err
		}
		if p, ok := obj(s["properties"])["data"]; ok {
			ds, err := d.resolve(p)
			if err != nil {
				return err
			}
			if ds["type"] != nil { // the CloudEvent's own "data" is untyped
				found = ds
			}
		}
		list, _ := s["allOf"].([]any)
		for _, sub := range list {
			if err := walk(obj(sub)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(obj(m["payload"])); err != nil {
		return nil, fmt.Errorf("asyncapitest: %s payload: %w", eventType, err)
	}
	if found == nil {
		return nil, fmt.Errorf("asyncapitest: %s payload has no typed data schema", eventType)
	}
	return found, nil
}

// Validate validates an event, the JSON of a whole CloudEvent, against the
// payload schema of the message named by its type. The error lists every
// violation with its place in the event.
func (d *Doc) Validate(eventJSON []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(eventJSON))
	if err != nil {
		return fmt.Errorf("asyncapitest: event is not JSON: %w", err)
	}
	typ, _ := obj(v)["type"].(string)
	return d.validate(typ, v)
}

// validate validates a decoded JSON value (numbers as json.Number) against
// the payload schema of the message named eventType.
func (d *Doc) validate(eventType string, v any) error {
	s, ok := d.payloads[eventType]
	if !ok {
		return fmt.Errorf("asyncapitest: no message named %q in components.messages", eventType)
	}
	if err := s.Validate(v); err != nil {
		return fmt.Errorf("asyncapitest: %s: %w", eventType, err)
	}
	return nil
}

// CheckExamples validates every message example against its message's
// payload schema.
func (d *Doc) CheckExamples(t testing.TB) {
	t.Helper()
	messages := obj(d.get("components", "messages"))
	for _, key := range slices.Sorted(maps.Keys(messages)) {
		m := obj(messages[key])
		name, _ := m["name"].(string)
		examples, _ := m["examples"].([]any)
		for i, ex := range examples {
			if err := d.validate(name, obj(ex)["payload"]); err != nil {
				t.Errorf("components.messages.%s.examples[%d]: %v", key, i, err)
			}
		}
	}
}

// CheckEnvelope checks the document's CloudEvent schema against
// messaging.Event, the envelope every event is published in.
func (d *Doc) CheckEnvelope(t testing.TB) {
	t.Helper()
	s, err := d.resolve(d.get("components", "schemas", "CloudEvent"))
	if err != nil || s == nil {
		t.Fatalf("asyncapitest: components.schemas.CloudEvent: %v", err)
	}
	for _, err := range d.compare(reflect.TypeFor[messaging.Event](), s, "CloudEvent", true) {
		t.Error(err)
	}
}

// CheckPayload checks that the data schema of eventType describes exactly
// the JSON of the Go type typ, the payload a service publishes: the same
// property names at every level (nested structs and slices included),
// required exactly the fields without omitempty, the same JSON types, and
// additionalProperties false on every object.
func (d *Doc) CheckPayload(t testing.TB, eventType string, typ reflect.Type) {
	t.Helper()
	s, err := d.DataSchema(eventType)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range d.compare(typ, s, eventType+" data", true) {
		t.Error(err)
	}
}

// CheckConsumer checks that every field the Go type typ, a payload as a
// consumer decodes it, reads is in the data schema of eventType with the
// same JSON type: a consumer must not expect what the producer does not
// send. Names in ignore ("items.name") are left out of the check.
func (d *Doc) CheckConsumer(t testing.TB, eventType string, typ reflect.Type, ignore ...string) {
	t.Helper()
	s, err := d.DataSchema(eventType)
	if err != nil {
		t.Fatal(err)
	}
	c := comparer{d: d, exact: false, ignore: ignore}
	for _, err := range c.compare(typ, s, eventType+" data", "") {
		t.Error(err)
	}
}

func (d *Doc) compare(typ reflect.Type, s map[string]any, at string, exact bool) []error {
	c := comparer{d: d, exact: exact}
	return c.compare(typ, s, at, "")
}

type comparer struct {
	d      *Doc
	exact  bool
	ignore []string
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	rawType     = reflect.TypeFor[json.RawMessage]()
	marshalType = reflect.TypeFor[json.Marshaler]()
)

// jsonType is the JSON Schema type of the JSON encoding of t: "" for any
// JSON value (json.RawMessage, interfaces).
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return "string"
	case t == rawType || t.Kind() == reflect.Interface:
		return ""
	case t.Implements(marshalType) || reflect.PointerTo(t).Implements(marshalType):
		// A custom encoding: look at what the zero value becomes.
		b, err := json.Marshal(reflect.New(t).Interface())
		if err != nil || len(b) == 0 {
			return "?"
		}
		switch c := b[0]; {
		case c == '"':
			return "string"
		case c == '{':
			return "object"
		case c == '[':
			return "array"
		case c == 't' || c == 'f':
			return "boolean"
		case c == '-' || c >= '0' && c <= '9':
			if bytes.ContainsAny(b, ".eE") {
				return "number"
			}
			return "integer"
		}
		return "?"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return "?"
}

// field is one JSON property of a struct.
type field struct {
	name     string
	typ      reflect.Type
	optional bool
}

// jsonFields lists the JSON properties of struct type t as encoding/json
// writes them: exported fields, named by their tag, embedded structs
// flattened, "-" skipped; omitempty and omitzero make a field optional.
func jsonFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := false
		for o := range strings.SplitSeq(opts, ",") {
			optional = optional || o == "omitempty" || o == "omitzero"
		}
		out = append(out, field{name: name, typ: ft, optional: optional})
	}
	return out
}

func (c *comparer) compare(t reflect.Type, schema map[string]any, at, path string) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", at, fmt.Sprintf(format, args...)))
	}
	s, err := c.d.resolve(schema)
	if err != nil {
		fail("%v", err)
		return errs
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := jsonType(t)
	got, _ := s["type"].(string)
	if want == "" && !c.exact {
		return errs // a consumer keeping the raw JSON reads any type
	}
	if want != got {
		fail("Go type %s is JSON %q, the schema says %q", t, want, got)
		return errs
	}
	if t == timeType && s["format"] != "date-time" {
		fail("Go type time.Time wants format date-time, the schema has %v", s["format"])
	}
	// The only numbers with decimals the services send are money (DESIGN
	// §2): the schema must say so, or two-decimal cents go unchecked.
	if want == "number" && s["format"] != "money" {
		fail("Go type %s is a JSON number, money: the schema wants format money, has %v", t, s["format"])
	}
	switch {
	case want == "array" && !t.Implements(marshalType):
		items := obj(s["items"])
		if items == nil {
			fail("array without items schema")
			return errs
		}
		errs = append(errs, c.compare(t.Elem(), items, at+"[]", path)...)
	case want == "object" && t.Kind() == reflect.Struct && !t.Implements(marshalType):
		props := obj(s["properties"])
		var required []string
		list, _ := s["required"].([]any)
		for _, r := range list {
			required = append(required, fmt.Sprint(r))
		}
		goFields := map[string]bool{}
		var goRequired []string
		for _, f := range jsonFields(t) {
			p := strings.TrimPrefix(path+"."+f.name, ".")
			if slices.Contains(c.ignore, p) {
				continue
			}
			goFields[f.name] = true
			if !f.optional {
				goRequired = append(goRequired, f.name)
			}
			ps, ok := props[f.name]
			if !ok {
				fail("Go field %q (%s.%s) is not a property of the schema", f.name, t.Name(), f.name)
				continue
			}
			errs = append(errs, c.compare(f.typ, obj(ps), at+"."+f.name, p)...)
		}
		if !c.exact {
			return errs
		}
		for name := range props {
			if !goFields[name] {
				fail("schema property %q is not a field of Go type %s", name, t)
			}
		}
		sort.Strings(required)
		sort.Strings(goRequired)
		if !slices.Equal(required, goRequired) {
			fail("required %v, but the fields of %s without omitempty are %v", required, t, goRequired)
		}
		if s["additionalProperties"] != false {
			fail("additionalProperties must be false")
		}
	}
	return errs
}

// operations returns the operations of action ("send" or "receive")
// performed by service (their x-service).
func (d *Doc) operations(action, service string) map[string]map[string]any {
	ops := map[string]map[string]any{}
	for name, op := range obj(d.get("operations")) {
		if obj(op)["action"] == action && obj(op)["x-service"] == service {
			ops[name] = obj(op)
		}
	}
	return ops
}

// opMessages returns the channel address and the event types (message
// names) of an operation.
func (d *Doc) opMessages(op map[string]any) (address string, types []string, err error) {
	ch, err := d.resolve(op["channel"])
	if err != nil {
		return "", nil, err
	}
	address, _ = ch["address"].(string)
	list, _ := op["messages"].([]any)
	for _, m := range list {
		msg, err := d.resolve(m)
		if err != nil {
			return "", nil, err
		}
		name, _ := msg["name"].(string)
		types = append(types, name)
	}
	return address, types, nil
}

// CheckSends checks that the send operations of service in the document
// are exactly one per event type in types, each on the channel addressed
// by its type (the routing key) on the exchange travluk.events.
func (d *Doc) CheckSends(t testing.TB, service string, types ...string) {
	t.Helper()
	var sent []string
	for name, op := range d.operations("send", service) {
		address, msgs, err := d.opMessages(op)
		if err != nil {
			t.Errorf("operations.%s: %v", name, err)
			continue
		}
		if len(msgs) != 1 || msgs[0] != address {
			t.Errorf("operations.%s sends %v on %q, want the one event type its channel is addressed by", name, msgs, address)
		}
		ch, _ := d.resolve(op["channel"])
		ex, _ := d.resolve(obj(obj(ch["bindings"])["amqp"])["exchange"])
		if obj(obj(ch["bindings"])["amqp"])["is"] != "routingKey" || ex["name"] != "travluk.events" {
			t.Errorf("operations.%s: channel %q is not a routing key of the exchange travluk.events", name, address)
		}
		sent = append(sent, msgs...)
	}
	sort.Strings(sent)
	want := slices.Sorted(slices.Values(types))
	if !slices.Equal(sent, want) {
		t.Errorf("the document has %s send %v, the code publishes %v", service, sent, want)
	}
}

// CheckReceives checks that the receive operations of service in the
// document are exactly subs: the same queues (the channels' addresses,
// with their routing keys in x-routing-keys) and, per queue, the same
// event types.
func (d *Doc) CheckReceives(t testing.TB, service string, subs []messaging.Subscription) {
	t.Helper()
	doc := map[string][]string{}
	for name, op := range d.operations("receive", service) {
		address, msgs, err := d.opMessages(op)
		if err != nil {
			t.Errorf("operations.%s: %v", name, err)
			continue
		}
		ch, _ := d.resolve(op["channel"])
		amqp := obj(obj(ch["bindings"])["amqp"])
		if amqp["is"] != "queue" || obj(amqp["queue"])["name"] != address {
			t.Errorf("operations.%s: channel %q is not the queue %q", name, address, address)
		}
		var keys []string
		list, _ := ch["x-routing-keys"].([]any)
		for _, k := range list {
			keys = append(keys, fmt.Sprint(k))
		}
		for _, m := range msgs {
			if !slices.Contains(keys, m) {
				t.Errorf("operations.%s receives %s from queue %q, which x-routing-keys %v do not bind", name, m, address, keys)
			}
		}
		doc[address] = append(doc[address], msgs...)
	}
	code := map[string][]string{}
	for _, s := range subs {
		code[s.Queue] = append(code[s.Queue], s.Types...)
	}
	for q := range doc {
		slices.Sort(doc[q])
	}
	for q := range code {
		slices.Sort(code[q])
	}
	if !reflect.DeepEqual(doc, code) {
		t.Errorf("the document has %s receive %v (queue: types), the code subscribes %v", service, doc, code)
	}
}
