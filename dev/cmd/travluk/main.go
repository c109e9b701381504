// Command travluk runs the whole shop in one process for a developer with
// nothing but Go: an embedded MongoDB-compatible store (FerretDB on SQLite),
// an embedded Redis (miniredis), every service, and the ingress stand-in on
// http://localhost:8080. MONGODB_URI, REDIS_URL and AMQP_URL point it at
// real servers instead. It is what `make run` starts.
//
// It exits 0 after a clean stop on SIGINT (Ctrl-C) or SIGTERM, and 1 with
// one line on stderr when the shop cannot start or fails; a second signal
// ends it at once.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/travluk/ecom/dev/stack"
	"github.com/travluk/ecom/services/platform/stopsignal"
)

func main() {
	// The first SIGINT or SIGTERM stops the shop gracefully; a second,
	// even during the drain, ends the process at once.
	ctx, stop := stopsignal.Context(context.Background())
	defer stop()
	if err := stack.Run(ctx, withMakeRunDefaults(os.Getenv), os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "travluk:", oneLine(err))
		os.Exit(1)
	}
	if ctx.Err() != nil {
		fmt.Println("travluk: stopped")
	}
}

// withMakeRunDefaults is getenv with the defaults that make the README's
// first purchase work: unless SEED_CATALOG says otherwise, the demo catalog
// is loaded into an empty embedded catalog. A real MongoDB (MONGODB_URI)
// gets demo products only when asked (`make seed`).
func withMakeRunDefaults(getenv func(string) string) func(string) string {
	return func(name string) string {
		v := getenv(name)
		if name == "SEED_CATALOG" && v == "" && getenv("MONGODB_URI") == "" {
			return "true"
		}
		return v
	}
}

// oneLine keeps an error on the one line a person reads first: a service's
// list of configuration problems, one a line, becomes one list.
func oneLine(err error) string {
	msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), ":\n", ": ")
	return strings.ReplaceAll(msg, "\n", "; ")
}
