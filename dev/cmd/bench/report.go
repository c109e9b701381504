package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/travluk/ecom/dev/loadgen"
)

// report is what one suite measured, ready to print and write.
type report struct {
	Suite, Title string
	Started      time.Time
	Machine      machine
	Store        string
	Warmup       time.Duration // before each run of a scenario
	Rounds       int           // runs per scenario, interleaved
	Scenarios    []measurement
	Checks       []check
	Notes        []string
}

// measurement is one scenario's result.
type measurement struct {
	Name, About, Target string
	Result              loadgen.Result // every round added up
	RoundRates          []float64      // req/s of each round
}

// machine says where the numbers come from.
type machine struct {
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpuModel,omitempty"`
	LoadAvg    string `json:"loadAverage,omitempty"` // 1, 5, 15 min, when the suite started
	Go         string `json:"go"`
}

func describeMachine() machine {
	return machine{
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   cpuModel(),
		LoadAvg:    loadAverage(),
		Go:         runtime.Version(),
	}
}

// cpuModel reads the CPU's name on Linux; elsewhere it is empty.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, value, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// loadAverage returns the 1, 5 and 15 minute load averages on Linux;
// elsewhere it is empty.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

func (r report) byName() map[string]loadgen.Result {
	m := make(map[string]loadgen.Result, len(r.Scenarios))
	for _, s := range r.Scenarios {
		m[s.Name] = s.Result
	}
	return m
}

// printTable writes the results and checks for a terminal.
func printTable(w io.Writer, r report) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tconns\trequests\treq/s\tCPU/req\tp50\tp90\tp99\tmax\terrors\t")
	for _, s := range r.Scenarios {
		res := s.Result
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t\n", s.Name, res.Conns, res.Requests, res.Rate(), micros(res.CPUPerRequest()),
			ms(res.Latency.Quantile(0.5)), ms(res.Latency.Quantile(0.9)), ms(res.Latency.Quantile(0.99)), ms(res.Latency.Max()), res.Errors)
	}
	tw.Flush()
	for _, s := range r.Scenarios {
		for _, e := range s.Result.ErrorSummary() {
			fmt.Fprintf(w, "  %s error: %s\n", s.Name, e)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "%s\t%s\t(target %s)\t%s\n", c.What, orDash(c.Got), c.Want, c.verdict())
	}
	tw.Flush()
	for _, n := range r.Notes {
		if n != handicapNote { // it is for the files: the terminal's reader started the run
			fmt.Fprintln(w, "note:", n)
		}
	}
}

// write writes <suite>.md, .json and .svg into dir and returns their paths.
func (r report) write(dir string) ([]string, error) {
	files := map[string][]byte{
		r.Suite + ".md":  []byte(r.markdown()),
		r.Suite + ".svg": []byte(latencyChart(r)),
	}
	js, err := json.MarshalIndent(r.jsonDoc(), "", "  ")
	if err != nil {
		return nil, err
	}
	files[r.Suite+".json"] = append(js, '\n')
	var paths []string
	for _, ext := range []string{".md", ".json", ".svg"} {
		p := filepath.Join(dir, r.Suite+ext)
		if err := os.WriteFile(p, files[r.Suite+ext], 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func (r report) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "Run %s on %s/%s, %d CPUs", r.Started.Format(time.RFC3339), m.OS, m.Arch, m.CPUs)
	if m.CPUModel != "" {
		fmt.Fprintf(&b, " (%s)", m.CPUModel)
	}
	fmt.Fprintf(&b, ", GOMAXPROCS %d, %s", m.GOMAXPROCS, m.Go)
	if m.LoadAvg != "" {
		fmt.Fprintf(&b, ", load average %s before the run", m.LoadAvg)
	}
	fmt.Fprintf(&b, ". Store: %s.\n", r.Store)
	fmt.Fprintf(&b, "Closed loop, one keep-alive connection per worker. Each scenario ran %d times, interleaved with the others "+
		"(round 1: every scenario once, round 2: again, ...), each run after a %s unmeasured warm-up; "+
		"the table adds the runs up.\n\n", r.Rounds, r.Warmup)

	b.WriteString("| scenario | conns | measured | requests | req/s | req/s by round | CPU per request | p50 | p90 | p99 | p99.9 | max | errors |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		res := s.Result
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %.0f | %s | %s | %s | %s | %s | %s | %s | %d |\n", s.Name, res.Conns, res.Duration.Round(10*time.Millisecond), res.Requests, res.Rate(),
			roundRates(s.RoundRates), micros(res.CPUPerRequest()), ms(res.Latency.Quantile(0.5)), ms(res.Latency.Quantile(0.9)), ms(res.Latency.Quantile(0.99)),
			ms(res.Latency.Quantile(0.999)), ms(res.Latency.Max()), res.Errors)
	}
	b.WriteString("\n| target | measured | wanted | verdict |\n|---|--:|--:|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.What, orDash(c.Got), c.Want, c.verdict())
	}
	fmt.Fprintf(&b, "\n![p50 and p99 latency per scenario](%s.svg)\n\n## Scenarios\n\n", r.Suite)
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "- **%s**: %s — `GET %s`\n", s.Name, s.About, s.Target)
		for _, e := range s.Result.ErrorSummary() {
			fmt.Fprintf(&b, "  - error: %s\n", e)
		}
	}
	b.WriteString("\n## Notes\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.String()
}

// jsonDoc is the machine-readable form; latencies in milliseconds.
func (r report) jsonDoc() any {
	type latency struct {
		P50, P90, P99, P999, Max, Mean float64
	}
	type scenarioDoc struct {
		Name            string            `json:"name"`
		About           string            `json:"about"`
		Target          string            `json:"target"`
		Conns           int               `json:"conns"`
		DurationSeconds float64           `json:"durationSeconds"` // measured, all rounds
		RoundRates      []float64         `json:"requestsPerSecondByRound"`
		Requests        uint64            `json:"requests"`
		Errors          uint64            `json:"errors"`
		ErrorKinds      map[string]uint64 `json:"errorKinds,omitempty"`
		RequestsPerSec  float64           `json:"requestsPerSecond"`
		// The whole process's CPU time per request (servers and load
		// generator), 0 when unknown.
		CPUMicrosPerReq float64 `json:"cpuMicrosecondsPerRequest"`
		LatencyMs       latency `json:"latencyMs"`
	}
	doc := struct {
		Suite         string        `json:"suite"`
		Title         string        `json:"title"`
		Started       time.Time     `json:"started"`
		Machine       machine       `json:"machine"`
		Store         string        `json:"store"`
		WarmupSeconds float64       `json:"warmupSeconds"` // before each run
		Rounds        int           `json:"rounds"`
		Scenarios     []scenarioDoc `json:"scenarios"`
		Checks        []check       `json:"checks"`
		Notes         []string      `json:"notes"`
	}{r.Suite, r.Title, r.Started, r.Machine, r.Store, r.Warmup.Seconds(), r.Rounds, nil, r.Checks, r.Notes}
	for _, s := range r.Scenarios {
		res, h := s.Result, s.Result.Latency
		doc.Scenarios = append(doc.Scenarios, scenarioDoc{
			Name: s.Name, About: s.About, Target: s.Target, Conns: res.Conns,
			DurationSeconds: res.Duration.Seconds(), RoundRates: s.RoundRates, Requests: res.Requests, Errors: res.Errors,
			ErrorKinds: res.ErrorKinds, RequestsPerSec: res.Rate(), CPUMicrosPerReq: float64(res.CPUPerRequest()) / float64(time.Microsecond),
			LatencyMs: latency{
				P50: msFloat(h.Quantile(0.5)), P90: msFloat(h.Quantile(0.9)), P99: msFloat(h.Quantile(0.99)),
				P999: msFloat(h.Quantile(0.999)), Max: msFloat(h.Max()), Mean: msFloat(h.Mean()),
			},
		})
	}
	return doc
}

// ms formats a latency in milliseconds with three significant digits.
func ms(d time.Duration) string {
	v := msFloat(d)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func msFloat(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// micros formats a CPU time per request in microseconds; zero is unknown.
func micros(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond))
}

// roundRates lists rates as "17.1k / 16.9k / 17.4k".
func roundRates(rates []float64) string {
	parts := make([]string, len(rates))
	for i, r := range rates {
		parts[i] = fmt.Sprintf("%.1fk", r/1000)
	}
	return strings.Join(parts, " / ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
