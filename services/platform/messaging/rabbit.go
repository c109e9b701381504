package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/travluk/ecom/services/platform/httpserver"
)

// RabbitOptions configure a Rabbit. Every zero value means its default.
type RabbitOptions struct {
	// Exchange is the durable topic exchange events are published to, with
	// their type as routing key; "travluk.events" by default. Dead letters
	// go through the exchange of the same name with ".dlx" appended.
	Exchange string
	// Prefetch bounds the events a subscription has in hand at once, which
	// is also how many its handler may be running concurrently; 16 by
	// default.
	Prefetch int
	// DeliveryLimit is the queues' x-delivery-limit: how many times a
	// failed event is delivered again before RabbitMQ dead-letters it, so a
	// handler that always fails sees it DeliveryLimit+1 times; 5 by default.
	DeliveryLimit int
	// RetryDelay is how long a failed event is held before it goes back to
	// its queue, doubling with every delivery (so that a store away for a
	// while does not dead-letter everything at once) up to 32 times; 1 s by
	// default.
	RetryDelay time.Duration
	// ReconnectDelay is the first wait before connecting again after a
	// failure, doubling up to ReconnectMaxDelay; 100 ms and 5 s by default.
	ReconnectDelay, ReconnectMaxDelay time.Duration
	// DialTimeout bounds connecting, including the AMQP handshake; 5 s by
	// default, and never more than the caller's context allows.
	DialTimeout time.Duration
	// QueuePrefix is put in front of every queue name a subscription
	// gives, and so of its dead-letter queue too ("<prefix><queue>.dlq"):
	// with its own Exchange, it lets tests and several shops share one
	// broker without ever sharing a queue. Empty by default.
	QueuePrefix string
	// Name labels the connections in RabbitMQ's management UI, such as
	// "order"; "travluk" by default.
	Name string
	// Logger receives connection losses, retries and dead letters; nil
	// discards.
	Logger *slog.Logger
	// Registry receives the messaging metrics; nil means none.
	Registry prometheus.Registerer
}

func (o RabbitOptions) withDefaults() RabbitOptions {
	if o.Exchange == "" {
		o.Exchange = "travluk.events"
	}
	if o.Prefetch <= 0 {
		o.Prefetch = 16
	}
	if o.DeliveryLimit <= 0 {
		o.DeliveryLimit = 5
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = 100 * time.Millisecond
	}
	if o.ReconnectMaxDelay <= 0 {
		o.ReconnectMaxDelay = 5 * time.Second
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Name == "" {
		o.Name = "travluk"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// errConnectionLost fails the publishes in flight when their channel
// closes before the broker confirmed them: they may or may not have
// arrived.
var errConnectionLost = errors.New("messaging: connection to RabbitMQ lost before the confirm")

// errNacked is what a publish the broker refused (a nack) fails with.
var errNacked = errors.New("messaging: RabbitMQ refused the event (nack)")

// Rabbit publishes and consumes events through RabbitMQ. It connects
// lazily, on the first Publish, Check or Consume, and connects again by
// itself whenever the connection is lost: a service can start while the
// broker is away and works as soon as it is back. Publishing and consuming
// use separate connections, so that a consumer's flow control never holds
// up publishes.
type Rabbit struct {
	url     string
	o       RabbitOptions
	dlx     string
	logger  *slog.Logger
	metrics *metrics

	// dialing admits one publisher connection attempt at a time, while
	// letting the callers that wait give up when their context ends.
	dialing chan struct{}
	// browsing admits one browse of a dead-letter queue at a time: what
	// one holds, another would not see.
	browsing chan struct{}

	mu       sync.Mutex
	pub      *pubSession // nil until connected
	dialErr  error       // why the last attempt failed
	nextDial time.Time   // no new attempt before this, so an outage costs no dial per publish
	backoff  time.Duration
	closed   bool
}

// NewRabbit returns a Rabbit for the broker at url (amqp:// or amqps://).
// It does not connect.
func NewRabbit(url string, o RabbitOptions) *Rabbit {
	o = o.withDefaults()
	return &Rabbit{
		url:      url,
		o:        o,
		dlx:      o.Exchange + ".dlx",
		logger:   o.Logger,
		metrics:  newMetrics(o.Registry),
		dialing:  make(chan struct{}, 1),
		browsing: make(chan struct{}, 1),
		backoff:  o.ReconnectDelay,
	}
}

// Publish sends e to the exchange, persistent and mandatory, and waits for
// the broker's confirm. It returns nil only when the broker confirmed the
// event and routed it to at least one queue; ErrUnroutable when no queue is
// bound to its type; and another error when the broker is unreachable
// (promptly, without waiting for it), the connection drops before the
// confirm, the broker refuses the event, or ctx ends first.
func (r *Rabbit) Publish(ctx context.Context, e Event) error {
	err := r.publish(ctx, e)
	switch {
	case err == nil:
		r.metrics.publishedInc(e.Type, publishConfirmed)
		return nil
	case errors.Is(err, ErrUnroutable):
		r.metrics.publishedInc(e.Type, publishUnroutable)
	case errors.Is(err, errNacked):
		r.metrics.publishedInc(e.Type, publishNacked)
	default:
		r.metrics.publishedInc(e.Type, publishFailed)
	}
	return fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
}

func (r *Rabbit) publish(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	s, err := r.session(ctx)
	if err != nil {
		return err
	}
	msg := amqp.Publishing{
		ContentType:  "application/cloudevents+json",
		DeliveryMode: amqp.Persistent,
		MessageId:    e.ID,
		Type:         e.Type,
		Timestamp:    e.Time,
		Body:         body,
	}
	done, err := s.publish(ctx, r.o.Exchange, e.Type, msg)
	if err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Check returns the readiness check "rabbitmq": it passes while the
// publisher connection is up, connecting when it is not.
func (r *Rabbit) Check() httpserver.Check {
	return httpserver.Check{
		Name: "rabbitmq",
		Probe: func(ctx context.Context) error {
			_, err := r.session(ctx)
			return err
		},
	}
}

// Close closes the publisher connection; Publish fails afterwards.
// Consumers end with their context, not with Close.
func (r *Rabbit) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.pub == nil {
		return nil
	}
	return r.pub.conn.Close()
}

// session returns the live publisher session, connecting when there is
// none. While the broker is unreachable it fails at once with the last
// error until the backoff has passed, so that publishers are never held up
// by an outage.
func (r *Rabbit) session(ctx context.Context) (*pubSession, error) {
	if s, err := r.liveSession(); s != nil || err != nil {
		return s, err
	}
	select {
	case r.dialing <- struct{}{}:
		defer func() { <-r.dialing }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Another caller may have connected while this one waited.
	if s, err := r.liveSession(); s != nil || err != nil {
		return s, err
	}

	s, err := r.openPublisher(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.dialErr = err
		r.nextDial = time.Now().Add(r.backoff)
		r.backoff = min(2*r.backoff, r.o.ReconnectMaxDelay)
		return nil, err
	}
	if r.closed {
		s.conn.Close()
		return nil, errors.New("messaging: Rabbit is closed")
	}
	r.pub, r.dialErr, r.backoff = s, nil, r.o.ReconnectDelay
	return s, nil
}

// liveSession returns the session when it is up, an error when Rabbit is
// closed or still backing off, and neither when it is time to connect.
func (r *Rabbit) liveSession() (*pubSession, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("messaging: Rabbit is closed")
	}
	if r.pub != nil {
		if r.pub.alive() {
			return r.pub, nil
		}
		r.pub.conn.Close() // a channel that died may leave its connection open
		r.pub = nil
		r.logger.Warn("messaging: publisher connection lost; reconnecting")
	}
	if r.dialErr != nil && time.Now().Before(r.nextDial) {
		return nil, fmt.Errorf("RabbitMQ unreachable, next attempt in %v: %w", time.Until(r.nextDial).Round(time.Millisecond), r.dialErr)
	}
	return nil, nil
}

func (r *Rabbit) openPublisher(ctx context.Context) (*pubSession, error) {
	conn, err := r.dial(ctx, "publisher")
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err == nil {
		// Publishing to an exchange that does not exist would close the
		// channel; declaring it is idempotent.
		err = ch.ExchangeDeclare(r.o.Exchange, amqp.ExchangeTopic, true, false, false, false, nil)
	}
	if err == nil {
		err = ch.Confirm(false)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("messaging: open publisher channel: %w", err)
	}
	s := &pubSession{conn: conn, ch: ch, pending: make(map[uint64]*pendingPublish)}
	// Returns must arrive unbuffered: amqp091 then hands one over before
	// it reads the broker's next frame, the ack of the same message, so
	// dispatch always learns of a return before the confirm it belongs to.
	returns := ch.NotifyReturn(make(chan amqp.Return))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 256))
	go s.dispatch(confirms, returns)
	return s, nil
}

// dial connects to the broker within DialTimeout and ctx, the AMQP
// handshake included.
func (r *Rabbit) dial(ctx context.Context, role string) (*amqp.Connection, error) {
	timeout := r.o.DialTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName(r.o.Name + " " + role)
	conn, err := amqp.DialConfig(r.url, amqp.Config{
		Properties: props,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the handshake; amqp091 clears it once the
			// connection is open, and heartbeats take over.
			if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("messaging: connect to RabbitMQ: %w", err)
	}
	return conn, nil
}

// pubSession is one publisher connection with its channel in confirm
// mode, and the publishes waiting for their confirms.
type pubSession struct {
	conn *amqp.Connection
	ch   *amqp.Channel

	// publishing keeps the delivery tags this side counts in step with the
	// order publishes reach the wire.
	publishing sync.Mutex

	mu      sync.Mutex
	pending map[uint64]*pendingPublish // by delivery tag
	dead    error                      // set once the channel closed
}

type pendingPublish struct {
	id       string
	returned bool
	done     chan error // buffered: dispatch never waits for a publisher that gave up
}

func (s *pubSession) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dead == nil && !s.conn.IsClosed()
}

// publish sends msg and returns the channel its outcome will arrive on.
func (s *pubSession) publish(ctx context.Context, exchange, key string, msg amqp.Publishing) (<-chan error, error) {
	s.publishing.Lock()
	defer s.publishing.Unlock()
	tag := s.ch.GetNextPublishSeqNo()
	p := &pendingPublish{id: msg.MessageId, done: make(chan error, 1)}
	s.mu.Lock()
	if s.dead != nil {
		s.mu.Unlock()
		return nil, s.dead
	}
	s.pending[tag] = p
	s.mu.Unlock()
	if err := s.ch.PublishWithContext(ctx, exchange, key, true, false, msg); err != nil {
		s.mu.Lock()
		delete(s.pending, tag)
		s.mu.Unlock()
		return nil, err
	}
	return p.done, nil
}

// dispatch settles every pending publish with its confirm, and fails those
// still pending when the channel closes. It is the only reader of both
// notification channels, which keeps a return ahead of its confirm.
func (s *pubSession) dispatch(confirms <-chan amqp.Confirmation, returns <-chan amqp.Return) {
	for {
		select {
		case ret, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			s.markReturned(ret.MessageId)
		case c, ok := <-confirms:
			if !ok {
				s.failAll(errConnectionLost)
				return
			}
			s.settle(c)
		}
	}
}

// markReturned flags the oldest pending publish of message id as returned:
// the broker found no queue for it.
func (s *pubSession) markReturned(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest uint64
	for tag, p := range s.pending {
		if p.id == id && !p.returned && (oldest == 0 || tag < oldest) {
			oldest = tag
		}
	}
	if oldest != 0 {
		s.pending[oldest].returned = true
	}
}

func (s *pubSession) settle(c amqp.Confirmation) {
	s.mu.Lock()
	p := s.pending[c.DeliveryTag]
	delete(s.pending, c.DeliveryTag)
	s.mu.Unlock()
	if p == nil {
		return
	}
	switch {
	case !c.Ack:
		p.done <- errNacked
	case p.returned:
		p.done <- ErrUnroutable
	default:
		p.done <- nil
	}
}

func (s *pubSession) failAll(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = err
	for tag, p := range s.pending {
		p.done <- err
		delete(s.pending, tag)
	}
}
