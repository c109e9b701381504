package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOneLogFormat runs the program, sends one request through the stand-in
// and reads what it printed: every line is a progress line ("travluk: …" or
// the indented block under the ready line) or a JSON log line with time, level, msg and
// service, whoever wrote it; the request has its one request line with its
// X-Request-Id; and LOG_LEVEL=warn, read by every part, silences the info
// lines.
func TestOneLogFormat(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program")
	}
	for _, tt := range []struct {
		level        string
		wantRequests bool
	}{
		{"", true},
		{"warn", false},
	} {
		t.Run("LOG_LEVEL="+tt.level, func(t *testing.T) {
			env := shopEnv(t)
			if tt.level != "" {
				env["LOG_LEVEL"] = tt.level
			}
			p := startProgram(t, env)
			p.waitReady(t, 60*time.Second)
			req, _ := http.NewRequest(http.MethodGet, "http://"+env["INGRESS_ADDR"]+"/api/products?limit=1", nil)
			req.Header.Set("X-Request-Id", "log-format-test")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") != "log-format-test" {
				t.Fatalf("GET /api/products = %d with X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
			}
			// The line is written after the answer; give it a moment to appear.
			var requests []map[string]any
			deadline := time.Now().Add(5 * time.Second)
			for {
				requests = nil
				for _, line := range strings.Split(strings.TrimSpace(p.stdout.String()), "\n") {
					if strings.HasPrefix(line, "travluk: ") || strings.HasPrefix(line, "  ") { // the ready block is indented
						continue
					}
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("a line is neither progress nor a JSON log line: %q", line)
					}
					for _, k := range []string{"time", "level", "msg", "service"} {
						if _, ok := m[k]; !ok {
							t.Errorf("log line without %q: %s", k, line)
						}
					}
					if m["level"] == "INFO" && tt.level == "warn" {
						t.Errorf("LOG_LEVEL=warn, yet an info line: %s", line)
					}
					if m["msg"] == "request" && m["request_id"] == "log-format-test" {
						requests = append(requests, m)
					}
				}
				if len(requests) > 0 || !tt.wantRequests || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			want := 0
			if tt.wantRequests {
				want = 1
			}
			if len(requests) != want {
				t.Fatalf("%d request lines for the request, want %d: %v", len(requests), want, requests)
			}
			if want == 1 && (requests[0]["service"] != "product" || requests[0]["route"] != "/api/products" || requests[0]["status"] != 200.0) {
				t.Errorf("request line = %v, want product's GET /api/products 200", requests[0])
			}
		})
	}
}
