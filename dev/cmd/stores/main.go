// Command stores runs only the embedded stores of `make run` — FerretDB
// (behind the atomic-write proxy) and miniredis — on fixed local ports, for
// running a service as its own process against them (`make stores`).
//
// With -redis "" it runs only the MongoDB-wire store: the e2e cluster's
// mongostore image (e2e/images/build-deps.sh) runs it so, as
// `stores -data /data -mongo 0.0.0.0:27017 -redis ""`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/travluk/ecom/dev/mongoembed"
	"github.com/travluk/ecom/dev/redisembed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stores:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("stores", flag.ContinueOnError)
	dataDir := flags.String("data", ".data", "directory of the embedded MongoDB's files")
	mongoAddr := flags.String("mongo", "127.0.0.1:27017", "address of the embedded MongoDB")
	redisAddr := flags.String("redis", "127.0.0.1:6380", `address of the embedded Redis; "" runs none`)
	if err := flags.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	store, err := mongoembed.Start(ctx, mongoembed.Options{Dir: filepath.Join(*dataDir, "ferretdb"), Addr: *mongoAddr, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(stdout, "MONGODB_URI=%s\n", store.URI())
	if *redisAddr != "" {
		cache, err := redisembed.Start(*redisAddr)
		if err != nil {
			return err
		}
		defer cache.Close()
		fmt.Fprintf(stdout, "REDIS_URL=%s\n", cache.URL())
	}
	<-ctx.Done()
	return nil
}
