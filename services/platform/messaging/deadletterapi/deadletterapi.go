// Package deadletterapi serves one consuming service's dead letters over
// HTTP, for admins: list them, look at one, and replay one to its queue
// once its cause is fixed. Each service mounts it under its own API path
// (such as /api/orders/dead-letters) behind its admin check; errors are
// RFC 9457 problems.
package deadletterapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/platform/messaging"
	"github.com/travluk/ecom/services/platform/problem"
)

// Paging bounds of the list: a dead-letter queue is browsed message by
// message, so a page stays small.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// PathVar is the route variable that names the event, as in
// "/api/orders/dead-letters/{eventId}".
const PathVar = "eventId"

// unavailableRetry is the Retry-After of a 503: the broker reconnects
// within seconds.
const unavailableRetry = 5 * time.Second

// Handlers serve the dead letters of one queue.
type Handlers struct {
	dl    messaging.DeadLetters
	queue string
	log   *slog.Logger
}

// New returns the handlers for queue's dead letters in dl; a nil log
// discards.
func New(dl messaging.DeadLetters, queue string, log *slog.Logger) *Handlers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handlers{dl: dl, queue: queue, log: log}
}

// Routes returns the list, get and replay handlers of h. A nil h, an
// instance that serves no dead letters, answers 503 on all three.
func (h *Handlers) Routes() (list, get, replay http.Handler) {
	if h == nil {
		none := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			problem.Write(w, problem.Unavailable("Dead letters are not served by this instance.", 0))
		})
		return none, none, none
	}
	return h.List(), h.Get(), h.Replay()
}

// summary is a dead letter in a list and in a replay's answer.
type summary struct {
	ID             string     `json:"id"`
	Type           string     `json:"type"`
	Queue          string     `json:"queue"`
	DeadLetteredAt *time.Time `json:"deadLetteredAt"`
	Deliveries     *int       `json:"deliveries"`
	Reason         string     `json:"reason"`
	Error          *string    `json:"error"`
}

// detail is one dead letter with its whole event.
type detail struct {
	summary
	Event *messaging.Event `json:"event"`
}

func summarize(d messaging.DeadLetter) summary {
	s := summary{ID: d.ID, Type: d.Type, Queue: d.Queue, Reason: d.Reason}
	if !d.DeadLetteredAt.IsZero() {
		at := d.DeadLetteredAt.UTC()
		s.DeadLetteredAt = &at
	}
	if d.Deliveries > 0 {
		s.Deliveries = &d.Deliveries
	}
	if d.Error != "" {
		s.Error = &d.Error
	}
	return s
}

// List serves GET …/dead-letters?limit: the oldest dead letters, oldest
// first, and how many there are.
func (h *Handlers) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := DefaultLimit
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxLimit {
				problem.Write(w, problem.Validation(problem.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)}))
				return
			}
			limit = n
		}
		list, err := h.dl.ListDeadLetters(r.Context(), h.queue, limit)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		items := make([]summary, len(list.Items))
		for i, d := range list.Items {
			items[i] = summarize(d)
		}
		writeJSON(w, http.StatusOK, struct {
			Items []summary `json:"items"`
			Total int       `json:"total"`
		}{items, list.Total})
	})
}

// Get serves GET …/dead-letters/{eventId}: the dead letter with its whole
// event; 404 when there is none.
func (h *Handlers) Get() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := h.dl.DeadLetter(r.Context(), h.queue, mux.Vars(r)[PathVar])
		if err != nil {
			h.fail(w, r, err)
			return
		}
		out := detail{summary: summarize(d)}
		if d.Event.ID != "" {
			out.Event = &d.Event
		}
		writeJSON(w, http.StatusOK, out)
	})
}

// Replay serves POST …/dead-letters/{eventId}/replay: the event goes back
// on the queue once and leaves the dead letters; 202 with what was
// replayed, 404 when there is no such dead letter (a second replay).
func (h *Handlers) Replay() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)[PathVar]
		d, err := h.dl.ReplayDeadLetter(r.Context(), h.queue, id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.log.InfoContext(r.Context(), "dead letter replayed", "queue", h.queue, "id", id, "type", d.Type)
		writeJSON(w, http.StatusAccepted, summarize(d))
	})
}

func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, messaging.ErrNoDeadLetter):
		problem.Write(w, problem.New(http.StatusNotFound, "dead_letter_not_found", "There is no dead letter with this event id (a replayed one is gone)."))
	case errors.Is(err, messaging.ErrQueueNotConsumed):
		problem.Write(w, problem.Unavailable("Nothing consumes the queue right now; try again shortly.", unavailableRetry))
	default:
		h.log.WarnContext(r.Context(), "dead letters unavailable", "queue", h.queue, "method", r.Method, "path", r.URL.Path, "error", err)
		problem.Write(w, problem.Unavailable("The message broker is not reachable; try again shortly.", unavailableRetry))
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, problem.Internal())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
