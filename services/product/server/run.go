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
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/platform/telemetry"
	"github.com/travluk/ecom/services/product/internal/httpapi"
	"github.com/travluk/ecom/services/product/internal/mongodb"
	"github.com/travluk/ecom/services/product/internal/product"
	"github.com/travluk/ecom/services/product/internal/rediscache"
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
	cfg, err := loadSettings(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.logLevel})).With("service", cfg.serviceName)

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

	products := mongodb.NewProducts(mongoClient.Database(cfg.mongoDatabase))
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if err := products.EnsureIndexes(startCtx); err != nil {
		return err
	}
	cancel()

	registry := prometheus.NewRegistry()
	var cache product.Cache = product.NoCache{}
	if cfg.cacheTTL > 0 {
		c := rediscache.New(rdb, rediscache.Options{TTL: cfg.cacheTTL, Registerer: registry, Logger: logger})
		runCtx, stopCache := context.WithCancel(ctx)
		defer stopCache()
		go c.Run(runCtx)
		cache = c
	}
	svc := product.NewService(products, cache, time.Now)

	verifier := auth.NewVerifier(auth.VerifierOptions{
		Issuer:   cfg.issuer,
		Audience: cfg.audience,
		Keys:     auth.NewJWKSClient(cfg.jwksURL, nil),
		Sessions: auth.NewRedisSessions(rdb, sessionCacheTTL),
		Leeway:   5 * time.Second,
		Logger:   logger,
	})
	router := httpapi.NewHandler(svc, verifier, logger)
	var handler http.Handler = router
	if o.WrapHandler != nil {
		handler = o.WrapHandler(router)
	}

	// The catalog still serves reads without Redis (the cache is bypassed),
	// so Redis being away degrades /readyz instead of failing it: failing it
	// would take every replica out of the Service at once.
	redisCheck := redisconn.Check(rdb)
	redisCheck.Optional = true

	logger.Info("product service starting", "addr", cfg.addr, "cacheTTL", cfg.cacheTTL.String())
	err = httpserver.Run(ctx, httpserver.Options{
		Addr:     cfg.addr,
		Handler:  handler,
		Logger:   logger,
		Registry: registry,
		Checks:   []httpserver.Check{mongoconn.Check(mongoClient), redisCheck},
		OnListen: o.OnListen,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
