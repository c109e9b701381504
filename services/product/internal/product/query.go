package product

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/travluk/ecom/services/platform/plaintext"
)

// Paging limits.
const (
	DefaultLimit  = 20
	MaxLimit      = 100
	MaxQueryRunes = 200
)

// Sort is a list order: a field, descending when prefixed with "-". Ties
// are always broken by id in the same direction, which makes the order
// total and paging by cursor exact.
type Sort string

// The supported orders. DefaultSort shows the newest products first.
const (
	SortCreatedAt     Sort = "createdAt"
	SortCreatedAtDesc Sort = "-createdAt"
	SortPrice         Sort = "price"
	SortPriceDesc     Sort = "-price"
	SortName          Sort = "name"
	SortNameDesc      Sort = "-name"
	DefaultSort            = SortCreatedAtDesc
)

// Sorts lists every supported order; the store must keep an index for each.
func Sorts() []Sort {
	return []Sort{SortCreatedAt, SortCreatedAtDesc, SortPrice, SortPriceDesc, SortName, SortNameDesc}
}

// SortField is the product field an order sorts on.
type SortField string

// The sortable fields.
const (
	FieldCreatedAt SortField = "createdAt"
	FieldPrice     SortField = "price"
	FieldName      SortField = "name"
)

// Field returns the field s sorts on.
func (s Sort) Field() SortField { return SortField(strings.TrimPrefix(string(s), "-")) }

// Descending reports whether s sorts from the largest value down.
func (s Sort) Descending() bool { return strings.HasPrefix(string(s), "-") }

func (s Sort) valid() bool {
	for _, v := range Sorts() {
		if s == v {
			return true
		}
	}
	return false
}

// Cursor is where a page ends: the sort key and id of its last product.
// The next page starts strictly after it, so products added or removed
// elsewhere in the order never make an unchanged product repeat or vanish.
type Cursor struct {
	CreatedAt time.Time
	Price     Money
	NameKey   string
	ID        string
}

// ListQuery is a validated list request.
type ListQuery struct {
	Limit    int
	Q        string // case-insensitive substring of name or description; "" for any
	MinPrice *Money // inclusive
	MaxPrice *Money // inclusive
	InStock  bool   // only products with stock > 0
	Sort     Sort
	After    *Cursor
}

// ListParams are list parameters as text, exactly as received; "" means
// absent.
type ListParams struct {
	Limit, Cursor, Q, MinPrice, MaxPrice, InStock, Sort string
}

// Page is one page of a listing. NextCursor is "" on the last page.
type Page struct {
	Items      []*Product
	NextCursor string
}

// ParseListQuery validates p and reports every invalid parameter at once.
func ParseListQuery(p ListParams) (ListQuery, error) {
	var errs []FieldError
	q := ListQuery{Limit: DefaultLimit, Sort: DefaultSort, Q: strings.TrimSpace(p.Q)}
	if p.Limit != "" {
		n, err := strconv.Atoi(p.Limit)
		if err != nil || n < 1 || n > MaxLimit {
			errs = append(errs, FieldError{"limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)})
		}
		q.Limit = n
	}
	if p.Sort != "" {
		q.Sort = Sort(p.Sort)
		if !q.Sort.valid() {
			errs = append(errs, FieldError{"sort", "must be one of createdAt, -createdAt, price, -price, name, -name"})
		}
	}
	if !plaintext.Valid(p.Q, false) {
		// The search text is a client's text like any other field's; checked
		// untrimmed, since TrimSpace takes U+0085 for a space.
		errs = append(errs, FieldError{"q", plaintext.Message})
	} else if utf8.RuneCountInString(q.Q) > MaxQueryRunes {
		errs = append(errs, FieldError{"q", fmt.Sprintf("must be at most %d characters", MaxQueryRunes)})
	}
	q.MinPrice = priceBound("minPrice", p.MinPrice, &errs)
	q.MaxPrice = priceBound("maxPrice", p.MaxPrice, &errs)
	if q.MinPrice != nil && q.MaxPrice != nil && *q.MinPrice > *q.MaxPrice {
		errs = append(errs, FieldError{"minPrice", "must not be greater than maxPrice"})
	}
	switch p.InStock {
	case "", "false":
	case "true":
		q.InStock = true
	default:
		errs = append(errs, FieldError{"inStock", "must be true or false"})
	}
	if p.Cursor != "" && q.Sort.valid() {
		c, err := decodeCursor(q.Sort, p.Cursor)
		if err != nil {
			errs = append(errs, FieldError{"cursor", err.Error()})
		}
		q.After = c
	}
	return q, validation(errs)
}

func priceBound(field, text string, errs *[]FieldError) *Money {
	if text == "" {
		return nil
	}
	m, err := ParseMoney(Decimal(text))
	if err != nil {
		*errs = append(*errs, FieldError{field, err.Error()})
		return nil
	}
	if m < 0 {
		*errs = append(*errs, FieldError{field, "must not be negative"})
		return nil
	}
	return &m
}

// InvalidCursor is the error for a cursor that decodes but names an id the
// store cannot have issued; stores return it.
func InvalidCursor() error {
	return &ValidationError{Errors: []FieldError{{"cursor", "is not a cursor of this listing"}}}
}

// cursorJSON is a cursor's encoded form. It carries its sort, so that a
// cursor is refused by a listing in another order instead of silently
// starting at a wrong place.
type cursorJSON struct {
	Sort      Sort   `json:"s"`
	CreatedAt int64  `json:"t,omitempty"` // Unix milliseconds
	Price     int64  `json:"p,omitempty"`
	NameKey   string `json:"n,omitempty"`
	ID        string `json:"i"`
}

// EncodeCursor returns the opaque cursor after p in order s.
func EncodeCursor(s Sort, p *Product) string {
	c := cursorJSON{Sort: s, ID: p.ID}
	switch s.Field() {
	case FieldCreatedAt:
		c.CreatedAt = p.CreatedAt.UnixMilli()
	case FieldPrice:
		c.Price = int64(p.Price)
	case FieldName:
		c.NameKey = NameKey(p.Name)
	}
	data, _ := json.Marshal(c) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s Sort, text string) (*Cursor, error) {
	data, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("is not a cursor of this listing")
	}
	var c cursorJSON
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" || c.Sort == "" {
		return nil, fmt.Errorf("is not a cursor of this listing")
	}
	if c.Sort != s {
		return nil, fmt.Errorf("belongs to another sort; start again without a cursor to change the order")
	}
	return &Cursor{
		CreatedAt: time.UnixMilli(c.CreatedAt).UTC(),
		Price:     Money(c.Price),
		NameKey:   c.NameKey,
		ID:        c.ID,
	}, nil
}
