package shoptest

import (
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/travluk/ecom/dev/testenv"
)

// TestAMQPNamespaceIsDeletedWhenTheTestEnds declares what a shop declares
// under a namespace, inside a test that ends, and checks it is gone after.
func TestAMQPNamespaceIsDeletedWhenTheTestEnds(t *testing.T) {
	amqpURL := testenv.AMQP(t)
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	channel := func(t *testing.T) *amqp.Channel {
		t.Helper()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}

	// What the shop declares, written out rather than taken from Queues, so
	// that a queue Queues forgets fails here: the order and product services
	// each consume one queue, and services/platform/messaging gives each a
	// dead-letter queue.
	var queues []string
	var exchange, prefix string
	t.Run("a shop's test", func(t *testing.T) {
		exchange, prefix = AMQPNamespace(t, amqpURL, "shoptest")
		if other, _ := AMQPNamespace(t, amqpURL, "shoptest"); other == exchange {
			t.Errorf("AMQPNamespace returned exchange %s twice", exchange)
		}
		if !strings.HasPrefix(exchange, "shoptest-") || !strings.HasSuffix(exchange, ".events") || prefix != strings.TrimSuffix(exchange, "events") {
			t.Errorf("AMQPNamespace = %q, %q; want shoptest-<random>.events and shoptest-<random>.", exchange, prefix)
		}
		ch := channel(t)
		defer ch.Close()
		for _, x := range []string{exchange, exchange + ".dlx"} {
			if err := ch.ExchangeDeclare(x, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []string{"order", "order.dlq", "product", "product.dlq"} {
			q = prefix + q
			queues = append(queues, q)
			if _, err := ch.QueueDeclare(q, true, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
		}
	})
	if exchange == "" {
		t.Fatal("the shop's test declared nothing")
	}
	// A passive declaration of what does not exist fails, and closes its
	// channel: one channel each.
	for _, q := range queues {
		ch := channel(t)
		if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err == nil {
			t.Errorf("queue %s is still there after its test ended", q)
			ch.Close()
		}
	}
	for _, x := range []string{exchange, exchange + ".dlx"} {
		ch := channel(t)
		if err := ch.ExchangeDeclarePassive(x, amqp.ExchangeTopic, true, false, false, false, nil); err == nil {
			t.Errorf("exchange %s is still there after its test ended", x)
			ch.Close()
		}
	}
}
