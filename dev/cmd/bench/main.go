// Command bench is `make bench`: it starts the whole shop in this process
// (stack.Run, on free loopback ports, with the embedded stores unless
// MONGODB_URI and REDIS_URL name real ones), prepares the data each
// benchmark needs, drives closed-loop HTTP load at it with the loadgen
// package, and writes what it measured to bench-results/ as Markdown, JSON
// and an SVG chart.
//
// Each suite is one issue's benchmark; its scenarios run in the same process
// one after another, so the ratios between them hold on a noisy machine. The
// load generator shares the CPU with the servers it measures; every scenario
// carries the same handicap.
//
//	go run ./dev/cmd/bench                          # every suite, 10 s per scenario
//	go run ./dev/cmd/bench -duration 3s -rounds 1 -scenarios ceiling,ingress
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/travluk/ecom/dev/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	duration, warmup time.Duration
	conns, rounds    int
	out              string
	selected         []string // suite or scenario names; empty means all
	// cpuProfile and memProfile name pprof files covering the measured
	// runs (set up and warm-ups included), for finding where the time goes.
	cpuProfile, memProfile string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var scenarios string
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured warm-up before each run of a scenario (every round)")
	fs.IntVar(&o.conns, "conns", 64, "concurrent connections (one worker each) for scenarios that do not fix their own")
	fs.IntVar(&o.rounds, "rounds", 3, "split each scenario's -duration into this many runs, interleaved with the other scenarios', so a burst of noise on the machine hits them all alike")
	fs.StringVar(&o.out, "out", "bench-results", "directory for the results files")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process (servers and load generator) to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the whole process to this file at the end")
	fs.StringVar(&scenarios, "scenarios", "", "comma-separated suites or scenarios to run (default all): "+strings.Join(allNames(), ", "))
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.duration <= 0 || o.warmup < 0 || o.conns < 1 || o.rounds < 1 {
		return o, errors.New("need -duration > 0, -warmup ≥ 0, -conns ≥ 1 and -rounds ≥ 1")
	}
	known := allNames()
	for _, s := range strings.Split(scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(known, s) {
			return o, fmt.Errorf("unknown scenario %q (known: %s)", s, strings.Join(known, ", "))
		}
		o.selected = append(o.selected, s)
	}
	return o, nil
}

// wants reports whether scenario of suite was selected.
func (o options) wants(suite, scenario string) bool {
	return len(o.selected) == 0 || slices.Contains(o.selected, suite) || slices.Contains(o.selected, scenario)
}

// allNames lists every suite and scenario name the -scenarios flag takes.
func allNames() []string {
	var names []string
	for _, s := range suites() {
		names = append(names, s.name())
		names = append(names, s.scenarioNames()...)
	}
	return names
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	var chosen []suite
	for _, s := range suites() {
		if slices.ContainsFunc(s.scenarioNames(), func(n string) bool { return o.wants(s.name(), n) }) {
			chosen = append(chosen, s)
		}
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(o.out, "stack.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()

	fmt.Fprintf(stdout, "starting the shop (logs in %s) ...\n", logFile.Name())
	sh, err := startShop(ctx, getenv, logFile)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := sh.stop(); stopErr != nil {
			fmt.Fprintln(stdout, "bench: stopping the shop:", stopErr)
		}
	}()
	fmt.Fprintf(stdout, "shop up: ingress %s, services %v, store %s\n", sh.addrs.Ingress, sh.addrs.Services, sh.store)

	stopProfiles, err := startProfiles(o)
	if err != nil {
		return err
	}
	for _, s := range chosen {
		if err := runSuite(ctx, s, sh, o, stdout); err != nil {
			_ = stopProfiles()
			return fmt.Errorf("%s: %w", s.name(), err)
		}
	}
	return stopProfiles()
}

// startProfiles starts the CPU profile the options ask for and returns the
// function that stops it and writes the allocation profile.
func startProfiles(o options) (stop func() error, err error) {
	var cpu *os.File
	if o.cpuProfile != "" {
		if cpu, err = os.Create(o.cpuProfile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, err
		}
	}
	if o.memProfile != "" {
		runtime.MemProfileRate = 64 << 10 // enough samples for a short run, cheap enough not to skew it
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return err
			}
		}
		if o.memProfile == "" {
			return nil
		}
		f, err := os.Create(o.memProfile)
		if err != nil {
			return err
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

// runSuite prepares one suite, measures its selected scenarios round after
// round (each round runs every scenario once, with its warm-up, for its
// share of the duration) and writes the results.
func runSuite(ctx context.Context, s suite, sh *shop, o options, stdout io.Writer) error {
	defer s.close()
	fmt.Fprintf(stdout, "\n== %s ==\n", s.title())
	scenarios, err := s.prepare(ctx, sh, o)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	defer func() {
		for _, sc := range scenarios {
			if sc.cleanup != nil {
				sc.cleanup()
			}
		}
	}()
	rep := report{
		Suite:   s.name(),
		Title:   s.title(),
		Started: time.Now().UTC(),
		Machine: describeMachine(),
		Store:   sh.store,
		Warmup:  o.warmup,
		Rounds:  o.rounds,
	}
	rep.Scenarios = make([]measurement, len(scenarios))
	for round := 1; round <= o.rounds; round++ {
		fmt.Fprintf(stdout, "round %d/%d:", round, o.rounds)
		for i, sc := range scenarios {
			cfg := loadgen.Config{Conns: cmp.Or(sc.conns, o.conns), Warmup: o.warmup, Duration: cmp.Or(sc.duration, o.duration) / time.Duration(o.rounds), Op: sc.op}
			runtime.GC() // start each run from the same heap state
			res, err := loadgen.Run(ctx, cfg)
			if err != nil {
				return fmt.Errorf("scenario %s: %w", sc.name, err)
			}
			m := &rep.Scenarios[i]
			m.Name, m.About, m.Target = sc.name, sc.about, sc.target
			m.Result.Add(res)
			m.RoundRates = append(m.RoundRates, res.Rate())
			fmt.Fprintf(stdout, "  %s %.0f req/s", sc.name, res.Rate())
		}
		fmt.Fprintln(stdout)
	}
	rep.Checks = s.checks(rep.byName())
	rep.Notes = append(s.notes(), handicapNote)
	if n := noiseNote(rep.Scenarios); n != "" {
		rep.Notes = append(rep.Notes, n)
	}

	printTable(stdout, rep)
	files, err := rep.write(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "results: %s\n", strings.Join(files, ", "))
	return nil
}

// noisyRounds is the spread between a scenario's fastest and slowest round,
// relative to its mean, above which the machine was busy with something
// else during the run.
const noisyRounds = 0.2

// noiseNote warns when some scenario's rounds differ by more than
// noisyRounds; it is empty otherwise.
func noiseNote(ms []measurement) string {
	var noisy []string
	for _, m := range ms {
		if len(m.RoundRates) < 2 {
			continue
		}
		lo, hi, sum := slices.Min(m.RoundRates), slices.Max(m.RoundRates), 0.0
		for _, r := range m.RoundRates {
			sum += r
		}
		if mean := sum / float64(len(m.RoundRates)); mean > 0 && (hi-lo)/mean > noisyRounds {
			noisy = append(noisy, fmt.Sprintf("%s (%.0f%%)", m.Name, 100*(hi-lo)/mean))
		}
	}
	if len(noisy) == 0 {
		return ""
	}
	return fmt.Sprintf("NOISY: the rounds of %s differ by more than %.0f%% of their mean: something else "+
		"used the CPU during the run. Compare scenarios within a round, or run again on a quiet machine.",
		strings.Join(noisy, ", "), 100*noisyRounds)
}

// handicapNote goes into every results file.
const handicapNote = "The load generator runs in the same process as the servers it measures, so on a " +
	"small machine it takes a large share of the CPU from them; every scenario carries the same " +
	"handicap, which keeps the ratios between scenarios meaningful while the absolute rates " +
	"understate what the servers reach alone. GOMAXPROCS is Go's default (every CPU). " +
	"CPU per request is the whole process's CPU time (servers, embedded stores and load generator) " +
	"over the measured window divided by the requests: it moves far less than req/s when other " +
	"programs take the CPU, so it is the steadier way to compare two versions on a noisy machine."
