// Package jsonbody decodes request bodies strictly, turning every way a body
// can be wrong into the problem the API contract promises for it.
//
// Strictness is the point: an unknown field is refused rather than ignored,
// which is what keeps a client from setting fields it must not (mass
// assignment), and a body is exactly one JSON object.
package jsonbody

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/travluk/ecom/services/platform/problem"
)

// MaxBytes is the largest request body Decode accepts.
const MaxBytes = 1 << 20

// Decode reads one JSON object from r.Body into dst, which must be a
// non-nil pointer, and returns nil on success. On failure it returns the
// problem to write, and leaves dst filled as far as it could be, so that a
// handler can add the core's verdict on the rest (see problem.MergeFields):
//
//   - Content-Type other than application/json (parameters allowed): 415
//     "unsupported_media_type";
//   - a body over MaxBytes: 413 "body_too_large";
//   - an empty, malformed or non-object body, or data after the object: 400
//     "malformed_json";
//   - unknown fields, values of the wrong type and text with control
//     characters: one 422 "validation_failed" naming every such field,
//     {field, "unknown field"}, {field, "must be <type>"} (for example
//     "must be a string"; null is refused too) or
//     {field, "must not contain control characters"}
//     (see check for the rule and the jsonbody struct tag).
//
// A json.Unmarshaler inside dst may return a *problem.Problem to choose the
// answer itself; any other error it returns becomes a 422 without field.
// Decode does not write the response; w is needed only to limit the body.
func Decode(w http.ResponseWriter, r *http.Request, dst any) *problem.Problem {
	if p := checkContentType(r.Header.Get("Content-Type")); p != nil {
		return p
	}
	if r.ContentLength > MaxBytes {
		return tooLarge()
	}
	if r.Body == nil {
		return decode(nil, dst)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return tooLarge()
		}
		return malformed("The request body could not be read.")
	}
	return decode(data, dst)
}

func checkContentType(value string) *problem.Problem {
	unsupported := problem.New(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"The request body must be sent with Content-Type: application/json.")
	if value == "" {
		return unsupported
	}
	mediaType, _, err := mime.ParseMediaType(value)
	if err != nil || mediaType != "application/json" {
		return unsupported
	}
	return nil
}

func decode(data []byte, dst any) *problem.Problem {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return malformed("The request body is empty; a JSON object is required.")
	}
	if trimmed[0] != '{' {
		// Say what came instead of an object when the JSON is valid, because
		// "malformed" would send the client looking for a syntax error.
		if json.Valid(data) {
			return malformed(fmt.Sprintf("The request body must be a JSON object, not %s.", kindOf(trimmed[0])))
		}
		return malformed("The request body is not valid JSON.")
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	// encoding/json goes on after an unknown field or a wrong type, filling
	// what it can, but names only the first; check names them all.
	err := dec.Decode(dst)
	if err != nil && !fieldLevel(err) {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return malformed("The request body has data after the JSON object.")
	}
	fields := check(data, dst)
	if p, ok := errors.AsType[*problem.Problem](err); ok {
		// A json.Unmarshaler chose its answer; a validation one joins the rest.
		if p.Status != http.StatusUnprocessableEntity || len(fields) == 0 {
			return p
		}
		fields = problem.MergeFields(fields, p.Errors)
	}
	if len(fields) > 0 {
		return problem.Validation(fields...)
	}
	if err != nil {
		return decodeError(err)
	}
	return nil
}

// fieldLevel reports whether err is about one field's value rather than
// the body's syntax, so that decoding went on past it.
func fieldLevel(err error) bool {
	if _, ok := errors.AsType[*json.SyntaxError](err); ok {
		return false
	}
	if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		return false
	}
	return !errors.Is(err, io.ErrUnexpectedEOF)
}

func decodeError(err error) *problem.Problem {
	if p, ok := errors.AsType[*problem.Problem](err); ok {
		return p
	}
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return malformed(fmt.Sprintf("The request body is not valid JSON (at byte %d).", e.Offset))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return malformed("The request body is not valid JSON (it ends too early).")
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return problem.Validation(problem.FieldError{Field: e.Field, Message: "must be " + describe(e.Type)})
	}
	if _, ok := errors.AsType[*json.InvalidUnmarshalError](err); ok {
		// dst is not a pointer: a bug in the handler, not in the request.
		return problem.Internal()
	}
	// encoding/json has no typed error for unknown fields; this text is
	// its stable wording.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return problem.Validation(problem.FieldError{Field: strings.Trim(name, `"`), Message: "unknown field"})
	}
	p := problem.Validation()
	p.Detail = err.Error()
	return p
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// describe names the JSON type a Go type accepts, with its article.
func describe(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	if t == reflect.TypeFor[json.Number]() {
		return "a number"
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) || t.Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describe(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	default:
		return "a different type"
	}
}

func kindOf(first byte) string {
	switch first {
	case 'n':
		return "null"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func malformed(detail string) *problem.Problem {
	return problem.New(http.StatusBadRequest, "malformed_json", detail)
}

func tooLarge() *problem.Problem {
	return problem.New(http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("The request body must not exceed %d bytes.", MaxBytes))
}
