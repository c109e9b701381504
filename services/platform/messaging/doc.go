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
// Rabbit is the implementation for real deployments; MemoryBus stands in for
// it when everything runs in one process. Both satisfy Publisher and
// Subscriber, and package messagingtest holds the suite that proves they
// behave alike.
package messaging
