// Command product runs the travluk product service: the catalog, its
// search and paging, and its Redis read cache. See README.md for its
// environment variables and routes.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/travluk/ecom/services/platform/stopsignal"
	"github.com/travluk/ecom/services/product/server"
)

func main() {
	// The first SIGINT or SIGTERM drains; a second ends the process at once.
	ctx, stop := stopsignal.Context(context.Background())
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "product:", err)
		stop()
		os.Exit(1)
	}
}
