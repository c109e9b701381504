package httpapi

import (
	"net/http"

	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
)

// Option adds an optional part to the handler NewHandler returns.
type Option func(*options)

type options struct {
	deadLetters *deadletterapi.Handlers
}

// WithDeadLetters serves the admin routes under /api/orders/dead-letters
// with dl, the dead letters of the order service's queue. Without it they
// answer 503.
func WithDeadLetters(dl *deadletterapi.Handlers) Option {
	return func(o *options) { o.deadLetters = dl }
}

// deadLetterRoutes returns the handlers of list, get and replay.
func deadLetterRoutes(opts []Option) (list, get, replay http.Handler) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o.deadLetters.Routes()
}
