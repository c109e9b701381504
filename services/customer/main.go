// Command customer runs the travluk customer service: accounts, logins and
// sessions, and the signing key other services verify tokens with. See
// README.md for its environment variables and routes.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/travluk/ecom/services/customer/server"
	"github.com/travluk/ecom/services/platform/stopsignal"
)

func main() {
	// The first SIGINT or SIGTERM drains; a second ends the process at once.
	ctx, stop := stopsignal.Context(context.Background())
	defer stop()
	if err := server.Run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "customer:", err)
		stop()
		os.Exit(1)
	}
}
