package server

import (
	"fmt"
	"log/slog"

	"github.com/travluk/ecom/services/platform/config"
	"github.com/travluk/ecom/services/platform/failpoint"
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
	amqpURL       string
	// AMQP_EXCHANGE and AMQP_QUEUE_PREFIX let several shops (or tests)
	// share one broker without sharing an exchange or a queue.
	amqpExchange    string
	amqpQueuePrefix string
	logLevel        slog.Level
	serviceName     string
	// failpoints, from FAILPOINTS, kill the process at a point of the flow
	// for the crash tests (dev/flowtest); nil, doing nothing, when unset.
	failpoints *failpoint.Set
}

// loadSettings reads every variable and reports all problems at once.
// AMQP_URL is required unless the embedding program hands in a bus.
func loadSettings(getenv func(string) string, busInjected bool) (settings, error) {
	env := config.New(getenv)
	s := settings{
		addr:          env.String("HTTP_ADDR", ":8080"),
		mongoURI:      env.Required("MONGODB_URI"),
		mongoDatabase: env.String("MONGODB_DATABASE", "order"),
		redisURL:      env.Required("REDIS_URL"),
		jwksURL:       env.Required("JWKS_URL"),
		issuer:        env.String("JWT_ISSUER", "travluk"),
		audience:      env.String("JWT_AUDIENCE", "travluk"),
		serviceName:   env.String("OTEL_SERVICE_NAME", "order"),

		amqpExchange:    env.String("AMQP_EXCHANGE", "travluk.events"),
		amqpQueuePrefix: env.String("AMQP_QUEUE_PREFIX", ""),
	}
	if busInjected {
		s.amqpURL = getenv("AMQP_URL")
	} else {
		s.amqpURL = env.Required("AMQP_URL")
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
