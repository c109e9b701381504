// Command order runs the travluk order service: it creates orders from the
// order.requested events of the product service's buy, serves them to
// their customers and to admins, and moves them through their statuses.
// See README.md for its environment variables, routes and messages.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/travluk/ecom/services/order/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "order:", err)
		stop()
		os.Exit(1)
	}
}
