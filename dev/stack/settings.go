package stack

import (
	"fmt"
	"log/slog"
	"strconv"
)

// settings is what Run reads of the environment itself; the rest of the
// environment passes through to the services.
type settings struct {
	dataDir      string // DATA_DIR
	ingressAddr  string // INGRESS_ADDR
	customerAddr string // CUSTOMER_ADDR
	productAddr  string // PRODUCT_ADDR
	orderAddr    string // ORDER_ADDR
	mongoURI     string // MONGODB_URI; empty starts the embedded store
	redisURL     string // REDIS_URL; empty starts the embedded Redis
	amqpURL      string // AMQP_URL; empty starts the in-process bus
	seedCatalog  bool   // SEED_CATALOG
	// logLevel is LOG_LEVEL, which the services read too: one variable
	// sets the level of every log line of the process.
	logLevel slog.Level
}

// logLevels are the values of LOG_LEVEL, as the services take them.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

// Every listener defaults to loopback: the shop on a laptop serves only that
// laptop, whatever network it joins. INGRESS_ADDR=:8080 serves every
// interface.
const (
	defaultDataDir      = ".data"
	defaultIngressAddr  = "127.0.0.1:8080"
	defaultCustomerAddr = "127.0.0.1:8081"
	defaultProductAddr  = "127.0.0.1:8082"
	defaultOrderAddr    = "127.0.0.1:8083"
)

// loadSettings reads the environment through getenv. It fails, naming the
// variable, only on a value it cannot read; whether the servers named
// answer is checkServers' business.
func loadSettings(getenv func(string) string) (settings, error) {
	s := settings{
		dataDir:      valueOr(getenv("DATA_DIR"), defaultDataDir),
		ingressAddr:  valueOr(getenv("INGRESS_ADDR"), defaultIngressAddr),
		customerAddr: valueOr(getenv("CUSTOMER_ADDR"), defaultCustomerAddr),
		productAddr:  valueOr(getenv("PRODUCT_ADDR"), defaultProductAddr),
		orderAddr:    valueOr(getenv("ORDER_ADDR"), defaultOrderAddr),
		mongoURI:     getenv("MONGODB_URI"),
		redisURL:     getenv("REDIS_URL"),
		amqpURL:      getenv("AMQP_URL"),
	}
	if v := getenv("SEED_CATALOG"); v != "" {
		seed, err := strconv.ParseBool(v)
		if err != nil {
			return settings{}, fmt.Errorf("SEED_CATALOG=%s: want true or false", v)
		}
		s.seedCatalog = seed
	}
	level, ok := logLevels[valueOr(getenv("LOG_LEVEL"), "info")]
	if !ok {
		return settings{}, fmt.Errorf("LOG_LEVEL=%s: want debug, info, warn or error", getenv("LOG_LEVEL"))
	}
	s.logLevel = level
	return s, nil
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
