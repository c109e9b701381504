// Command product runs the travluk product service: the catalog, its
// search and paging, and its Redis read cache. See README.md for its
// environment variables and routes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/travluk/ecom/services/product/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "product:", err)
		stop()
		os.Exit(1)
	}
}
