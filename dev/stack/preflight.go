package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/travluk/ecom/services/platform/mongoconn"
	"github.com/travluk/ecom/services/platform/redisconn"
)

// reachWithin bounds the check of each server named by the environment: a
// wrong URL stops the start within seconds rather than leaving services
// that retry for ever behind a shop that looks up.
const reachWithin = 5 * time.Second

// SettingError is a setting that stops the shop from starting: an address
// it cannot listen on, a server that does not answer. Its message is one
// line that starts with the variable to change.
type SettingError struct {
	Name    string // the environment variable, e.g. "REDIS_URL"
	Value   string // its value, with any password left out
	Problem string // what is wrong, in a few words
	Err     error
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("%s=%s: %s: %s", e.Name, e.Value, e.Problem, oneLine(e.Err))
}

func (e *SettingError) Unwrap() error { return e.Err }

// listen binds addr, the value of the variable name.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		// The net.OpError repeats the address; its cause is what matters.
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err
		}
		return nil, &SettingError{Name: name, Value: addr, Problem: "cannot listen there (another travluk running? set " + name + " to a free address)", Err: err}
	}
	return ln, nil
}

// checkFree fails when addr, the value of name, cannot be listened on. The
// service binds it itself moments later; checking first lets a port in use
// stop the start before anything else has begun, with the variable named.
func checkFree(name, addr string) error {
	ln, err := listen(name, addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// checkServers asks each server the environment names (MONGODB_URI,
// REDIS_URL, AMQP_URL; an empty one is embedded and needs no check) for an
// answer, within reachWithin each.
func checkServers(ctx context.Context, s settings) error {
	checks := []struct {
		name, value string
		check       func(context.Context, string) error
	}{
		{"MONGODB_URI", s.mongoURI, checkMongo},
		{"REDIS_URL", s.redisURL, checkRedis},
		{"AMQP_URL", s.amqpURL, checkAMQP},
	}
	for _, c := range checks {
		if c.value == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, reachWithin)
		err := c.check(ctx, c.value)
		cancel()
		if err != nil {
			return &SettingError{Name: c.name, Value: redacted(c.value), Problem: "no answer from the server there", Err: err}
		}
	}
	return nil
}

func checkMongo(ctx context.Context, uri string) error {
	client, err := mongoconn.Connect(ctx, uri)
	if err != nil {
		return err
	}
	return client.Disconnect(context.WithoutCancel(ctx))
}

func checkRedis(ctx context.Context, rawURL string) error {
	client, err := redisconn.Connect(rawURL)
	if err != nil {
		return err
	}
	defer client.Close()
	// The client's pool retries a refused dial in the background and logs
	// each attempt to stderr; a plain dial first keeps a wrong address to
	// the one line Run's caller prints.
	if err := dialAny(ctx, client.Options().Network, redisAddrs(client.Options().Addr, rawURL)); err != nil {
		return err
	}
	return client.Ping(ctx).Err()
}

// redisAddrs is where a Redis URL points: the server, or for a URL that
// names Sentinels (master_name), the Sentinels.
func redisAddrs(addr, rawURL string) []string {
	if opt, err := redis.ParseFailoverURL(rawURL); err == nil && opt.MasterName != "" {
		return opt.SentinelAddrs
	}
	return []string{addr}
}

// dialAny returns nil once one of addrs accepts a connection, else the
// last dial's error.
func dialAny(ctx context.Context, network string, addrs []string) error {
	var d net.Dialer
	err := errors.New("no address")
	for _, a := range addrs {
		var conn net.Conn
		conn, err = d.DialContext(ctx, network, a)
		if err == nil {
			return conn.Close()
		}
	}
	return err
}

func checkAMQP(ctx context.Context, rawURL string) error {
	timeout := reachWithin
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	conn, err := amqp.DialConfig(rawURL, amqp.Config{Dial: amqp.DefaultDial(timeout)})
	if err != nil {
		return err
	}
	return conn.Close()
}

// redacted is rawURL without its password, for messages that end up in a
// terminal's scroll-back or a CI log.
func redacted(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}

// oneLine keeps an error of a driver, which may span lines, on one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
