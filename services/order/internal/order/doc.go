// Package order is the order service's core: what an order is, the state
// machine it moves through, and the use cases that create, read, list and
// change orders. It knows nothing of HTTP, MongoDB or AMQP; it states what
// it needs from them in ports.go.
//
// The rules it keeps: an order is created once per order id, however often
// its request arrives; money is exact (integer cents); a status moves only
// along confirmed → processing → shipped → delivered, or to cancelled from
// confirmed or processing, and every move is recorded in the status history
// together with the event it publishes, in one write; a customer sees and
// changes only their own orders, and only an admin moves an order forward.
package order
