package httpapi

import (
	"net/http"

	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
)

// WithDeadLetters serves the admin routes under /api/products/dead-letters
// with dl, the dead letters of the product service's queue. Without it
// they answer 503.
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
