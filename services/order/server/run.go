// Package server runs the order service: it reads the configuration,
// connects to MongoDB, Redis and the message broker, wires the core to its
// adapters, and serves HTTP, consumes order.requested and relays the
// outbox until its context ends. The service binary and the `make run`
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

	"github.com/travluk/ecom/services/order/internal/amqpapi"
	"github.com/travluk/ecom/services/order/internal/httpapi"
	"github.com/travluk/ecom/services/order/internal/mongodb"
	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/outbox"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/platform/telemetry"
)

// startupTimeout bounds the work before serving that needs MongoDB (the
// indexes): a store that does not answer fails the start, and the
// orchestrator retries.
const startupTimeout = 30 * time.Second

// sessionCacheTTL is how long a live session answer is reused: DESIGN §2
// allows a logged-out token at most 2 s.
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

// Run serves the order service until ctx ends. It reads its settings
// through getenv and logs JSON lines to stdout. It returns an error when the
// configuration is invalid, MongoDB cannot be reached at start, consuming
// cannot start, or serving fails; nil after a clean shutdown. Redis and the
// broker may be away at start: token checks answer 503 and events wait in
// the outbox and in the broker until they are back.
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

	orders := mongodb.NewOrders(mongoClient.Database(cfg.mongoDatabase))
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if err := orders.EnsureIndexes(startCtx); err != nil {
		return err
	}
	cancel()

	checks := []httpserver.Check{mongoconn.Check(mongoClient), redisconn.Check(rdb)}
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

	relay := outbox.NewRelay(orders, bus, outbox.RelayOptions{Logger: logger, Registry: registry})
	svc := order.NewService(orders, time.Now, relay.NudgeAggregate)

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
	router := httpapi.NewHandler(svc, verifier, logger, httpapi.WithDeadLetters(deadLetters))
	var handler http.Handler = router
	if o.WrapHandler != nil {
		handler = o.WrapHandler(router)
	}

	// The relay and the consumer run beside the HTTP server and stop with
	// it. The relay never returns before ctx ends; a consumer that returns
	// early could not set up its queue, which stops the service so that
	// the orchestrator restarts it rather than leave it deaf.
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
		err := bus.Consume(runCtx, amqpapi.Subscriptions(svc, logger, registry, amqpapi.WithFailPoints(cfg.failpoints))...)
		if runCtx.Err() == nil {
			consumeErr = fmt.Errorf("consume: %w", err)
			logger.Error("consumer stopped", "error", err)
			stop()
		}
	})
	// Events left by a previous run are published at once, not at the
	// first poll.
	relay.Nudge()

	logger.Info("order service serving", "injectedBus", o.Bus != nil)
	err = srv.Serve(runCtx, handler, checks...)
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
