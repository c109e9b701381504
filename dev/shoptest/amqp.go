package shoptest

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Queues returns the queues a shop declares on RabbitMQ under the queue
// prefix (AMQP_QUEUE_PREFIX): one per consuming service, each with its
// dead-letter queue.
func Queues(prefix string) []string {
	return []string{prefix + "order", prefix + "order.dlq", prefix + "product", prefix + "product.dlq"}
}

// AMQPNamespace returns an AMQP_EXCHANGE and AMQP_QUEUE_PREFIX that no other
// shop uses, such as "flowtest-1f9c04ab2e7d.events" and
// "flowtest-1f9c04ab2e7d." for name "flowtest", so that shops of tests running
// at once on one RabbitMQ do not take each other's messages. When t ends it
// deletes the exchanges and queues a shop declares under them from the
// RabbitMQ at amqpURL: call it before starting the shop, so that the shop has
// stopped by then (cleanups run last first). A failed deletion is logged, not
// failed: the test already said what it had to.
func AMQPNamespace(t testing.TB, amqpURL, name string) (exchange, queuePrefix string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	ns := name + "-" + hex.EncodeToString(b)
	exchange, queuePrefix = ns+".events", ns+"."
	t.Cleanup(func() { deleteNamespace(t, amqpURL, exchange, queuePrefix) })
	return exchange, queuePrefix
}

// deleteNamespace deletes a shop's queues, then its exchange and the
// dead-letter exchange beside it (named as services/platform/messaging does).
func deleteNamespace(t testing.TB, amqpURL, exchange, queuePrefix string) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Logf("shoptest: cleanup: %v", err)
		return
	}
	defer conn.Close()
	for _, q := range Queues(queuePrefix) {
		// A channel per deletion: an error closes the channel it happened on.
		if ch, err := conn.Channel(); err == nil {
			if _, err := ch.QueueDelete(q, false, false, false); err != nil {
				t.Logf("shoptest: cleanup: delete queue %s: %v", q, err)
			}
			ch.Close()
		}
	}
	for _, x := range []string{exchange, exchange + ".dlx"} {
		if ch, err := conn.Channel(); err == nil {
			if err := ch.ExchangeDelete(x, false, false); err != nil {
				t.Logf("shoptest: cleanup: delete exchange %s: %v", x, err)
			}
			ch.Close()
		}
	}
}
