// Package messaging carries events between services: CloudEvents 1.0 in
// JSON structured mode, published to one durable topic exchange with the
// event type as routing key, and consumed from one durable quorum queue per
// consuming service.
//
// The rule it keeps: a publish succeeds only once the event is safely handed
// on (confirmed by RabbitMQ and routed to at least one queue, or, for the
// in-process MemoryBus, handled by every consumer), and a consumer
// acknowledges an event only after its handler succeeded. A handler that
// keeps failing, or an event that cannot be read at all, ends in the queue's
// dead-letter queue instead of blocking the events behind it.
//
// Dead letters stay visible and repairable: DeadLetters lists a queue's
// dead letters without taking any away or reordering them, and replays one
// to its queue alone, at least once (on RabbitMQ: published with a confirm
// before its dead-letter copy is acknowledged). Package deadletterapi
// serves them over HTTP.
//
// Rabbit is the implementation for real deployments; MemoryBus stands in for
// it when everything runs in one process, each service through its own view
// (For), so that each service's metrics count its own publishes and
// deliveries. Both are a Bus, and package messagingtest holds the suite that
// proves they behave alike.
package messaging
