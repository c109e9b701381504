package jsonbody

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/travluk/ecom/services/platform/problem"
)

type address struct {
	City string `json:"city"`
}

type item struct {
	Quantity int `json:"quantity"`
}

type registration struct {
	Name     string     `json:"name"`
	Email    string     `json:"email"`
	Age      int        `json:"age"`
	Price    float64    `json:"price"`
	Admin    bool       `json:"admin"`
	Address  *address   `json:"address"`
	Items    []item     `json:"items"`
	Birthday *time.Time `json:"birthday"`
}

// textual has text fields with each rule of the jsonbody tag.
type textual struct {
	Note     string            `json:"note" jsonbody:"multiline"`
	Notes    []string          `json:"notes" jsonbody:"multiline"`
	Password string            `json:"password" jsonbody:"opaque"`
	Raw      json.RawMessage   `json:"raw"`
	Attrs    map[string]string `json:"attrs"`
}

// cents rejects a price with more than 2 decimals by returning a problem.
type cents int64

func (c *cents) UnmarshalJSON(b []byte) error {
	if strings.Contains(string(b), ".") && len(strings.SplitN(string(b), ".", 2)[1]) > 2 {
		return problem.Validation(problem.FieldError{Field: "price", Message: "must have at most 2 decimals"})
	}
	return nil
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		dst         func() any
		want        *problem.Problem
	}{
		{
			name:        "valid",
			contentType: "application/json",
			body:        `{"name":"Ann","email":"ann@example.com","address":{"city":"Oslo"},"items":[{"quantity":2}]}`,
		},
		{
			name:        "content type with charset",
			contentType: "application/json; charset=utf-8",
			body:        `{"name":"Ann"}`,
		},
		{
			name:        "trailing whitespace is fine",
			contentType: "application/json",
			body:        "{\"name\":\"Ann\"}\n\t ",
		},
		{
			name:        "missing content type",
			contentType: "",
			body:        `{"name":"Ann"}`,
			want:        &problem.Problem{Status: 415, Code: "unsupported_media_type"},
		},
		{
			name:        "wrong content type",
			contentType: "text/plain",
			body:        `{"name":"Ann"}`,
			want:        &problem.Problem{Status: 415, Code: "unsupported_media_type"},
		},
		{
			name:        "look-alike content type",
			contentType: "application/jsonp",
			body:        `{"name":"Ann"}`,
			want:        &problem.Problem{Status: 415, Code: "unsupported_media_type"},
		},
		{
			name:        "empty body",
			contentType: "application/json",
			body:        "",
			want:        &problem.Problem{Status: 400, Code: "malformed_json"},
		},
		{
			name:        "malformed",
			contentType: "application/json",
			body:        `{"name":`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json"},
		},
		{
			name:        "syntax error",
			contentType: "application/json",
			body:        `{"name" "Ann"}`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json"},
		},
		{
			name:        "trailing garbage",
			contentType: "application/json",
			body:        `{"name":"Ann"}xyz`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json"},
		},
		{
			name:        "second object",
			contentType: "application/json",
			body:        `{"name":"Ann"}{"name":"Bob"}`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json"},
		},
		{
			name:        "null",
			contentType: "application/json",
			body:        `null`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json", Detail: "The request body must be a JSON object, not null."},
		},
		{
			name:        "array",
			contentType: "application/json",
			body:        ` [{"name":"Ann"}]`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json", Detail: "The request body must be a JSON object, not an array."},
		},
		{
			name:        "string",
			contentType: "application/json",
			body:        `"Ann"`,
			want:        &problem.Problem{Status: 400, Code: "malformed_json", Detail: "The request body must be a JSON object, not a string."},
		},
		{
			name:        "unknown field",
			contentType: "application/json",
			body:        `{"name":"Ann","role":"admin"}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "role", Message: "unknown field"}}},
		},
		{
			name:        "wrong type string",
			contentType: "application/json",
			body:        `{"email":42}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "email", Message: "must be a string"}}},
		},
		{
			name:        "wrong type integer",
			contentType: "application/json",
			body:        `{"age":1.5}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "age", Message: "must be an integer"}}},
		},
		{
			name:        "wrong type number",
			contentType: "application/json",
			body:        `{"price":"12"}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "price", Message: "must be a number"}}},
		},
		{
			name:        "wrong type boolean",
			contentType: "application/json",
			body:        `{"admin":"yes"}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "admin", Message: "must be a boolean"}}},
		},
		{
			name:        "wrong type object",
			contentType: "application/json",
			body:        `{"address":"Oslo"}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "address", Message: "must be an object"}}},
		},
		{
			name:        "wrong type nested",
			contentType: "application/json",
			body:        `{"address":{"city":1}}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "address.city", Message: "must be a string"}}},
		},
		{
			name:        "wrong type array",
			contentType: "application/json",
			body:        `{"items":{}}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "items", Message: "must be an array"}}},
		},
		{
			// encoding/json does not say which field a json.Unmarshaler
			// failed in, so the answer is a 422 without field errors.
			name:        "unmarshaler error",
			contentType: "application/json",
			body:        `{"birthday":12}`,
			want:        &problem.Problem{Status: 422, Code: "validation_failed"},
		},
		{
			name:        "unmarshaler answers with a problem",
			contentType: "application/json",
			body:        `{"price":1.234}`,
			dst:         func() any { return &struct{ Price cents }{} },
			want: &problem.Problem{Status: 422, Code: "validation_failed",
				Errors: []problem.FieldError{{Field: "price", Message: "must have at most 2 decimals"}}},
		},
		{
			name:        "every field error at once, sorted by field",
			contentType: "application/json",
			body:        `{"role":"admin","email":42,"age":"x","items":[{"quantity":1},{"quantity":"2","extra":1}],"address":{"city":true}}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "address.city", Message: "must be a string"},
				{Field: "age", Message: "must be an integer"},
				{Field: "email", Message: "must be a string"},
				{Field: "items[1].extra", Message: "unknown field"},
				{Field: "items[1].quantity", Message: "must be an integer"},
				{Field: "role", Message: "unknown field"},
			}},
		},
		{
			name:        "null is not a value of a typed field",
			contentType: "application/json",
			body:        `{"name":null,"address":null,"items":[null],"age":null}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "address", Message: "must be an object"},
				{Field: "age", Message: "must be an integer"},
				{Field: "items[0]", Message: "must be an object"},
				{Field: "name", Message: "must be a string"},
			}},
		},
		{
			name:        "a NUL in a string",
			contentType: "application/json",
			body:        `{"name":"Ann\u0000","address":{"city":"Oslo\u007f"}}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "address.city", Message: "must not contain control characters"},
				{Field: "name", Message: "must not contain control characters"},
			}},
		},
		{
			name:        "a C1 control and a line feed in single-line text",
			contentType: "application/json",
			body:        `{"name":"Ann\u0085","email":"a\nb@example.com"}`,
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "email", Message: "must not contain control characters"},
				{Field: "name", Message: "must not contain control characters"},
			}},
		},
		{
			name:        "multi-line text may break lines, but holds no other control",
			contentType: "application/json",
			body:        `{"note":"line 1\r\nline 2\tend","notes":["ok\n","bell\u0007"]}`,
			dst:         func() any { return &textual{} },
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "notes[1]", Message: "must not contain control characters other than line breaks and tabs"},
			}},
		},
		{
			name:        "control characters inside raw JSON, maps and keys",
			contentType: "application/json",
			body:        `{"raw":{"k":["\u0001"]},"attrs":{"a\u0000":"b","c":"\u009f"}}`,
			dst:         func() any { return &textual{} },
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "attrs.a\x00", Message: "must not contain control characters"},
				{Field: "attrs.c", Message: "must not contain control characters"},
				{Field: "raw.k[0]", Message: "must not contain control characters"},
			}},
		},
		{
			name:        "opaque text is not checked",
			contentType: "application/json",
			body:        `{"password":"\u0000\u0007"}`,
			dst:         func() any { return &textual{} },
		},
		{
			name:        "unmarshaler problems join the other field errors",
			contentType: "application/json",
			body:        `{"price":1.234,"extra":true}`,
			dst:         func() any { return &struct{ Price cents }{} },
			want: &problem.Problem{Status: 422, Code: "validation_failed", Errors: []problem.FieldError{
				{Field: "extra", Message: "unknown field"},
				{Field: "price", Message: "must have at most 2 decimals"},
			}},
		},
		{
			name:        "too large",
			contentType: "application/json",
			body:        `{"name":"` + strings.Repeat("a", MaxBytes) + `"}`,
			want:        &problem.Problem{Status: 413, Code: "body_too_large"},
		},
		{
			name:        "exactly the limit",
			contentType: "application/json",
			body:        `{"name":"` + strings.Repeat("a", MaxBytes-len(`{"name":""}`)) + `"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			var dst any = &registration{}
			if tt.dst != nil {
				dst = tt.dst()
			}
			got := Decode(httptest.NewRecorder(), req, dst)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("Decode = %v, want success", got)
				}
				return
			}
			if got == nil {
				t.Fatalf("Decode succeeded, want %d %s", tt.want.Status, tt.want.Code)
			}
			if tt.want.Detail == "" {
				got.Detail = ""
			}
			compared := problem.Problem{Status: got.Status, Code: got.Code, Detail: got.Detail, Errors: got.Errors}
			if diff := cmp.Diff(*tt.want, compared); diff != "" {
				t.Errorf("problem mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeFillsDestination(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"Ann","address":{"city":"Oslo"},"items":[{"quantity":2}]}`))
	req.Header.Set("Content-Type", "application/json")
	var got registration
	if p := Decode(httptest.NewRecorder(), req, &got); p != nil {
		t.Fatalf("Decode: %v", p)
	}
	want := registration{Name: "Ann", Address: &address{City: "Oslo"}, Items: []item{{Quantity: 2}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded mismatch (-want +got):\n%s", diff)
	}
}

func TestDecodeLargeBodyWithoutContentLength(t *testing.T) {
	// A chunked body has no Content-Length, so the limit must hold while
	// reading, not only from the header.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"`+strings.Repeat("a", 2*MaxBytes)+`"}`))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	p := Decode(httptest.NewRecorder(), req, &registration{})
	if p == nil || p.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("Decode = %v, want 413", p)
	}
}

func TestDecodeProblemIsWritable(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"email":42}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	problem.Write(rec, Decode(rec, req, &registration{}))
	var body struct {
		Errors []problem.FieldError `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := []problem.FieldError{{Field: "email", Message: "must be a string"}}
	if rec.Code != 422 || !cmp.Equal(body.Errors, want) {
		t.Errorf("got %d %s, want 422 with %v", rec.Code, rec.Body, want)
	}
}
