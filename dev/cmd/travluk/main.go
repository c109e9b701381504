// Command travluk runs the whole shop in one process for a developer with
// nothing but Go: an embedded MongoDB-compatible store (FerretDB on SQLite),
// an embedded Redis (miniredis), every service, and the ingress stand-in on
// http://localhost:8080. MONGODB_URI and REDIS_URL point it at real servers
// instead. It is what `make run` starts.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/travluk/ecom/dev/stack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := stack.Run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "travluk:", err)
		os.Exit(1)
	}
}
