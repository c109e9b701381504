package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/travluk/ecom/services/platform/config"
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
}

// loadSettings reads every variable and reports all problems at once.
func loadSettings(getenv func(string) string) (settings, error) {
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
	}
	if s.cacheTTL != 0 && (s.cacheTTL < minCacheTTL || s.cacheTTL > maxCacheTTL) {
		env.Invalid("PRODUCT_CACHE_TTL", fmt.Sprintf("must be 0 (no cache) or between %s and %s", minCacheTTL, maxCacheTTL))
	}
	level := env.String("LOG_LEVEL", "info")
	if err := s.logLevel.UnmarshalText([]byte(level)); err != nil {
		env.Invalid("LOG_LEVEL", "must be debug, info, warn or error")
	}
	if err := env.Err(); err != nil {
		return settings{}, fmt.Errorf("configuration:\n%w", err)
	}
	return s, nil
}
