package httpapi

import (
	"net/http"

	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
	"github.com/travluk/ecom/services/platform/problem"
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
	if o.deadLetters == nil {
		none := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			problem.Write(w, problem.Unavailable("Dead letters are not served by this instance.", 0))
		})
		return none, none, none
	}
	return o.deadLetters.List(), o.deadLetters.Get(), o.deadLetters.Replay()
}
