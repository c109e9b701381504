package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/travluk/ecom/services/platform/jsonbody"
	"github.com/travluk/ecom/services/platform/problem"
	"github.com/travluk/ecom/services/product/internal/product"
)

type handlers struct {
	svc *product.Service
	log *slog.Logger
	// rendered keeps the last answer of get per slot, so that reading a
	// hot product does not encode it again on every request.
	rendered [renderedSlots]atomic.Pointer[rendering]
}

// renderedSlots is how many rendered products handlers keep at most, one
// per slot of a hash of the id.
const renderedSlots = 1024

// rendering is the answer of get for one version of a product. A version
// names exactly one representation (the strong ETag promises as much),
// so an answer of the same id, version and update time can be reused.
type rendering struct {
	id        string
	version   int64
	updatedAt time.Time
	etag      string
	body      []byte // JSON, with the newline json.Encoder ends it with
	// etagValues is etag as a header value, built once with the body.
	etagValues []string
}

// Header values of every product read, shared by every answer: the
// response's header map is copied when it is written, so these slices are
// only ever read.
var (
	noCacheValues  = []string{"no-cache"}
	jsonTypeValues = []string{"application/json"}
)

// render returns get's answer for p, from the memo when it holds p's
// version.
func (h *handlers) render(p *product.Product) *rendering {
	slot := &h.rendered[renderedSlot(p.ID)]
	if r := slot.Load(); r != nil && r.id == p.ID && r.version == p.Version && r.updatedAt.Equal(p.UpdatedAt) {
		return r
	}
	body, err := json.Marshal(productOf(p))
	if err != nil { // plain values only: cannot happen
		body = nil
	}
	tag := etag(p)
	r := &rendering{id: p.ID, version: p.Version, updatedAt: p.UpdatedAt, etag: tag, body: append(body, '\n'), etagValues: []string{tag}}
	if err == nil {
		slot.Store(r)
	}
	return r
}

// renderedSlot hashes id (FNV-1a) to a slot of handlers.rendered.
func renderedSlot(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return h % renderedSlots
}

// productJSON is the public shape of a product. Reserved and sold units
// are the order flow's bookkeeping and are not shown.
type productJSON struct {
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Price       money              `json:"price"`
	Stock       int64              `json:"stock"`
	Attributes  product.Attributes `json:"attributes"`
	CreatedAt   time.Time          `json:"createdAt"`
	UpdatedAt   time.Time          `json:"updatedAt"`
	Version     int64              `json:"version"`
}

// money is written as a JSON number with exactly two decimals, straight
// from the cents, so no float ever formats a price.
type money product.Money

func (m money) MarshalJSON() ([]byte, error) {
	return []byte(product.Money(m).String()), nil
}

func productOf(p *product.Product) productJSON {
	attrs := p.Attributes
	if attrs == nil {
		attrs = product.Attributes{}
	}
	return productJSON{
		ID:          p.ID,
		Name:        p.Name,
		Description: p.Description,
		Price:       money(p.Price),
		Stock:       p.Stock,
		Attributes:  attrs,
		CreatedAt:   p.CreatedAt.UTC(),
		UpdatedAt:   p.UpdatedAt.UTC(),
		Version:     p.Version,
	}
}

type listJSON struct {
	Items      []productJSON `json:"items"`
	NextCursor string        `json:"nextCursor"`
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := product.ParseListQuery(product.ListParams{
		Limit: v.Get("limit"), Cursor: v.Get("cursor"), Q: v.Get("q"),
		MinPrice: v.Get("minPrice"), MaxPrice: v.Get("maxPrice"),
		InStock: v.Get("inStock"), Sort: v.Get("sort"),
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
	out := listJSON{Items: make([]productJSON, len(page.Items)), NextCursor: page.NextCursor}
	for i, p := range page.Items {
		out.Items[i] = productOf(p)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.Get(r.Context(), mux.Vars(r)["productId"])
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := h.render(p)
	// The values are set without Header.Set, which would allocate a
	// slice for each on every read.
	hdr := w.Header()
	hdr["Etag"] = out.etagValues
	// Clients may keep the product but must revalidate, which the ETag
	// makes cheap.
	hdr["Cache-Control"] = noCacheValues
	if noneMatch(r.Header.Get("If-None-Match"), out.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr["Content-Type"] = jsonTypeValues
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.body) // an error means the client went away
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	c, bad := decodeProduct(w, r, true)
	d := draftOf(c)
	if bad != nil {
		h.writeError(w, r, withCoreVerdict(bad, d.Validate()))
		return
	}
	p, err := h.svc.Create(r.Context(), d)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/products/"+p.ID)
	w.Header().Set("ETag", etag(p))
	writeJSON(w, http.StatusCreated, productOf(p))
}

func (h *handlers) update(w http.ResponseWriter, r *http.Request) {
	c, bad := decodeProduct(w, r, false)
	if bad != nil {
		h.writeError(w, r, withCoreVerdict(bad, c.Validate()))
		return
	}
	p, err := h.svc.Update(r.Context(), mux.Vars(r)["productId"], c, ifMatch(r.Header.Get("If-Match")))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(p))
	writeJSON(w, http.StatusOK, productOf(p))
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) {
	err := h.svc.Delete(r.Context(), mux.Vars(r)["productId"], ifMatch(r.Header.Get("If-Match")))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// productBody takes each field as raw JSON, so that the handler can tell
// an absent field from null, and read numbers as the exact text the
// client sent. Fields not listed (such as sold or reserved) are refused
// by jsonbody as unknown.
type productBody struct {
	Name        json.RawMessage `json:"name"`
	Description json.RawMessage `json:"description" jsonbody:"multiline"`
	Price       json.RawMessage `json:"price"`
	Stock       json.RawMessage `json:"stock"`
	Attributes  json.RawMessage `json:"attributes"`
}

// draftOf is the new product c describes; absent fields are zero.
func draftOf(c product.Changes) product.Draft {
	var d product.Draft
	if c.Name != nil {
		d.Name = *c.Name
	}
	if c.Description != nil {
		d.Description = *c.Description
	}
	if c.Price != nil {
		d.Price = *c.Price
	}
	if c.Stock != nil {
		d.Stock = *c.Stock
	}
	if c.Attributes != nil {
		d.Attributes = *c.Attributes
	}
	return d
}

// decodeProduct reads a product body into Changes, checking each field's
// JSON type; the core then checks the values. With required, name,
// description, price and stock must all be present. A body refused field
// by field still returns the fields it could read, so that the caller can
// add the core's verdict on them to the same answer.
func decodeProduct(w http.ResponseWriter, r *http.Request, required bool) (product.Changes, *problem.Problem) {
	var body productBody
	var (
		c    product.Changes
		errs []problem.FieldError
	)
	if p := jsonbody.Decode(w, r, &body); p != nil {
		if p.Status != http.StatusUnprocessableEntity {
			return product.Changes{}, p
		}
		errs = p.Errors
	}
	need := func(field string, raw json.RawMessage) bool {
		if raw != nil {
			return true
		}
		if required {
			errs = append(errs, problem.FieldError{Field: field, Message: "is required"})
		}
		return false
	}
	if need("name", body.Name) {
		c.Name = stringField("name", body.Name, &errs)
	}
	if need("description", body.Description) {
		c.Description = stringField("description", body.Description, &errs)
	}
	if need("price", body.Price) {
		c.Price = numberField("price", body.Price, &errs)
	}
	if need("stock", body.Stock) {
		c.Stock = numberField("stock", body.Stock, &errs)
	}
	if body.Attributes != nil {
		c.Attributes = attributesField(body.Attributes, &errs)
	}
	if len(errs) > 0 {
		return c, problem.Validation(errs...)
	}
	return c, nil
}

func stringField(field string, raw json.RawMessage, errs *[]problem.FieldError) *string {
	var s string
	if !bytes.HasPrefix(raw, []byte(`"`)) || json.Unmarshal(raw, &s) != nil {
		*errs = append(*errs, problem.FieldError{Field: field, Message: "must be a string"})
		return nil
	}
	return &s
}

// numberField keeps a JSON number's literal text: "19.99" stays exactly
// that, for the core to parse into cents. Strings such as "19.99" are
// refused: a price is a number.
func numberField(field string, raw json.RawMessage, errs *[]problem.FieldError) *product.Decimal {
	text := string(bytes.TrimSpace(raw))
	if text == "" || (text[0] != '-' && (text[0] < '0' || text[0] > '9')) {
		*errs = append(*errs, problem.FieldError{Field: field, Message: "must be a number"})
		return nil
	}
	d := product.Decimal(text)
	return &d
}

// attributesField reads an object whose values the core then checks.
// Numbers become int64 when written as whole numbers, float64 otherwise;
// nested objects, arrays and null pass through for the core to refuse.
func attributesField(raw json.RawMessage, errs *[]problem.FieldError) *product.Attributes {
	if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
		*errs = append(*errs, problem.FieldError{Field: "attributes", Message: "must be an object"})
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		*errs = append(*errs, problem.FieldError{Field: "attributes", Message: "must be an object"})
		return nil
	}
	attrs := make(product.Attributes, len(m))
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil && !strings.ContainsAny(n.String(), ".eE") {
				v = i
			} else {
				f, _ := strconv.ParseFloat(n.String(), 64) // out of range gives ±Inf, which the core refuses
				v = f
			}
		}
		attrs[k] = v
	}
	return &attrs
}

// etag is a product's strong entity tag. It changes with every write,
// since every write bumps the version; ids are never reused, so a tag
// never comes back for a different product at the same URL.
func etag(p *product.Product) string {
	return `"v` + strconv.FormatInt(p.Version, 10) + `"`
}

// noneMatch reports whether an If-None-Match value matches tag: "*", or a
// list containing it, compared weakly (W/ ignored) as RFC 9110 asks.
func noneMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

// ifMatch returns the versions an If-Match value allows, compared
// strongly: nil when absent or "*" (any current product), and an empty,
// non-nil list when no entry is one of our tags, which matches nothing.
func ifMatch(header string) []int64 {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return nil
	}
	versions := []int64{}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		digits, ok := strings.CutPrefix(t, `"v`)
		if !ok || !strings.HasSuffix(digits, `"`) {
			continue // weak or foreign tags never match strongly
		}
		if v, err := strconv.ParseInt(strings.TrimSuffix(digits, `"`), 10, 64); err == nil {
			versions = append(versions, v)
		}
	}
	return versions
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An encoding error here means the client went away.
	_ = json.NewEncoder(w).Encode(v)
}
