package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/travluk/ecom/dev/loadgen"
)

func TestNiceCeil(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0, 0.1}, {0.07, 0.1}, {0.9, 1}, {1, 1}, {1.2, 1.5}, {11.2, 15}, {16, 20}, {31, 40}, {95, 100},
	}
	for _, tt := range tests {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestReportFiles writes the three results files of a made-up run and reads
// them back: the table has every scenario, the JSON decodes, the SVG is XML.
func TestReportFiles(t *testing.T) {
	results := map[string]loadgen.Result{}
	var rep report
	for i, name := range []string{"ceiling", "ingress", "direct"} {
		h := new(loadgen.Histogram)
		for j := range 1000 {
			h.Record(time.Duration(i+1) * time.Duration(j+1) * time.Microsecond)
		}
		res := loadgen.Result{Conns: 64, Duration: 10 * time.Second, Requests: 1000 * uint64(3-i), Latency: h, CPU: 150 * time.Millisecond}
		results[name] = res
		rep.Scenarios = append(rep.Scenarios, measurement{Name: name, About: "about " + name, Target: "http://x/" + name, Result: res, RoundRates: []float64{res.Rate()}})
	}
	c := &catalog{read: readTarget{service: "customer", path: "/.well-known/jwks.json", placeholder: true}}
	rep.Suite, rep.Title, rep.Rounds = "catalog", "Catalog <test>", 1
	rep.Checks = c.checks(results)
	rep.Notes = append(c.notes(), handicapNote)

	dir := t.TempDir()
	if _, err := rep.write(dir); err != nil {
		t.Fatal(err)
	}
	md := read(t, filepath.Join(dir, "catalog.md"))
	for _, want := range []string{"| ceiling | 64 | 10s | 3000 | 300 | 0.3k | 50.0 µs |", "| ingress ÷ ceiling (req/s) | 0.67 | ≥ 0.70 | MISSED |", "PLACEHOLDER", "![p50 and p99"} {
		if !strings.Contains(md, want) {
			t.Errorf("catalog.md lacks %q:\n%s", want, md)
		}
	}
	var doc struct {
		Scenarios []struct {
			Name      string
			LatencyMs struct{ P50 float64 }
			CPU       float64 `json:"cpuMicrosecondsPerRequest"`
		}
		Checks []check
	}
	if err := json.Unmarshal([]byte(read(t, filepath.Join(dir, "catalog.json"))), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Scenarios) != 3 || doc.Scenarios[0].LatencyMs.P50 < 0.49 || doc.Scenarios[0].LatencyMs.P50 > 0.51 || doc.Scenarios[0].CPU != 50 {
		t.Errorf("catalog.json scenarios = %+v", doc.Scenarios)
	}
	dec := xml.NewDecoder(strings.NewReader(read(t, filepath.Join(dir, "catalog.svg"))))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("catalog.svg is not XML: %v", err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-duration", "3s", "-scenarios", "ceiling, ingress"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.duration != 3*time.Second || o.conns != 64 || o.warmup != 2*time.Second || o.out != "bench-results" {
		t.Errorf("options = %+v", o)
	}
	if !o.wants("catalog", "ingress") || o.wants("catalog", "direct") {
		t.Errorf("selection %v: wants ingress, not direct", o.selected)
	}
	if _, err := parseFlags([]string{"-scenarios", "nope"}, io.Discard); err == nil {
		t.Error("unknown scenario accepted")
	}
	if o, _ := parseFlags([]string{"-scenarios", "catalog"}, io.Discard); !o.wants("catalog", "direct") {
		t.Error("a suite name does not select its scenarios")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNoiseNote(t *testing.T) {
	steady := measurement{Name: "steady", RoundRates: []float64{100, 105, 95}}
	bursty := measurement{Name: "bursty", RoundRates: []float64{100, 50, 100}}
	if n := noiseNote([]measurement{steady}); n != "" {
		t.Errorf("steady rounds flagged: %s", n)
	}
	if n := noiseNote([]measurement{steady, bursty}); !strings.Contains(n, "bursty (60%)") || strings.Contains(n, "steady") {
		t.Errorf("note = %q, want bursty (60%%) only", n)
	}
}
