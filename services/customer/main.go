// Command customer runs the travluk customer service: accounts, logins and
// sessions, and the signing key other services verify tokens with. See
// README.md for its environment variables and routes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/travluk/ecom/services/customer/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customer:", err)
		stop()
		os.Exit(1)
	}
}
