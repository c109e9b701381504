// Command order runs the travluk order service: it creates orders from the
// order.requested events of the product service's buy, serves them to
// their customers and to admins, and moves them through their statuses.
// See README.md for its environment variables, routes and messages.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/travluk/ecom/services/order/server"
	"github.com/travluk/ecom/services/platform/stopsignal"
)

func main() {
	// The first SIGINT or SIGTERM drains; a second ends the process at once.
	ctx, stop := stopsignal.Context(context.Background())
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		stop()
		os.Exit(1)
	}
}
