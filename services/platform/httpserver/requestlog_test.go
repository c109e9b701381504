package httpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// lockedBuffer is a log destination the server's goroutines may share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// requestLines returns the "request" lines logged so far, decoded.
func (b *lockedBuffer) requestLines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestRequestLog sends requests to the app and to the probes: each request
// to the app is logged once, with its route template (not its path), status,
// duration, request id (the client's when usable, else a new one, sent back
// either way) and trace id; probes are not logged.
func TestRequestLog(t *testing.T) {
	// Traced, as telemetry.Setup makes it: every request has a trace id,
	// the caller's when it sent a traceparent.
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	var logs lockedBuffer
	s := start(t, Options{Handler: testRouter(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	tests := []struct {
		path, requestID, traceparent string
		wantID                       string // "" when a new one is wanted
		want                         map[string]any
	}{
		{"/items/9", "client-id_1.2:3", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "client-id_1.2:3",
			map[string]any{"method": "GET", "route": "/items/{id}", "status": 200.0, "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}},
		{"/nowhere", "", "", "", map[string]any{"method": "GET", "route": "unmatched", "status": 404.0}},
		{"/items/8", `forged" level=ERROR`, "", "", map[string]any{"method": "GET", "route": "/items/{id}", "status": 200.0}},
		{"/items/7", strings.Repeat("x", 129), "", "", map[string]any{"method": "GET", "route": "/items/{id}", "status": 200.0}},
		{"/panic", "", "", "", map[string]any{"method": "GET", "route": "/panic", "status": 500.0}},
	}
	newID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	newTraceID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	var sentIDs []string
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, s.url+tt.path, nil)
		if tt.requestID != "" {
			req.Header[requestIDHeader] = []string{tt.requestID} // as sent, unvalidated
		}
		if tt.traceparent != "" {
			req.Header.Set("traceparent", tt.traceparent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(requestIDHeader)
		if tt.wantID != "" && got != tt.wantID || tt.wantID == "" && !newID.MatchString(got) {
			t.Errorf("%s: X-Request-Id = %q, want %q (or 16 new hex digits when empty)", tt.path, got, tt.wantID)
		}
		sentIDs = append(sentIDs, got)
	}
	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _, _ := get(t, s.url+probe); code != http.StatusOK {
			t.Fatalf("%s = %d", probe, code)
		}
	}

	lines := logs.requestLines(t)
	if len(lines) != len(tests) {
		t.Fatalf("%d request lines, want %d (one per app request, none for probes): %v", len(lines), len(tests), lines)
	}
	for i, tt := range tests {
		line := lines[i]
		if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("%s: duration_ms = %v, want a duration", tt.path, line["duration_ms"])
		}
		if line["request_id"] != sentIDs[i] {
			t.Errorf("%s: logged request_id %v, answered %q", tt.path, line["request_id"], sentIDs[i])
		}
		if line["level"] != "INFO" {
			t.Errorf("%s: level = %v, want INFO", tt.path, line["level"])
		}
		if tt.want["trace_id"] == nil && !newTraceID.MatchString(fmt.Sprint(line["trace_id"])) {
			t.Errorf("%s: trace_id = %v, want a new trace's", tt.path, line["trace_id"])
		}
		got := map[string]any{}
		keys := []string{"method", "route", "status"}
		if tt.want["trace_id"] != nil {
			keys = append(keys, "trace_id")
		}
		for _, k := range keys {
			if v, ok := line[k]; ok {
				got[k] = v
			}
		}
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: request line (-want +got):\n%s", tt.path, diff)
		}
	}
}

// TestRequestLogFollowsTheLevel: above info, no request lines.
func TestRequestLogFollowsTheLevel(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := start(t, Options{Handler: testRouter(), Logger: logger})
	if code, _, _ := get(t, s.url+"/items/1"); code != http.StatusOK {
		t.Fatalf("GET /items/1 = %d", code)
	}
	if lines := logs.requestLines(t); len(lines) != 0 {
		t.Errorf("LOG_LEVEL warn still logged %d request lines: %v", len(lines), lines)
	}
}
