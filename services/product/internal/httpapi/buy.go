package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/jsonbody"
	"github.com/travluk/ecom/services/platform/messaging/deadletterapi"
	"github.com/travluk/ecom/services/platform/problem"
	"github.com/travluk/ecom/services/product/internal/product"
)

// Option adds an optional part to the handler NewHandler returns.
type Option func(*options)

type options struct {
	flow        *product.Flow
	registry    prometheus.Registerer
	deadLetters *deadletterapi.Handlers
}

// WithBuy serves POST /api/products/buy with flow, counting answers in
// reg (product_buys_total{code}) when reg is not nil. Without it the
// route answers 503.
func WithBuy(flow *product.Flow, reg prometheus.Registerer) Option {
	return func(o *options) { o.flow, o.registry = flow, reg }
}

// inProgressRetry is the Retry-After of a 409 for a buy whose first
// attempt under the same Idempotency-Key is still reserving.
const inProgressRetry = time.Second

// buyHandler serves POST /api/products/buy.
type buyHandler struct {
	h       *handlers // for writeError
	flow    *product.Flow
	answers *prometheus.CounterVec
}

func newBuyHandler(log *slog.Logger, opts []Option) http.Handler {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	b := &buyHandler{h: &handlers{log: log}, flow: o.flow, answers: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "product_buys_total",
		Help: "Answers to POST /api/products/buy, by status code (201 confirmed, 202 pending, 409 out of stock or in progress, ...).",
	}, []string{"code"})}
	if o.registry != nil {
		o.registry.MustRegister(b.answers)
	}
	return b
}

// buyBody is either the items form, {items:[{productId, quantity}]}, or
// the ids form, {ids:[...], quantity} with one quantity for every id, with an optional shippingAddress (the shape and
// rule of the order's, as PUT /api/orders/{orderId} takes it). Unknown
// fields are refused by jsonbody.
type buyBody struct {
	Items           *[]buyItem `json:"items"`
	IDs             *[]string  `json:"ids"`
	Quantity        *int64     `json:"quantity"`
	ShippingAddress *string    `json:"shippingAddress" jsonbody:"multiline"`
}

type buyItem struct {
	ProductID *string `json:"productId"`
	Quantity  *int64  `json:"quantity"`
}

// pendingJSON is the 202 answer: the order is requested, not yet confirmed.
type pendingJSON struct {
	OrderID string `json:"orderId"`
	Status  string `json:"status"`
}

// orderJSON is the order as the order service shows it (DESIGN §2), built
// from the purchase: the product service does not own orders, but knows
// everything about one it just saw confirmed.
type orderJSON struct {
	ID              string          `json:"id"`
	CustomerID      string          `json:"customerId"`
	Items           []orderItemJSON `json:"items"`
	Quantity        int64           `json:"quantity"`
	TotalAmount     money           `json:"totalAmount"`
	Currency        string          `json:"currency"`
	Status          string          `json:"status"`
	StatusHistory   []historyJSON   `json:"statusHistory"`
	ShippingAddress string          `json:"shippingAddress"`
	Notes           string          `json:"notes"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
}

type orderItemJSON struct {
	ProductID string `json:"productId"`
	Name      string `json:"name"`
	UnitPrice money  `json:"unitPrice"`
	Quantity  int64  `json:"quantity"`
	LineTotal money  `json:"lineTotal"`
}

type historyJSON struct {
	Status    string    `json:"status"`
	Timestamp time.Time `json:"timestamp"`
}

func orderOf(p *product.Purchase) orderJSON {
	created := p.ConfirmedAt
	if created.IsZero() {
		created = p.UpdatedAt
	}
	o := orderJSON{
		ID: p.OrderID, CustomerID: p.CustomerID, Items: make([]orderItemJSON, len(p.Lines)),
		Quantity: p.Quantity(), TotalAmount: money(p.Total()), Currency: product.Currency,
		Status: "confirmed", StatusHistory: []historyJSON{{Status: "confirmed", Timestamp: created.UTC()}},
		ShippingAddress: p.ShippingAddress, CreatedAt: created.UTC(), UpdatedAt: created.UTC(),
	}
	if p.Status == product.StatusReleased {
		o.Status, o.UpdatedAt = "cancelled", p.UpdatedAt.UTC()
		o.StatusHistory = append(o.StatusHistory, historyJSON{Status: "cancelled", Timestamp: p.UpdatedAt.UTC()})
	}
	for i, l := range p.Lines {
		o.Items[i] = orderItemJSON{ProductID: l.ProductID, Name: l.Name, UnitPrice: money(l.UnitPrice),
			Quantity: l.Quantity, LineTotal: money(l.Total())}
	}
	return o
}

func (b *buyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code := b.serve(w, r)
	b.answers.WithLabelValues(strconv.Itoa(code)).Inc()
}

// serve answers one buy and returns the status it answered.
func (b *buyHandler) serve(w http.ResponseWriter, r *http.Request) int {
	fail := func(err error) int { return b.writeError(w, r, err) }
	// Admins pass auth.Customer; buying is for customers only: an order
	// belongs to the account that bought it, and admin accounts are not
	// customers.
	if claims, _ := auth.ClaimsFrom(r.Context()); claims == nil || claims.Role != auth.RoleCustomer {
		return fail(problem.New(http.StatusForbidden, "forbidden", "Only customer accounts can buy."))
	}
	if b.flow == nil {
		return fail(fmt.Errorf("%w: buying is not configured", product.ErrUnavailable))
	}
	// A bad key is answered with the body's field errors, not alone.
	var keyErrs []problem.FieldError
	key, keySent := "", len(r.Header.Values("Idempotency-Key")) > 0
	if keySent {
		key = r.Header.Get("Idempotency-Key")
		if len(r.Header.Values("Idempotency-Key")) > 1 || !product.ValidIdempotencyKey(key) {
			keyErrs = []problem.FieldError{{Field: "Idempotency-Key",
				Message: fmt.Sprintf("must be one header of 1 to %d printable ASCII characters", product.MaxIdempotencyKeyLength)}}
		}
	}
	claims, _ := auth.ClaimsFrom(r.Context())
	req := product.BuyRequest{CustomerID: claims.Subject, IdempotencyKey: key}
	var idsForm bool
	var bad *problem.Problem
	req.Lines, req.ShippingAddress, idsForm, bad = decodeBuy(w, r)
	if bad != nil && bad.Status != http.StatusUnprocessableEntity {
		return fail(bad) // 400, 413, 415: the body as a whole
	}
	if bad != nil || keyErrs != nil {
		if bad == nil {
			bad = problem.Validation()
		}
		verdict := buyVerdict(bad, idsForm, req.Validate())
		return fail(problem.Validation(append(keyErrs, verdict.Errors...)...))
	}
	p, err := b.flow.Buy(r.Context(), req)
	var invalid *product.ValidationError
	if idsForm && errors.As(err, &invalid) {
		err = problem.Validation(idsFormFields(invalid)...)
	}
	if err != nil {
		return fail(err)
	}
	w.Header().Set("Location", "/api/orders/"+p.OrderID)
	if p.Status == product.StatusRequested {
		writeJSON(w, http.StatusAccepted, pendingJSON{OrderID: p.OrderID, Status: "pending"})
		return http.StatusAccepted
	}
	writeJSON(w, http.StatusCreated, orderOf(p))
	return http.StatusCreated
}

// decodeBuy reads either form of the body into lines; idsForm says it
// was {ids, quantity}, whose fields errors must name. A body refused field
// by field still returns what could be read, for the core's verdict on it.
func decodeBuy(w http.ResponseWriter, r *http.Request) (lines []product.Line, addr *string, idsForm bool, bad *problem.Problem) {
	var body buyBody
	var shape, errs []problem.FieldError
	if p := jsonbody.Decode(w, r, &body); p != nil {
		if p.Status != http.StatusUnprocessableEntity {
			return nil, nil, false, p
		}
		shape = p.Errors
	}
	addr = body.ShippingAddress
	switch {
	case body.Items != nil && body.IDs != nil:
		errs = append(errs, problem.FieldError{Field: "ids", Message: "must not be sent with items"})
	case body.Items != nil:
		if body.Quantity != nil {
			errs = append(errs, problem.FieldError{Field: "quantity", Message: "belongs in each item when items are sent"})
		}
		for i, it := range *body.Items {
			field := "items[" + strconv.Itoa(i) + "]"
			l := product.Line{}
			if it.ProductID == nil {
				errs = append(errs, problem.FieldError{Field: field + ".productId", Message: "is required"})
			} else {
				l.ProductID = *it.ProductID
			}
			if it.Quantity == nil {
				errs = append(errs, problem.FieldError{Field: field + ".quantity", Message: "is required"})
			} else {
				l.Quantity = *it.Quantity
			}
			lines = append(lines, l)
		}
	case body.IDs != nil:
		idsForm = true
		q := int64(1)
		if body.Quantity != nil {
			q = *body.Quantity
		}
		for _, id := range *body.IDs {
			lines = append(lines, product.Line{ProductID: id, Quantity: q})
		}
	default:
		errs = append(errs, problem.FieldError{Field: "items", Message: "is required"})
	}
	// A field of the wrong type is also missing here; say it once.
	if errs = problem.MergeFields(shape, errs); len(errs) > 0 {
		return lines, addr, idsForm, problem.Validation(errs...)
	}
	return lines, addr, idsForm, nil
}

// buyVerdict adds the core's verdict on what could be read of a buy body
// to the body's own field errors, named as the form sent them.
func buyVerdict(decoded *problem.Problem, idsForm bool, verdict error) *problem.Problem {
	var invalid *product.ValidationError
	if decoded.Status != http.StatusUnprocessableEntity || !errors.As(verdict, &invalid) {
		return decoded
	}
	fields := fieldErrors(invalid)
	if idsForm {
		fields = idsFormFields(invalid)
	}
	return problem.Validation(problem.MergeFields(decoded.Errors, fields)...)
}

// idsFormFields renames the core's items[i].productId and items[i].quantity
// to the ids form's ids[i] and quantity.
func idsFormFields(v *product.ValidationError) []problem.FieldError {
	fields := make([]problem.FieldError, 0, len(v.Errors))
	seen := map[string]bool{}
	for _, f := range v.Errors {
		name := f.Field
		switch {
		case name == "items":
			name = "ids"
		case strings.HasSuffix(name, ".productId"):
			name = "ids" + strings.TrimSuffix(strings.TrimPrefix(name, "items"), ".productId")
		case strings.HasSuffix(name, ".quantity"):
			name = "quantity"
		}
		if !seen[name+f.Message] {
			seen[name+f.Message] = true
			fields = append(fields, problem.FieldError{Field: name, Message: f.Message})
		}
	}
	return fields
}

// writeError answers the flow's own outcomes, and leaves the rest to the
// service's writeError. It returns the status written.
func (b *buyHandler) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	var (
		short   *product.OutOfStockError
		unknown *product.UnknownProductError
		p       *problem.Problem
	)
	switch {
	case errors.As(err, &short):
		detail := fmt.Sprintf("Not enough stock of product %s for %d units; nothing was reserved.", short.ProductID, short.Requested)
		if short.Name != "" && short.Available >= 0 {
			detail = fmt.Sprintf("Not enough stock of product %s (%q): %d requested, %d available; nothing was reserved.",
				short.ProductID, short.Name, short.Requested, short.Available)
		}
		p = problem.New(http.StatusConflict, "out_of_stock", detail)
	case errors.As(err, &unknown):
		p = problem.New(http.StatusNotFound, "not_found", fmt.Sprintf("No such product: %s; nothing was reserved.", unknown.ProductID))
	case errors.Is(err, product.ErrBuyInProgress):
		p = problem.New(http.StatusConflict, "request_in_progress",
			"A buy with this Idempotency-Key is still in progress; retry shortly for its outcome.")
		p.RetryAfter = inProgressRetry
	case errors.Is(err, product.ErrIdempotencyKeyReused):
		p = problem.New(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"This Idempotency-Key was used with another request body; use a new key for a new buy.")
	case errors.As(err, &p):
	default:
		rec := &statusWriter{ResponseWriter: w}
		b.h.writeError(rec, r, err)
		return rec.status
	}
	problem.Write(w, p)
	return p.Status
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
