package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/order/internal/order"
	"github.com/travluk/ecom/services/platform/auth"
	"github.com/travluk/ecom/services/platform/jsonbody"
	"github.com/travluk/ecom/services/platform/problem"
)

type handlers struct {
	svc *order.Service
	log *slog.Logger
}

// orderJSON is the public shape of an order. Money is written from the
// cents with exactly two decimals.
type orderJSON struct {
	ID              string        `json:"id"`
	CustomerID      string        `json:"customerId"`
	Items           []itemJSON    `json:"items"`
	Quantity        int64         `json:"quantity"`
	TotalAmount     order.Money   `json:"totalAmount"`
	Currency        string        `json:"currency"`
	Status          order.Status  `json:"status"`
	StatusHistory   []historyJSON `json:"statusHistory"`
	ShippingAddress string        `json:"shippingAddress"`
	Notes           string        `json:"notes"`
	CreatedAt       time.Time     `json:"createdAt"`
	UpdatedAt       time.Time     `json:"updatedAt"`
}

type itemJSON struct {
	ProductID string      `json:"productId"`
	Name      string      `json:"name"`
	UnitPrice order.Money `json:"unitPrice"`
	Quantity  int64       `json:"quantity"`
	LineTotal order.Money `json:"lineTotal"`
}

type historyJSON struct {
	Status    order.Status `json:"status"`
	Timestamp time.Time    `json:"timestamp"`
	Note      string       `json:"note,omitempty"`
}

func historyOf(o *order.Order) []historyJSON {
	out := make([]historyJSON, len(o.History))
	for i, h := range o.History {
		out[i] = historyJSON{Status: h.Status, Timestamp: h.At.UTC(), Note: h.Note}
	}
	return out
}

func orderOf(o *order.Order) orderJSON {
	items := make([]itemJSON, len(o.Items))
	for i, it := range o.Items {
		items[i] = itemJSON{ProductID: it.ProductID, Name: it.Name, UnitPrice: it.UnitPrice, Quantity: it.Quantity, LineTotal: it.LineTotal}
	}
	return orderJSON{
		ID:              o.ID,
		CustomerID:      o.CustomerID,
		Items:           items,
		Quantity:        o.Quantity,
		TotalAmount:     o.Total,
		Currency:        o.Currency,
		Status:          o.Status,
		StatusHistory:   historyOf(o),
		ShippingAddress: o.ShippingAddress,
		Notes:           o.Notes,
		CreatedAt:       o.CreatedAt.UTC(),
		UpdatedAt:       o.UpdatedAt.UTC(),
	}
}

type listJSON struct {
	Items      []orderJSON `json:"items"`
	NextCursor string      `json:"nextCursor"`
}

type statusJSON struct {
	OrderID       string        `json:"orderId"`
	Status        order.Status  `json:"status"`
	StatusHistory []historyJSON `json:"statusHistory"`
}

// actor is who the verified token names. The routes are all behind
// Verifier.Customer, so the claims are there.
func actor(r *http.Request) order.Actor {
	c, ok := auth.ClaimsFrom(r.Context())
	if !ok {
		return order.Actor{}
	}
	return order.Actor{ID: c.Subject, Admin: c.Role == auth.RoleAdmin}
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := order.ParseListQuery(actor(r), order.ListParams{
		Status: v.Get("status"), CustomerID: v.Get("customerId"), Limit: v.Get("limit"), Cursor: v.Get("cursor"),
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	page, err := h.svc.List(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := listJSON{Items: make([]orderJSON, len(page.Items)), NextCursor: page.NextCursor}
	for i, o := range page.Items {
		out.Items[i] = orderOf(o)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	o, err := h.svc.Get(r.Context(), actor(r), mux.Vars(r)["orderId"])
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderOf(o))
}

func (h *handlers) getStatus(w http.ResponseWriter, r *http.Request) {
	o, err := h.svc.Get(r.Context(), actor(r), mux.Vars(r)["orderId"])
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{OrderID: o.ID, Status: o.Status, StatusHistory: historyOf(o)})
}

// statusBody is the body of PUT /api/orders/status/{orderId}. Fields are
// raw so that an absent field can be told from null.
type statusBody struct {
	Status json.RawMessage `json:"status"`
	Note   json.RawMessage `json:"note" jsonbody:"multiline"`
}

func (h *handlers) changeStatus(w http.ResponseWriter, r *http.Request) {
	var body statusBody
	errs, bad := decodeFields(w, r, &body)
	if bad != nil {
		h.writeError(w, r, bad)
		return
	}
	status := stringField("status", body.Status, true, &errs)
	note := stringField("note", body.Note, false, &errs)
	var to order.Status
	if status != nil {
		to = order.Status(*status)
	}
	var n string
	if note != nil {
		n = *note
	}
	if len(errs) > 0 {
		h.writeError(w, r, withCoreVerdict(errs, order.ValidateStatusChange(to, n)))
		return
	}
	o, err := h.svc.ChangeStatus(r.Context(), actor(r), mux.Vars(r)["orderId"], to, n)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderOf(o))
}

// detailsBody is the body of PUT /api/orders/{orderId}: only these two
// fields; any other (status, items, totalAmount…) is refused as unknown.
type detailsBody struct {
	ShippingAddress json.RawMessage `json:"shippingAddress" jsonbody:"multiline"`
	Notes           json.RawMessage `json:"notes" jsonbody:"multiline"`
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) {
	var body detailsBody
	errs, bad := decodeFields(w, r, &body)
	if bad != nil {
		h.writeError(w, r, bad)
		return
	}
	d := order.Details{
		ShippingAddress: stringField("shippingAddress", body.ShippingAddress, false, &errs),
		Notes:           stringField("notes", body.Notes, false, &errs),
	}
	if len(errs) > 0 {
		h.writeError(w, r, withCoreVerdict(errs, d.Validate()))
		return
	}
	o, err := h.svc.Update(r.Context(), actor(r), mux.Vars(r)["orderId"], d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderOf(o))
}

// decodeFields decodes the body into dst. A body refused as a whole (400,
// 413, 415) comes back as bad; one refused field by field gives its field
// errors, with dst filled as far as it could be, so that the handler adds
// the checks of the other fields to the same answer.
func decodeFields(w http.ResponseWriter, r *http.Request, dst any) (errs []problem.FieldError, bad *problem.Problem) {
	p := jsonbody.Decode(w, r, dst)
	if p == nil {
		return nil, nil
	}
	if p.Status != http.StatusUnprocessableEntity || len(p.Errors) == 0 {
		return nil, p
	}
	return p.Errors, nil
}

// stringField reads a JSON string field: nil when absent (an error when
// required), an error when present but not a string (null included).
func stringField(field string, raw json.RawMessage, required bool, errs *[]problem.FieldError) *string {
	if raw == nil {
		if required {
			*errs = append(*errs, problem.FieldError{Field: field, Message: "is required"})
		}
		return nil
	}
	var s string
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) || json.Unmarshal(raw, &s) != nil {
		*errs = append(*errs, problem.FieldError{Field: field, Message: "must be a string"})
		return nil
	}
	return &s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error here means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}
