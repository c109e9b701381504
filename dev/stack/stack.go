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
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/dev/docspage"
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
// it stops every part before returning, nil after a clean stop. It writes
// one progress line per step to stdout, and "ready" once every service
// answers through the ingress stand-in; onReady, if not nil, is called then
// too.
//
// It reads DATA_DIR (default .data), INGRESS_ADDR (default 127.0.0.1:8080),
// CUSTOMER_ADDR (default 127.0.0.1:8081), PRODUCT_ADDR (default
// 127.0.0.1:8082), ORDER_ADDR (default 127.0.0.1:8083), MONGODB_URI and
// REDIS_URL (embedded servers when unset), AMQP_URL (an in-process bus when
// unset) and SEED_CATALOG ("true" loads the demo catalog into an empty
// catalog first), and passes the rest of the environment to the services.
// An address it cannot listen on, or a server named that does not answer
// within seconds, fails the start with a *SettingError naming the variable.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer, onReady func(Addrs)) error {
	p := &progress{w: stdout, began: time.Now()}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	cfg, err := loadSettings(getenv)
	if err != nil {
		return err
	}
	// JSON lines at LOG_LEVEL, as the services write theirs: one format for
	// every log line of the process (the progress lines are not logs).
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel})).With("service", "stack")
	// The stand-in's port is held from here on; the services' ports are
	// only checked, as each service binds its own.
	ln, err := listen("INGRESS_ADDR", cfg.ingressAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	for _, a := range []struct{ name, addr string }{
		{"CUSTOMER_ADDR", cfg.customerAddr}, {"PRODUCT_ADDR", cfg.productAddr}, {"ORDER_ADDR", cfg.orderAddr},
	} {
		if err := checkFree(a.name, a.addr); err != nil {
			return err
		}
	}
	if err := checkServers(ctx, cfg); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return &SettingError{Name: "DATA_DIR", Value: cfg.dataDir, Problem: "cannot create it", Err: err}
	}

	mongoURI := cfg.mongoURI
	if mongoURI == "" {
		dir := filepath.Join(cfg.dataDir, "ferretdb")
		store, err := mongoembed.Start(ctx, mongoembed.Options{Dir: dir, Logger: log})
		if err != nil {
			return fmt.Errorf("embedded MongoDB: %w", err)
		}
		defer store.Close()
		mongoURI = store.URI()
		// The URI is printed (it holds no secret) so that a program running
		// the stack as a subprocess, such as the tests of dev/flowtest, can
		// look at the stores.
		p.say("embedded MongoDB (FerretDB on SQLite) started in %s, uri=%s", dir, mongoURI)
	} else {
		p.say("MONGODB_URI answers: %s", redacted(mongoURI))
	}
	redisURL := cfg.redisURL
	if redisURL == "" {
		cache, err := redisembed.Start("127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("embedded Redis: %w", err)
		}
		defer cache.Close()
		redisURL = cache.URL()
		p.say("embedded Redis (miniredis) started; logged-in sessions end when this process stops")
	} else {
		p.say("REDIS_URL answers: %s", redacted(redisURL))
	}

	if cfg.seedCatalog {
		if err := seedCatalog(ctx, mongoURI, p); err != nil {
			return err
		}
	}

	// Without AMQP_URL the services share an in-process bus that confirms a
	// publish only once the consumer has handled it (DESIGN §3), each
	// through its own view so that its /metrics counts its own publishes
	// and consumes; with it, each service connects to RabbitMQ itself.
	var bus func(prometheus.Registerer) messaging.Bus
	if cfg.amqpURL == "" {
		bus = messaging.NewMemoryBus(messaging.MemoryOptions{Logger: log}).For
		p.say("in-process event bus started (AMQP_URL would use RabbitMQ)")
	} else {
		p.say("AMQP_URL answers: %s", redacted(cfg.amqpURL))
	}

	// Every service gets its own database, as in the cluster, whatever
	// MONGODB_DATABASE the user's environment holds.
	jwksURL := "http://" + cfg.customerAddr + "/.well-known/jwks.json"
	runProduct := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return productserver.RunWithOptions(ctx, getenv, stdout, productserver.Options{Bus: bus})
	}
	runOrder := func(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
		return orderserver.RunWithOptions(ctx, getenv, stdout, orderserver.Options{Bus: bus})
	}
	services := []service{
		{"customer", cfg.customerAddr, customerserver.Run, map[string]string{"MONGODB_DATABASE": "customer"}},
		{"product", cfg.productAddr, runProduct, map[string]string{"MONGODB_DATABASE": productDatabase, "JWKS_URL": jwksURL}},
		{"order", cfg.orderAddr, runOrder, map[string]string{"MONGODB_DATABASE": "order", "JWKS_URL": jwksURL}},
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
			"DATA_DIR":    cfg.dataDir,
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
	docs, err := docsPage(log)
	if err != nil {
		return err
	}
	front := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if docspage.IsPagePath(r.URL.Path) {
			docs.ServeHTTP(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := front.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("ingress stand-in: %w", err)
		}
	}()
	// First of the deferred steps: requests in flight through the stand-in
	// finish (a buy waits for its order) while the services still run.
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = front.Shutdown(ctx)
	}()

	if err := waitReady(ctx, ln.Addr().String(), services, failed, p); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return err
	}
	p.ready("http://"+displayAddr(ln.Addr()), cfg.dataDir)
	if onReady != nil {
		onReady(Addrs{Ingress: ln.Addr().String(), Services: backends, MongoURI: mongoURI})
	}

	var runErr error
	select {
	case <-ctx.Done():
		p.say("stopping")
	case runErr = <-failed:
		if runErr == nil {
			runErr = errors.New("a service stopped unexpectedly")
		}
	}
	return runErr
}

// docsPage is what the stand-in serves on / and /docs/: the page listing the
// services' OpenAPI documents and the AsyncAPI document, rendered in the
// browser. The cluster's Gateway has no such route; the page is for the
// person running the shop on a laptop.
func docsPage(log *slog.Logger) (http.Handler, error) {
	asyncAPI, err := docspage.LoadAsyncAPI(".")
	if err != nil {
		log.Warn("the docs page will not show the events", "error", err)
		asyncAPI = nil
	}
	return docspage.Handler([]docspage.Service{
		{Name: "customer", Title: "Customers: accounts, login, tokens", OpenAPIPath: "/api/customers/openapi.json"},
		{Name: "product", Title: "Catalog and buy", OpenAPIPath: "/api/products/openapi.json"},
		{Name: "order", Title: "Orders", OpenAPIPath: "/api/orders/openapi.json"},
	}, asyncAPI)
}

// service is one service of the shop, run in-process.
type service struct {
	name, addr string
	run        func(context.Context, func(string) string, io.Writer) error
	env        map[string]string // its settings over the user's environment
}

// progress prints the steps of a start for the person waiting on it, each
// one line with the time since the start began.
type progress struct {
	w     io.Writer
	began time.Time
}

func (p *progress) say(format string, args ...any) {
	fmt.Fprintf(p.w, "travluk: %s (%.1fs)\n", fmt.Sprintf(format, args...), time.Since(p.began).Seconds())
}

// ready prints the line a person waits for, and the URLs waitReady has just
// seen answer.
func (p *progress) ready(base, dataDir string) {
	var b strings.Builder
	fmt.Fprintf(&b, "travluk: ready in %.1fs on %s (data in %s; Ctrl-C stops it)\n", time.Since(p.began).Seconds(), base, dataDir)
	for _, e := range EntryPoints() {
		fmt.Fprintf(&b, "  %-50s %s\n", base+e.Path, e.What)
	}
	b.WriteString("  README.md, \"Try it\": register, log in and buy with curl\n")
	io.WriteString(p.w, b.String())
}

// displayAddr turns ":8080" and "127.0.0.1:8080" style listen addresses
// into what the README and a person type: localhost:8080.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "" || host == "::" || host == "0.0.0.0" || host == "127.0.0.1" {
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

// productDatabase is the product service's database under `make run`.
const productDatabase = "product"

// seedCatalog loads the demo catalog unless the catalog has products already.
func seedCatalog(ctx context.Context, mongoURI string, p *progress) error {
	client, err := mongoconn.Connect(ctx, mongoURI)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer client.Disconnect(context.WithoutCancel(ctx))
	n, err := seed.Load(ctx, client.Database(productDatabase), seed.DefaultCount)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n == 0 {
		p.say("demo catalog not loaded: the catalog has products already")
	} else {
		p.say("demo catalog of %d products loaded into the empty catalog (SEED_CATALOG=false starts empty)", n)
	}
	return nil
}
