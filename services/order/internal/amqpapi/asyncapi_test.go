package amqpapi

import (
	"reflect"
	"testing"

	"github.com/travluk/ecom/services/platform/messaging/asyncapitest"
)

// TestAsyncAPI checks that services/asyncapi.yaml has the order service
// receive exactly what it subscribes to, and that its decoder of
// order.requested reads only what the product service sends.
func TestAsyncAPI(t *testing.T) {
	doc := asyncapitest.Load(t)
	doc.CheckReceives(t, "order", Subscriptions(nil, nil, nil))
	// shippingAddress is optional in the contract and read when present,
	// but the product service does not send it (its buy takes no address):
	// an order starts without one, set later with PUT /api/orders/{id}.
	doc.CheckConsumer(t, "order.requested", reflect.TypeFor[requestedData](), "shippingAddress")
}
