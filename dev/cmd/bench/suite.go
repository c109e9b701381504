package main

import (
	"context"
	"time"

	"github.com/travluk/ecom/dev/loadgen"
)

// suite is one issue's benchmark: the data and servers it prepares, the
// scenarios it measures in one run, and the targets it checks them against.
// Its results go to <out>/<name>.md, .json and .svg.
type suite interface {
	name() string
	title() string
	// scenarioNames lists every scenario, in the order they run.
	scenarioNames() []string
	// prepare readies what the selected scenarios need and returns them,
	// in run order.
	prepare(ctx context.Context, sh *shop, o options) ([]scenario, error)
	// checks compares the measurements (by scenario name; a scenario not
	// run is missing) with the targets.
	checks(results map[string]loadgen.Result) []check
	// notes say what a reader of the results must know (placeholders,
	// what the ceiling is).
	notes() []string
	// close stops what prepare started.
	close()
}

// suites returns every benchmark, in the order they run. The order-flow
// suite (issue 4: buys from 8 customers over 1,000 products for 20 s, and
// the embedded store's write rate) joins here as another suite.
func suites() []suite {
	return []suite{&catalog{}, &orders{}}
}

// scenario is one closed-loop load.
type scenario struct {
	name   string
	about  string // one line for the results file
	target string // what is loaded, e.g. the URL
	// conns and duration override -conns and -duration when not zero
	// (issue 4 fixes 8 customers for 20 s); op must then serve workers
	// 0..conns-1.
	conns    int
	duration time.Duration
	op       loadgen.Op
	cleanup  func() // after the run, if not nil
}

// check is one target of an issue compared with what was measured.
type check struct {
	What string `json:"what"`
	Got  string `json:"got"`
	Want string `json:"want"`
	// Pass is nil when the scenarios the check needs were not run (Got
	// empty) or when the line is for information only.
	Pass *bool `json:"pass"`
}

// verdict returns "ok", "MISSED", "not run", or "—" for information
// without a target.
func (c check) verdict() string {
	switch {
	case c.Pass == nil && c.Got != "":
		return "—"
	case c.Pass == nil:
		return "not run"
	case *c.Pass:
		return "ok"
	default:
		return "MISSED"
	}
}

func passed(ok bool) *bool { return &ok }
