// Package redisconn connects to Redis with timeouts short enough that an
// outage fails a call in about half a second instead of hanging the request
// that made it, and with a pool that reconnects by itself when Redis is
// back.
package redisconn

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/platform/httpserver"
)

// Defaults applied unless the URL's query sets the option itself, as in
// redis://host:6379/0?dial_timeout=2s.
const (
	dialTimeout  = 500 * time.Millisecond
	readTimeout  = 500 * time.Millisecond
	writeTimeout = 500 * time.Millisecond
	poolTimeout  = time.Second
	// One retry lets a command survive a pooled connection that Redis
	// closed (a restart, an idle timeout) without doubling the wait when
	// Redis is truly away.
	maxRetries = 1
	// RESP2: nothing here needs RESP3's push frames (client-side caching,
	// maintenance notifications; pub/sub works on either), and with RESP3
	// go-redis checks for pending pushes around every command and installs
	// a maintenance-notification hook on its pool, which cost the cached
	// product read about a tenth of its time.
	protocol = 2
)

// Connect returns a client for url (redis:// or rediss://, as accepted by
// redis.ParseURL). It does not dial: a service may start while Redis is
// away, report itself not ready through Check, and work as soon as Redis
// answers. It fails only on a URL it cannot parse.
//
// A URL with a master_name parameter names Redis Sentinels instead of a
// server, as redis.ParseFailoverURL reads it:
//
//	redis://sentinel-host:26379/0?master_name=mymaster&password=REDIS_PASSWORD
//
// (more Sentinels as addr=host:port parameters, a Sentinel's own password
// in the userinfo). The client then asks the Sentinels for the master and
// follows a failover by itself.
func Connect(rawURL string) (*redis.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisconn: parse REDIS URL: %w", redactedError(err, rawURL))
	}
	q := u.Query()
	if q.Has("master_name") {
		opt, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("redisconn: parse REDIS URL: %w", redactedError(err, rawURL))
		}
		applyDefaults(q, settings{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout,
			&opt.MaxRetries, &opt.Protocol, &opt.DialerRetries, &opt.ContextTimeoutEnabled})
		return redis.NewFailoverClient(opt), nil
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisconn: parse REDIS URL: %w", redactedError(err, rawURL))
	}
	applyDefaults(q, settings{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout, &opt.PoolTimeout,
		&opt.MaxRetries, &opt.Protocol, &opt.DialerRetries, &opt.ContextTimeoutEnabled})
	return redis.NewClient(opt), nil
}

// settings points at the fields of redis.Options or redis.FailoverOptions
// that Connect sets.
type settings struct {
	dialTimeout, readTimeout, writeTimeout, poolTimeout *time.Duration
	maxRetries, protocol, dialerRetries                 *int
	contextTimeoutEnabled                               *bool
}

// applyDefaults sets the package's defaults where the URL's query q does not.
func applyDefaults(q url.Values, s settings) {
	if !q.Has("dial_timeout") {
		*s.dialTimeout = dialTimeout
	}
	if !q.Has("read_timeout") {
		*s.readTimeout = readTimeout
	}
	if !q.Has("write_timeout") {
		*s.writeTimeout = writeTimeout
	}
	if !q.Has("pool_timeout") {
		*s.poolTimeout = poolTimeout
	}
	if !q.Has("max_retries") {
		*s.maxRetries = maxRetries
	}
	if !q.Has("protocol") {
		*s.protocol = protocol
	}
	// go-redis dials up to five times per connection by default; once is
	// enough to know Redis is away, and the pool keeps trying in the
	// background.
	*s.dialerRetries = 1
	// Deadlines of the caller's context bound each command too.
	*s.contextTimeoutEnabled = true
}

// redactedError keeps a password in the URL out of error messages, which
// end up in logs.
func redactedError(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil || u.User == nil {
		return fmt.Errorf("invalid URL")
	}
	return fmt.Errorf("invalid URL %s", u.Redacted())
}

// Check returns the readiness check "redis", which pings the server.
func Check(client redis.UniversalClient) httpserver.Check {
	return httpserver.Check{
		Name:  "redis",
		Probe: func(ctx context.Context) error { return client.Ping(ctx).Err() },
	}
}
