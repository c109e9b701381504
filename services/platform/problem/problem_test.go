package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name       string
		problem    *Problem
		wantStatus int
		wantRetry  string
		wantBody   map[string]any
	}{
		{
			name:       "validation",
			problem:    Validation(FieldError{Field: "email", Message: "must be a string"}),
			wantStatus: 422,
			wantBody: map[string]any{
				"type": "https://travluk.dev/problems/validation_failed", "title": "Unprocessable Entity",
				"status": 422.0, "detail": "The request has invalid fields.", "code": "validation_failed",
				"errors": []any{map[string]any{"field": "email", "message": "must be a string"}},
			},
		},
		{
			name:       "conflict",
			problem:    New(409, "email_taken", "The email address is already registered."),
			wantStatus: 409,
			wantBody: map[string]any{
				"type": "https://travluk.dev/problems/email_taken", "title": "Conflict", "status": 409.0,
				"detail": "The email address is already registered.", "code": "email_taken",
			},
		},
		{
			name:       "unavailable rounds retry up",
			problem:    Unavailable("Sessions are unavailable.", 1500*time.Millisecond),
			wantStatus: 503,
			wantRetry:  "2",
			wantBody: map[string]any{
				"type": "https://travluk.dev/problems/unavailable", "title": "Service Unavailable",
				"status": 503.0, "detail": "Sessions are unavailable.", "code": "unavailable",
			},
		},
		{
			name: "500 hides internals",
			problem: &Problem{Status: 500, Code: "internal", Detail: "mongo: dial tcp 10.0.0.1:27017: refused",
				Errors: []FieldError{{Field: "x", Message: "stack"}}},
			wantStatus: 500,
			wantBody: map[string]any{
				"type": "about:blank", "title": "Internal Server Error", "status": 500.0,
				"detail": internalDetail, "code": "internal",
			},
		},
		{
			name:       "nil is internal",
			problem:    nil,
			wantStatus: 500,
			wantBody: map[string]any{
				"type": "https://travluk.dev/problems/internal", "title": "Internal Server Error",
				"status": 500.0, "detail": internalDetail, "code": "internal",
			},
		},
		{
			name:       "non-error status is internal",
			problem:    New(200, "ok", "fine"),
			wantStatus: 500,
			wantBody: map[string]any{
				"type": "https://travluk.dev/problems/internal", "title": "Internal Server Error",
				"status": 500.0, "detail": internalDetail, "code": "internal",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tt.problem)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/problem+json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if diff := cmp.Diff(tt.wantBody, body); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want int64
	}{
		{time.Nanosecond, 1},
		{100 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{2500 * time.Millisecond, 3},
		{time.Minute, 60},
	}
	for _, tt := range tests {
		if got := RetryAfterSeconds(tt.in); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestProblemIsError(t *testing.T) {
	var err error = New(http.StatusConflict, "email_taken", "taken")
	if !strings.Contains(err.Error(), "email_taken") {
		t.Errorf("Error() = %q, want the code in it", err.Error())
	}
}
