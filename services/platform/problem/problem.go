// Package problem writes RFC 9457 problem details, the one error format of
// every travluk HTTP API.
//
// A Problem carries a stable machine code next to the human text, so that
// clients branch on Code and never on Detail. Server errors (5xx) are written
// without internals: Internal has a fixed detail, and Write drops field
// errors from a 500 and replaces its detail. Other server errors, such as
// 503, carry only what their caller chose to tell clients.
package problem

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// typeBase is the prefix of every problem type URI with a code. The URIs
// identify problem kinds; they are not promised to resolve.
const typeBase = "https://travluk.dev/problems/"

// internalDetail is the only detail a 500 ever carries.
const internalDetail = "An unexpected error occurred. Please try again later."

// FieldError names one request field that failed validation and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details object with a stable code.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Code   string       `json:"code"`
	Errors []FieldError `json:"errors,omitempty"`
	// RetryAfter, when positive, is sent as a Retry-After header in whole
	// seconds, rounded up, at least 1.
	RetryAfter time.Duration `json:"-"`
}

// Error returns the status, code and detail, so that a Problem can travel as
// an error through code that does not know about HTTP.
func (p *Problem) Error() string {
	if p.Detail == "" {
		return fmt.Sprintf("%d %s", p.Status, p.Code)
	}
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}

// New returns a problem with the given status, code and detail. The type is
// derived from the code, and the title is the standard status text.
func New(status int, code, detail string) *Problem {
	typ := "about:blank"
	if code != "" {
		typ = typeBase + code
	}
	return &Problem{
		Type:   typ,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Validation returns a 422 problem with code "validation_failed" listing the
// fields that failed.
func Validation(errs ...FieldError) *Problem {
	p := New(http.StatusUnprocessableEntity, "validation_failed", "The request has invalid fields.")
	p.Errors = errs
	return p
}

// Internal returns a 500 problem with a generic detail. Callers log the real
// cause; it never reaches the client.
func Internal() *Problem {
	return New(http.StatusInternalServerError, "internal", internalDetail)
}

// Unavailable returns a 503 problem with code "unavailable" that asks the
// client to retry after retryAfter. The detail must be fit for clients: say
// what is unavailable, not why.
func Unavailable(detail string, retryAfter time.Duration) *Problem {
	p := New(http.StatusServiceUnavailable, "unavailable", detail)
	p.RetryAfter = retryAfter
	return p
}

// Write sends p as application/problem+json with p.Status. A nil p, or one
// whose status is not an HTTP error status, is written as Internal, because
// reaching Write without a proper problem is itself a bug.
func Write(w http.ResponseWriter, p *Problem) {
	if p == nil || p.Status < 400 || p.Status > 599 {
		p = Internal()
	}
	out := *p
	if out.Type == "" {
		out.Type = "about:blank"
	}
	if out.Title == "" {
		out.Title = http.StatusText(out.Status)
	}
	if out.Status == http.StatusInternalServerError {
		// A 500 is a bug or an outage nobody named; whatever detail it was
		// given is an internal, so the client gets the generic text only.
		out.Detail = internalDetail
		out.Errors = nil
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	if out.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(out.RetryAfter), 10))
	}
	w.WriteHeader(out.Status)
	// An encoding error here means the client went away; there is no one
	// left to tell.
	_ = json.NewEncoder(w).Encode(out)
}

// RetryAfterSeconds converts d to the whole seconds of a Retry-After header:
// rounded up, and at least 1 so that a client never retries at once.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// MergeFields returns first followed by the errors of more whose field is
// neither named in first nor inside a field named there, so that a field
// the body already got wrong (say, "name" was a number) is not reported
// again by a check of its value (as "name is required").
func MergeFields(first, more []FieldError) []FieldError {
	out := append([]FieldError(nil), first...)
	for _, m := range more {
		covered := false
		for _, f := range first {
			if m.Field == f.Field || strings.HasPrefix(m.Field, f.Field+".") || strings.HasPrefix(m.Field, f.Field+"[") {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, m)
		}
	}
	return out
}
