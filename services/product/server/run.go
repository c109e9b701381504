// Package server runs the product service: it reads the configuration,
// connects to MongoDB and Redis, wires the core to its adapters and serves
// HTTP until its context ends. The service binary and the `make run`
// program both call Run.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/outbox"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/platform/telemetry"
	"github.com/travluk/ecom/services/product/internal/amqpapi"
	"github.com/travluk/ecom/services/product/internal/httpapi"
	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
	"github.com/travluk/ecom/services/product/internal/rediscache"
	"github.com/travluk/ecom/services/product/internal/waiter"
)

// startupTimeout bounds the work before serving that needs MongoDB (the
// indexes): a store that does not answer fails the start, and the
// orchestrator retries.
const startupTimeout = 30 * time.Second

// sessionCacheTTL is how long a live session answer is reused: DESIGN §2
// allows a logged-out token at most 2 s, and this saves a Redis round trip
// on most admin requests.
const sessionCacheTTL = time.Second

// Options are hooks for tests and embedding programs; the zero value is
// what production uses.
type Options struct {
	// OnListen is called with the bound address once the server listens.
	OnListen func(net.Addr)
	// WrapHandler, if set, wraps the router.
	WrapHandler func(*mux.Router) http.Handler
	// Bus, if set, is called once with the service's own metrics registry
	// and its result used instead of RabbitMQ at AMQP_URL: `make run`
	// passes the For of its in-process *messaging.MemoryBus, shared by
	// every service, so that each service's /metrics counts its own
	// publishes and consumes, as with RabbitMQ.
	Bus func(prometheus.Registerer) messaging.Bus
}

// Run serves the product service until ctx ends. It reads its settings
// through getenv and logs JSON lines to stdout. It returns an error when the
// configuration is invalid, MongoDB cannot be reached at start, or serving
// fails; nil after a clean shutdown. Redis may be away at start: the cache
// is bypassed and /readyz says so until it answers.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return RunWithOptions(ctx, getenv, stdout, Options{})
}

// RunWithOptions is Run with hooks.
func RunWithOptions(ctx context.Context, getenv func(string) string, stdout io.Writer, o Options) error {
	cfg, err := loadSettings(getenv, o.Bus != nil)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel})).With("service", cfg.serviceName)

	// The port opens first: probes and early requests wait for the wiring
	// below instead of being refused, and it closes last, after the next
	// readiness probe, so the kubelet never probes a closed port.
	registry := prometheus.NewRegistry()
	srv, err := httpserver.Listen(ctx, httpserver.Options{Addr: cfg.addr, Logger: logger, Registry: registry, OnListen: o.OnListen})
	if err != nil {
		return err
	}
	defer srv.Close() // runs last; it logs its own failure

	shutdownTelemetry, err := telemetry.Setup(ctx, cfg.serviceName, getenv)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTelemetry(ctx); err != nil {
			logger.Warn("telemetry shutdown", "error", err)
		}
	}()

	mongoClient, err := mongoconn.Connect(ctx, cfg.mongoURI)
	if err != nil {
		return fmt.Errorf("mongodb: %w", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = mongoClient.Disconnect(ctx)
	}()
	rdb, err := redisconn.Connect(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer rdb.Close()

	db := mongoClient.Database(cfg.mongoDatabase)
	products := mongodb.NewProducts(db)
	purchases := mongodb.NewPurchases(db)
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if err := products.EnsureIndexes(startCtx); err != nil {
		return err
	}
	if err := purchases.EnsureIndexes(startCtx); err != nil {
		return err
	}
	cancel()

	var cache product.Cache = product.NoCache{}
	if cfg.cacheTTL > 0 {
		c := rediscache.New(rdb, rediscache.Options{TTL: cfg.cacheTTL, Registerer: registry, Logger: logger})
		// The repair loop uses rdb: deferred after rdb.Close, this stop
		// runs before it and returns once the loop has returned, so that
		// no generation bump meets a closed client.
		defer goUntilStopped(ctx, c.Run)()
		cache = c
	}
	svc := product.NewService(products, cache, time.Now)

	// The order flow: purchases with their outbox, the relay publishing
	// it, the waiter that wakes buys, and the broker.
	var checks []httpserver.Check
	var bus messaging.Bus
	if o.Bus != nil {
		bus = o.Bus(registry)
	} else {
		rabbit := messaging.NewRabbit(cfg.amqpURL, messaging.RabbitOptions{
			Exchange: cfg.amqpExchange, QueuePrefix: cfg.amqpQueuePrefix,
			Name: cfg.serviceName, Logger: logger, Registry: registry,
		})
		defer rabbit.Close()
		checks = append(checks, rabbit.Check())
		bus = rabbit
	}
	relay := outbox.NewRelay(purchases, bus, outbox.RelayOptions{Logger: logger, Registry: registry})
	hub := waiter.New(waiter.Options{Redis: rdb, Settled: purchases.Settled, Logger: logger})
	var events product.Events = amqpapi.Events{}
	if cfg.failpoints != nil {
		events = failPointEvents{Events: events, failpoints: cfg.failpoints}
	}
	flow := product.NewFlow(product.FlowOptions{
		Purchases:       purchases,
		Reservations:    mongodb.NewReservations(db),
		Events:          events,
		Waiter:          hub,
		Cache:           cache,
		Nudge:           relay.NudgeAggregate,
		Metrics:         newFlowMetrics(registry),
		Logger:          logger,
		ConfirmWait:     cfg.confirmWait,
		PurchaseTimeout: cfg.purchaseTimeout,
	})

	verifier := auth.NewVerifier(auth.VerifierOptions{
		Issuer:   cfg.issuer,
		Audience: cfg.audience,
		Keys:     auth.NewJWKSClient(cfg.jwksURL, nil),
		Sessions: auth.NewRedisSessions(rdb, sessionCacheTTL),
		Leeway:   5 * time.Second,
		Logger:   logger,
	})
	// Admins list, inspect and replay what the queue gave up on.
	deadLetters := deadletterapi.New(bus, amqpapi.Queue, logger)
	router := httpapi.NewHandler(svc, verifier, logger, httpapi.WithBuy(flow, registry), httpapi.WithDeadLetters(deadLetters))
	var handler http.Handler = router
	if o.WrapHandler != nil {
		handler = o.WrapHandler(router)
	}

	// The catalog still serves reads without Redis (the cache is bypassed),
	// so Redis being away degrades /readyz instead of failing it: failing it
	// would take every replica out of the Service at once.
	redisCheck := redisconn.Check(rdb)
	redisCheck.Optional = true

	// The relay, the consumer, the waiter and the sweeper run beside the
	// HTTP server and stop with it. A consumer that returns early could
	// not set up its queue: that stops the service, so that the
	// orchestrator restarts it rather than leave it deaf.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg         sync.WaitGroup
		consumeErr error
	)
	wg.Go(func() {
		if err := relay.Run(runCtx); err != nil && runCtx.Err() == nil {
			logger.Error("outbox relay stopped", "error", err)
		}
	})
	wg.Go(func() {
		err := bus.Consume(runCtx, amqpapi.Subscriptions(flow, logger)...)
		if runCtx.Err() == nil {
			consumeErr = fmt.Errorf("consume: %w", err)
			logger.Error("consumer stopped", "error", err)
			stop()
		}
	})
	wg.Go(func() { hub.Run(runCtx) })
	wg.Go(func() { flow.RunSweeper(runCtx, sweepInterval(cfg.purchaseTimeout)) })
	// Events left by a previous run are published at once.
	relay.Nudge()

	logger.Info("product service serving", "cacheTTL", cfg.cacheTTL.String(),
		"injectedBus", o.Bus != nil, "buyConfirmWait", cfg.confirmWait.String(), "purchaseTimeout", cfg.purchaseTimeout.String())
	err = srv.Serve(runCtx, handler, append([]httpserver.Check{mongoconn.Check(mongoClient), redisCheck}, checks...)...)
	stop()
	wg.Wait()
	if consumeErr != nil {
		return consumeErr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// goUntilStopped runs loop in a goroutine under a context derived from
// ctx and returns its stop: stop cancels that context and returns once
// loop has returned. Deferring stop after closing what loop uses joins the
// loop before the close.
func goUntilStopped(ctx context.Context, loop func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
