package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/travluk/ecom/services/customer/internal/token"
	"github.com/travluk/ecom/services/platform/config"
)

// maxAccessTTL is DESIGN §2's ceiling on access token lifetime: a stolen
// token is useful for at most this long even where sessions are not checked.
const maxAccessTTL = 15 * time.Minute

// settings is the service's configuration, read from the environment by
// loadSettings. The variable names are part of the deployment contract (the
// Helm chart sets them).
type settings struct {
	addr          string
	mongoURI      string
	mongoDatabase string
	redisURL      string
	issuer        string
	audience      string
	signingKey    token.KeySource
	accessTTL     time.Duration
	refreshTTL    time.Duration
	adminEmail    string
	adminPassword string
	accountLimit  int
	clientLimit   int
	failureWindow time.Duration
	trustXFF      bool
	logLevel      slog.Level
	serviceName   string
}

// loadSettings reads every variable and reports all problems at once.
func loadSettings(getenv func(string) string) (settings, error) {
	env := config.New(getenv)
	s := settings{
		addr:          env.String("HTTP_ADDR", ":8080"),
		mongoURI:      env.Required("MONGODB_URI"),
		mongoDatabase: env.String("MONGODB_DATABASE", "customer"),
		redisURL:      env.Required("REDIS_URL"),
		issuer:        env.String("JWT_ISSUER", "travluk"),
		audience:      env.String("JWT_AUDIENCE", "travluk"),
		signingKey: token.KeySource{
			File:    getenv("JWT_SIGNING_KEY_FILE"),
			PEM:     getenv("JWT_SIGNING_KEY"),
			DataDir: getenv("DATA_DIR"),
		},
		accessTTL:     env.Duration("ACCESS_TOKEN_TTL", maxAccessTTL),
		refreshTTL:    env.Duration("REFRESH_TOKEN_TTL", 7*24*time.Hour),
		adminEmail:    getenv("ADMIN_EMAIL"),
		adminPassword: getenv("ADMIN_PASSWORD"),
		accountLimit:  env.Int("LOGIN_ACCOUNT_FAILURE_LIMIT", 10),
		clientLimit:   env.Int("LOGIN_CLIENT_FAILURE_LIMIT", 100),
		failureWindow: env.Duration("LOGIN_FAILURE_WINDOW", 15*time.Minute),
		trustXFF:      env.Bool("TRUST_FORWARDED_FOR", false),
		serviceName:   env.String("OTEL_SERVICE_NAME", "customer"),
	}
	if s.accessTTL < time.Second || s.accessTTL > maxAccessTTL {
		env.Invalid("ACCESS_TOKEN_TTL", "must be between 1s and 15m")
	}
	if s.refreshTTL <= s.accessTTL {
		env.Invalid("REFRESH_TOKEN_TTL", "must be longer than ACCESS_TOKEN_TTL")
	}
	if s.accountLimit < 1 {
		env.Invalid("LOGIN_ACCOUNT_FAILURE_LIMIT", "must be at least 1")
	}
	if s.clientLimit < 1 {
		env.Invalid("LOGIN_CLIENT_FAILURE_LIMIT", "must be at least 1")
	}
	if s.failureWindow < time.Second {
		env.Invalid("LOGIN_FAILURE_WINDOW", "must be at least 1s")
	}
	// One without the other is a deployment mistake, not a choice: say so
	// rather than start without the admin the operator expects.
	if (s.adminEmail == "") != (s.adminPassword == "") {
		env.Fail("ADMIN_EMAIL/ADMIN_PASSWORD", "set both to bootstrap an admin, or neither")
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
