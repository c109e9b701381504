package jsonbody

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/travluk/ecom/services/platform/plaintext"
	"github.com/travluk/ecom/services/platform/problem"
)

// check walks the JSON object data against the type of dst and returns
// every field error of the body at once: unknown fields, values of the
// wrong type (null included) and text with control characters, each named by its path
// ("items[0].quantity", "address.city"). encoding/json reports only the
// first of these, and a client should not have to learn its mistakes one
// request at a time.
//
// Text is checked with plaintext: every string value and object key in the
// body, single-line unless its struct field is tagged jsonbody:"multiline";
// a field tagged jsonbody:"opaque" (a password) is not checked, since it is
// compared as bytes and never shown. Inside json.RawMessage, interface and
// json.Unmarshaler fields only the text is checked: their handlers check
// the types.
func check(data []byte, dst any) []problem.FieldError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil // decode reports syntax errors
	}
	var c checker
	c.value("", v, reflect.TypeOf(dst), textRule{})
	return c.errs
}

type checker struct {
	errs []problem.FieldError
}

// textRule is how a field's text is checked.
type textRule struct {
	multiline, opaque bool
}

func ruleOf(f reflect.StructField, parent textRule) textRule {
	r := parent
	for _, opt := range strings.Split(f.Tag.Get("jsonbody"), ",") {
		switch opt {
		case "multiline":
			r.multiline = true
		case "opaque":
			r.opaque = true
		}
	}
	return r
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numberType      = reflect.TypeFor[json.Number]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func (c *checker) add(path, message string) {
	c.errs = append(c.errs, problem.FieldError{Field: path, Message: message})
}

func (c *checker) text(path, s string, rule textRule) {
	if !rule.opaque && !plaintext.Valid(s, rule.multiline) {
		c.add(path, plaintext.MessageFor(rule.multiline))
	}
}

// value checks v, decoded with UseNumber, as a value of type t at path.
//
// null is refused where a type is known: encoding/json would silently keep
// the field's old value (so a partial update's {"name": null} would be a
// no-op answered 200), and an optional field is left out, not sent as null.
func (c *checker) value(path string, v any, t reflect.Type, rule textRule) {
	for t.Kind() == reflect.Pointer && t != rawMessageType {
		t = t.Elem()
	}
	switch {
	case t == rawMessageType || t.Kind() == reflect.Interface ||
		(t != numberType && (t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType))):
		c.anyText(path, v, rule)
		return
	case v == nil:
		c.add(path, "must be "+describe(t))
		return
	case t == numberType:
		if _, ok := v.(json.Number); !ok {
			c.add(path, "must be a number")
		}
		return
	case reflect.PointerTo(t).Implements(textUnmarshaler) || t.Implements(textUnmarshaler):
		s, ok := v.(string)
		if !ok {
			c.add(path, "must be a string")
			return
		}
		c.text(path, s, rule)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "must be an object")
			return
		}
		for _, key := range sortedKeys(obj) {
			f, ok := fieldByName(t, key)
			if !ok {
				c.add(join(path, key), "unknown field")
				continue
			}
			c.value(join(path, key), obj[key], f.Type, ruleOf(f, rule))
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			c.add(path, "must be an object")
			return
		}
		for _, key := range sortedKeys(obj) {
			c.text(join(path, key), key, textRule{opaque: rule.opaque})
			c.value(join(path, key), obj[key], t.Elem(), rule)
		}
	case reflect.Slice, reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			c.add(path, "must be an array")
			return
		}
		for i, e := range arr {
			c.value(path+"["+strconv.Itoa(i)+"]", e, t.Elem(), rule)
		}
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			c.add(path, "must be a string")
			return
		}
		c.text(path, s, rule)
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.add(path, "must be a boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); !ok || err != nil {
			c.add(path, "must be an integer")
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseUint(string(n), 10, t.Bits()); !ok || err != nil {
			c.add(path, "must be an integer")
		}
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if _, err := strconv.ParseFloat(string(n), t.Bits()); !ok || err != nil {
			c.add(path, "must be a number")
		}
	}
}

// anyText checks the text of every string and key in v, whatever its type.
func (c *checker) anyText(path string, v any, rule textRule) {
	switch v := v.(type) {
	case string:
		c.text(path, v, rule)
	case []any:
		for i, e := range v {
			c.anyText(path+"["+strconv.Itoa(i)+"]", e, rule)
		}
	case map[string]any:
		for _, key := range sortedKeys(v) {
			c.text(join(path, key), key, textRule{opaque: rule.opaque})
			c.anyText(join(path, key), v[key], rule)
		}
	}
}

// fieldByName finds the struct field encoding/json decodes key into: an
// exact match of its JSON name first, else one equal under case folding.
func fieldByName(t reflect.Type, key string) (reflect.StructField, bool) {
	var folded *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f, true
		}
		if folded == nil && strings.EqualFold(name, key) {
			folded = &f
		}
	}
	if folded != nil {
		return *folded, true
	}
	return reflect.StructField{}, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
