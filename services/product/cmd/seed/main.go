// Command seed loads the demo catalog into the product service's database:
// `go run ./services/product/cmd/seed` with MONGODB_URI (required),
// MONGODB_DATABASE (default product) and SEED_COUNT (default 300). It does
// nothing when the catalog already has products, so it is safe to repeat.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/travluk/ecom/services/platform/config"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/product/seed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	env := config.New(getenv)
	uri := env.Required("MONGODB_URI")
	database := env.String("MONGODB_DATABASE", "product")
	count := env.Int("SEED_COUNT", seed.DefaultCount)
	if count < 1 || count > 100_000 {
		env.Invalid("SEED_COUNT", "must be between 1 and 100000")
	}
	if err := env.Err(); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	client, err := mongoconn.Connect(ctx, uri)
	if err != nil {
		return err
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	n, err := seed.Load(ctx, client.Database(database), count)
	if err != nil {
		return err
	}
	if n == 0 {
		fmt.Printf("catalog in %s already has products; nothing loaded\n", database)
		return nil
	}
	fmt.Printf("loaded %d demo products into %s\n", n, database)
	return nil
}
