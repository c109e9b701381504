// Package server runs the customer service: it reads the configuration,
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

	"github.com/travluk/ecom/services/customer/internal/customer"
	"github.com/travluk/ecom/services/customer/internal/httpapi"
	"github.com/travluk/ecom/services/customer/internal/mongodb"
	"github.com/travluk/ecom/services/customer/internal/password"
	"github.com/travluk/ecom/services/customer/internal/redisstore"
	"github.com/travluk/ecom/services/customer/internal/token"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/httpserver"
	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/redisconn"
	"github.com/travluk/ecom/services/platform/telemetry"
)

// startupTimeout bounds the work before serving that needs MongoDB (indexes,
// admin bootstrap): a store that does not answer fails the start, and the
// orchestrator retries.
const startupTimeout = 30 * time.Second

// Options are hooks for tests and embedding programs; the zero value is
// what production uses.
type Options struct {
	// OnListen is called with the bound address once the server listens.
	OnListen func(net.Addr)
	// WrapHandler, if set, wraps the router (tests put OpenAPI coverage
	// recording around it).
	WrapHandler func(*mux.Router) http.Handler
}

// Run serves the customer service until ctx ends. It reads its settings
// through getenv and logs JSON lines to stdout. It returns an error when the
// configuration is invalid, a store cannot be reached at start, or serving
// fails; nil after a clean shutdown.
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

	key, err := token.LoadKey(cfg.signingKey)
	if err != nil {
		return err
	}

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

	customers := mongodb.NewCustomers(mongoClient.Database(cfg.mongoDatabase))
	sessions := redisstore.NewSessions(rdb)
	throttle := redisstore.NewThrottle(rdb, redisstore.ThrottleLimits{
		Account: cfg.accountLimit,
		Client:  cfg.clientLimit,
		Window:  cfg.failureWindow,
	})
	issuer := token.NewIssuer(key, cfg.issuer, cfg.audience, cfg.accessTTL)
	svc := customer.NewService(customer.Deps{
		Repository: customers,
		Sessions:   sessions,
		Throttle:   throttle,
		Hasher:     password.New(password.OWASP),
		Tokens:     issuer,
		Clock:      customer.ClockFunc(time.Now),
		RefreshTTL: cfg.refreshTTL,
	})

	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	if err := customers.EnsureIndexes(startCtx); err != nil {
		return err
	}
	if cfg.adminEmail != "" {
		admin, err := svc.EnsureAdmin(startCtx, cfg.adminEmail, cfg.adminPassword)
		if err != nil {
			return err
		}
		logger.Info("admin account ensured", "customerId", admin.ID)
	}
	cancel()

	// The issuer checks its own tokens against Redis on every request
	// (no session cache): a logout is then refused here at once, and by
	// other services within their cache's second.
	verifier := auth.NewVerifier(auth.VerifierOptions{
		Issuer:   cfg.issuer,
		Audience: cfg.audience,
		Keys:     auth.StaticKeys{issuer.KeyID(): issuer.PublicKey()},
		Sessions: auth.NewRedisSessions(rdb, 0),
		Leeway:   5 * time.Second,
		Logger:   logger,
	})
	jwks := auth.JWKSHandler(auth.JWKSet{Keys: []auth.JWK{auth.PublicJWK(issuer.KeyID(), issuer.PublicKey())}})
	router := httpapi.NewHandler(svc, verifier, jwks, httpapi.Options{TrustForwardedFor: cfg.trustXFF, Logger: logger})
	var handler http.Handler = router
	if o.WrapHandler != nil {
		handler = o.WrapHandler(router)
	}

	logger.Info("customer service serving", "kid", issuer.KeyID())
	err = srv.Serve(ctx, handler, mongoconn.Check(mongoClient), redisconn.Check(rdb))
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
