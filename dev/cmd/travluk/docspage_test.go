package main

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// browser returns the headless Chromium the page test runs, or skips t when
// there is none (CI installs Debian's chromium; REQUIRE_SERVICES=1 turns the
// skip into a failure).
func browser(t *testing.T) string {
	t.Helper()
	if path := os.Getenv("CHROMIUM"); path != "" {
		return path
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("REQUIRE_SERVICES") != "" {
			t.Fatal("no chromium on PATH (Debian's package chromium), and REQUIRE_SERVICES is set")
		}
		t.Skip("no chromium on PATH")
	}
	return path
}

// renderedDOM loads url in headless Chromium, lets its scripts run, and
// returns the document as the browser built it.
func renderedDOM(t *testing.T, chromium, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The flags keep Chromium off the network it would call at start
	// (updates, sync, QUIC): this machine's network is closed.
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=15000", "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom %s: %v", url, err)
	}
	return string(out)
}

// TestDocsPageInABrowser opens / of a running shop in a real browser: the
// page renders every service's OpenAPI document and the AsyncAPI document,
// every operation each document declares is on the page, and nothing failed
// to load.
func TestDocsPageInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the make run program and a browser")
	}
	chromium := browser(t)
	env := shopEnv(t)
	p := startProgram(t, env)
	p.waitReady(t, 60*time.Second)
	base := "http://" + env["INGRESS_ADDR"]

	dom := renderedDOM(t, chromium, base+"/")
	if !regexp.MustCompile(`<body[^>]*data-state="done"`).MatchString(dom) {
		t.Fatalf("the page did not finish rendering:\n%.2000s", dom)
	}
	states := regexp.MustCompile(`<section class="doc" id="([a-z]+)"[^>]*data-state="([a-z]+)"`).FindAllStringSubmatch(dom, -1)
	rendered := map[string]string{}
	for _, m := range states {
		rendered[m[1]] = m[2]
	}
	if diff := cmp.Diff(map[string]string{"customer": "rendered", "product": "rendered", "order": "rendered", "events": "rendered"}, rendered); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}

	onPage := map[string]bool{}
	for _, m := range regexp.MustCompile(`data-operation="([^"]+)"`).FindAllStringSubmatch(dom, -1) {
		onPage[html.UnescapeString(m[1])] = true
	}
	for _, doc := range []string{"/api/customers/openapi.json", "/api/products/openapi.json", "/api/orders/openapi.json"} {
		for _, op := range openAPIOperations(t, base+doc) {
			if !onPage[op] {
				t.Errorf("%s declares %s; the page does not show it", doc, op)
			}
		}
	}
	var async struct {
		Operations map[string]any `json:"operations"`
		Channels   map[string]any `json:"channels"`
	}
	getJSON(t, base+"/docs/asyncapi.json", &async)
	if len(async.Operations) == 0 || len(async.Channels) == 0 {
		t.Fatalf("the AsyncAPI document has %d operations and %d channels", len(async.Operations), len(async.Channels))
	}
	for name := range async.Operations {
		if !onPage[name] {
			t.Errorf("the AsyncAPI document declares operation %s; the page does not show it", name)
		}
	}
	for name := range async.Channels {
		if !regexp.MustCompile(`data-channel="` + regexp.QuoteMeta(name) + `"`).MatchString(dom) {
			t.Errorf("the AsyncAPI document declares channel %s; the page does not show it", name)
		}
	}
	if regexp.MustCompile(`class="error"`).MatchString(dom) {
		t.Errorf("the page shows an error:\n%.3000s", dom)
	}
}

// openAPIOperations returns "METHOD /path" of every operation of the
// OpenAPI document at url.
func openAPIOperations(t *testing.T, url string) []string {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	getJSON(t, url, &doc)
	var ops []string
	for path, item := range doc.Paths {
		for _, method := range []string{"get", "put", "post", "delete", "patch"} {
			if _, ok := item[method]; ok {
				ops = append(ops, map[string]string{"get": "GET", "put": "PUT", "post": "POST", "delete": "DELETE", "patch": "PATCH"}[method]+" "+path)
			}
		}
	}
	if len(ops) == 0 {
		t.Fatalf("%s declares no operation", url)
	}
	sort.Strings(ops)
	return ops
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
