// Package stack runs the whole shop in one process: the embedded stores (or
// real ones named by the environment), every service, and the ingress
// stand-in in front of them. `make run` and `make bench` start it.
package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/travluk/ecom/dev/ingress"
	"github.com/travluk/ecom/dev/mongoembed"
	"github.com/travluk/ecom/dev/redisembed"
	customerserver "github.com/travluk/ecom/services/customer/server"
	orderserver "github.com/travluk/ecom/services/order/server"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/product/seed"
	productserver "github.com/travluk/ecom/services/product/server"
)

// Addrs says where a running stack listens.
type Addrs struct {
	Ingress  string            // host:port of the ingress stand-in
	Services map[string]string // host:port of each service, by name
	MongoURI string            // the MongoDB every service uses (embedded or MONGODB_URI)
}

// Run starts the stack and blocks until ctx ends or a part of it fails; then
// it stops every part before returning. onReady, if not nil, is called once
// every listener is bound (the services may still be connecting to their
// stores: poll their /readyz).
//
// It reads DATA_DIR (default .data), INGRESS_ADDR (default :8080),
// CUSTOMER_ADDR (default 127.0.0.1:8081), PRODUCT_ADDR (default
// 127.0.0.1:8082), ORDER_ADDR (default 127.0.0.1:8083), MONGODB_URI and
// REDIS_URL (embedded servers when unset), AMQP_URL (an in-process bus when
// unset) and
// SEED_CATALOG ("true" loads the demo catalog into an empty catalog first),
// and passes the rest of the environment to the services.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer, onReady func(Addrs)) error {
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	dataDir := valueOr(getenv("DATA_DIR"), ".data")
	ingressAddr := valueOr(getenv("INGRESS_ADDR"), ":8080")
	customerAddr := valueOr(getenv("CUSTOMER_ADDR"), "127.0.0.1:8081")
	productAddr := valueOr(getenv("PRODUCT_ADDR"), "127.0.0.1:8082")
	orderAddr := valueOr(getenv("ORDER_ADDR"), "127.0.0.1:8083")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}

	mongoURI := getenv("MONGODB_URI")
	if mongoURI == "" {
		store, err := mongoembed.Start(ctx, mongoembed.Options{Dir: filepath.Join(dataDir, "ferretdb"), Logger: log})
		if err != nil {
			return fmt.Errorf("embedded MongoDB: %w", err)
		}
		defer store.Close()
		mongoURI = store.URI()
		// The URI is logged (it holds no secret) so that a program running
		// the stack as a subprocess, such as the tests of dev/flowtest, can
		// look at the stores.
		log.Info("embedded MongoDB (FerretDB, SQLite) started", "dir", filepath.Join(dataDir, "ferretdb"), "uri", mongoURI)
	}
	redisURL := getenv("REDIS_URL")
	if redisURL == "" {
		cache, err := redisembed.Start("127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("embedded Redis: %w", err)
		}
		defer cache.Close()
		redisURL = cache.URL()
		log.Info("embedded Redis (miniredis) started; sessions end when this process stops")
	}

	if getenv("SEED_CATALOG") == "true" {
		if err := seedCatalog(ctx, mongoURI, log); err != nil {
			return err
		}
	}

	// Without AMQP_URL the services share an in-process bus that confirms a
	// publish only once the consumer has handled it (DESIGN §3); with it,
	// each service connects to RabbitMQ itself.
	var bus eventBus
	if getenv("AMQP_URL") == "" {
		bus = messaging.NewMemoryBus(messaging.MemoryOptions{Logger: log})
		log.Info("in-process event bus started; set AMQP_URL to use RabbitMQ")
	}

	// Every service gets its own database, as in the cluster, whatever
	// MONGODB_DATABASE the user's environment holds.
	jwksURL := "http://" + customerAddr + "/.well-known/jwks.json"
	runProduct := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return productserver.RunWithOptions(ctx, getenv, stdout, productserver.Options{Bus: bus})
	}
	runOrder := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return orderserver.RunWithOptions(ctx, getenv, stdout, orderserver.Options{Bus: bus})
	}
	services := []struct {
		name, addr string
		run        func(context.Context, func(string) string, io.Writer) error
		env        map[string]string
	}{
		{"customer", customerAddr, customerserver.Run, map[string]string{"MONGODB_DATABASE": "customer"}},
		{"product", productAddr, runProduct, map[string]string{"MONGODB_DATABASE": productDatabase, "JWKS_URL": jwksURL}},
		{"order", orderAddr, runOrder, map[string]string{"MONGODB_DATABASE": "order", "JWKS_URL": jwksURL}},
	}
	failed := make(chan error, len(services)+1)
	var running sync.WaitGroup
	// The stores close only after every service has drained.
	defer func() { cancel(); running.Wait() }()
	backends := make(map[string]string)
	for _, s := range services {
		backends[s.name] = s.addr
		values := map[string]string{
			"HTTP_ADDR":   s.addr,
			"MONGODB_URI": mongoURI,
			"REDIS_URL":   redisURL,
			"DATA_DIR":    dataDir,
		}
		maps.Copy(values, s.env)
		env := overlay(getenv, values)
		running.Add(1)
		go func() {
			defer running.Done()
			if err := s.run(ctx, env, stdout); err != nil {
				failed <- fmt.Errorf("%s service: %w", s.name, err)
				return
			}
			failed <- nil
		}()
	}

	proxy, err := ingress.NewProxy(ingress.Routes(), backends, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", ingressAddr)
	if err != nil {
		return fmt.Errorf("ingress stand-in: %w", err)
	}
	front := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := front.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("ingress stand-in: %w", err)
		}
	}()
	log.Info("travluk is up", "url", "http://"+displayAddr(ln.Addr()), "data", dataDir)
	if onReady != nil {
		onReady(Addrs{Ingress: ln.Addr().String(), Services: backends, MongoURI: mongoURI})
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-failed:
		if runErr == nil {
			runErr = errors.New("a service stopped unexpectedly")
		}
	}
	cancel()
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	_ = front.Shutdown(shutdownCtx)
	return runErr
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// displayAddr turns ":8080" style listen addresses into something a person
// can paste into a browser.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}

// overlay returns a getenv that answers from values first and from base for
// everything else, so each in-process service sees its own settings while
// the user's environment still reaches it.
func overlay(base func(string) string, values map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := values[name]; ok {
			return v
		}
		return base(name)
	}
}

// eventBus is what the product and order services need of the in-process
// bus.
type eventBus interface {
	messaging.Publisher
	messaging.Subscriber
}

// productDatabase is the product service's database under `make run`.
const productDatabase = "product"

// seedCatalog loads the demo catalog unless the catalog has products already.
func seedCatalog(ctx context.Context, mongoURI string, log *slog.Logger) error {
	client, err := mongoconn.Connect(ctx, mongoURI)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	n, err := seed.Load(ctx, client.Database(productDatabase), seed.DefaultCount)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	log.Info("demo catalog", "loaded", n, "note", "nothing is loaded into a catalog that has products")
	return nil
}
