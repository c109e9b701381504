package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// waitHealthy polls url until it answers 200, failing t with the
// container's log if the container exits or the deadline passes first.
func waitHealthy(t *testing.T, ctr, url string, deadline time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	start := time.Now()
	var last string
	for time.Since(start) < deadline {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Logf("GET /healthz: 200 after %s", time.Since(start).Round(10*time.Millisecond))
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if state := containerState(t, ctr); state != "running" {
			t.Fatalf("the container stopped (%s) before /healthz answered 200 (last: %s); its log:\n%s", state, last, containerLog(ctr))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s: no 200 within %s (last: %s); the container's log:\n%s", url, deadline, last, containerLog(ctr))
}

// containerState is "running", or the state and exit code of a container
// that is not.
func containerState(t *testing.T, ctr string) string {
	t.Helper()
	out := podman(t, "inspect", "--format", "{{.State.Status}}, exit code {{.State.ExitCode}}", ctr)
	state, _, _ := strings.Cut(string(bytes.TrimSpace(out)), ",")
	if state == "running" {
		return state
	}
	return string(bytes.TrimSpace(out))
}

// containerLog is what the service wrote, stdout and stderr, or why it
// cannot be read.
func containerLog(ctr string) string {
	out, err := exec.Command("podman", "logs", ctr).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(podman logs: %v) %s", err, out)
	}
	return string(out)
}

// checkProcessUser checks the service process, as `podman top` sees it,
// runs as the non-root user and group: podman names them from the image's
// /etc/passwd and /etc/group, where 65532 is "nonroot".
func checkProcessUser(t *testing.T, ctr string) {
	t.Helper()
	out := podman(t, "top", ctr, "user", "group")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("podman top: want a header and one process, got:\n%s", out)
	}
	if got, want := strings.Join(strings.Fields(lines[1]), ":"), "nonroot:nonroot"; got != want {
		t.Errorf("the service process runs as user:group %s, want %s (%s)", got, want, nonRootUser)
	}
}

func decodeJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %.200s: %v", data, err)
	}
}
