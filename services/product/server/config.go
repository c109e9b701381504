package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/travluk/ecom/services/platform/config"
	"github.com/travluk/ecom/services/platform/failpoint"
)

// Cache TTL bounds: 0 turns the cache off; otherwise the TTL must outlast
// the cache's one-second fill window by a wide margin (see rediscache).
const (
	minCacheTTL = 5 * time.Second
	maxCacheTTL = 24 * time.Hour
)

// settings is the service's configuration, read from the environment by
// loadSettings. The variable names are part of the deployment contract (the
// Helm chart sets them).
type settings struct {
	addr          string
	mongoURI      string
	mongoDatabase string
	redisURL      string
	jwksURL       string
	issuer        string
	audience      string
	cacheTTL      time.Duration
	logLevel      slog.Level
	serviceName   string
	// The order flow's: AMQP_URL (required unless a bus is injected),
	// AMQP_EXCHANGE, AMQP_QUEUE_PREFIX, BUY_CONFIRM_WAIT and
	// PURCHASE_TIMEOUT.
	amqpURL         string
	amqpExchange    string
	amqpQueuePrefix string
	confirmWait     time.Duration
	purchaseTimeout time.Duration
	// failpoints, from FAILPOINTS, kill the process at a point of the flow
	// for the crash tests (dev/flowtest); nil, doing nothing, when unset.
	failpoints *failpoint.Set
}

// Bounds of the order flow's durations.
const (
	minConfirmWait     = time.Millisecond
	maxConfirmWait     = time.Minute
	minPurchaseTimeout = time.Second
	maxPurchaseTimeout = time.Hour
)

// loadSettings reads every variable and reports all problems at once.
// AMQP_URL is required unless the embedding program hands in a bus.
func loadSettings(getenv func(string) string, busInjected bool) (settings, error) {
	env := config.New(getenv)
	s := settings{
		addr:          env.String("HTTP_ADDR", ":8080"),
		mongoURI:      env.Required("MONGODB_URI"),
		mongoDatabase: env.String("MONGODB_DATABASE", "product"),
		redisURL:      env.Required("REDIS_URL"),
		jwksURL:       env.Required("JWKS_URL"),
		issuer:        env.String("JWT_ISSUER", "travluk"),
		audience:      env.String("JWT_AUDIENCE", "travluk"),
		cacheTTL:      env.Duration("PRODUCT_CACHE_TTL", 10*time.Minute),
		serviceName:   env.String("OTEL_SERVICE_NAME", "product"),

		amqpExchange:    env.String("AMQP_EXCHANGE", "travluk.events"),
		amqpQueuePrefix: env.String("AMQP_QUEUE_PREFIX", ""),
		confirmWait:     env.Duration("BUY_CONFIRM_WAIT", 5*time.Second),
		purchaseTimeout: env.Duration("PURCHASE_TIMEOUT", 30*time.Second),
	}
	if busInjected {
		s.amqpURL = getenv("AMQP_URL")
	} else {
		s.amqpURL = env.Required("AMQP_URL")
	}
	if s.confirmWait < minConfirmWait || s.confirmWait > maxConfirmWait {
		env.Invalid("BUY_CONFIRM_WAIT", fmt.Sprintf("must be between %s and %s", minConfirmWait, maxConfirmWait))
	}
	if s.purchaseTimeout < minPurchaseTimeout || s.purchaseTimeout > maxPurchaseTimeout {
		env.Invalid("PURCHASE_TIMEOUT", fmt.Sprintf("must be between %s and %s", minPurchaseTimeout, maxPurchaseTimeout))
	}
	if s.cacheTTL != 0 && (s.cacheTTL < minCacheTTL || s.cacheTTL > maxCacheTTL) {
		env.Invalid("PRODUCT_CACHE_TTL", fmt.Sprintf("must be 0 (no cache) or between %s and %s", minCacheTTL, maxCacheTTL))
	}
	fp, err := failpoint.Parse(getenv("FAILPOINTS"))
	if err != nil {
		env.Invalid("FAILPOINTS", err.Error())
	}
	s.failpoints = fp
	level := env.String("LOG_LEVEL", "info")
	if err := s.logLevel.UnmarshalText([]byte(level)); err != nil {
		env.Invalid("LOG_LEVEL", "must be debug, info, warn or error")
	}
	if err := env.Err(); err != nil {
		return settings{}, fmt.Errorf("configuration:\n%w", err)
	}
	return s, nil
}
