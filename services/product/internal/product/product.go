package product

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of the values a product may hold.
const (
	MaxNameRunes           = 200
	MaxDescriptionRunes    = 5000
	MaxAttributes          = 50
	MaxAttributeKeyRunes   = 100
	MaxAttributeValueRunes = 1000
	// MaxPrice is 99,999,999.99: far beyond any real product, far below
	// where cents in an int64 could overflow in order totals.
	MaxPrice Money = 99_999_999_99
	// MaxStock bounds stock for the same reason.
	MaxStock int64 = 1_000_000_000
)

// Money is an amount in cents. Prices are kept and computed in whole
// cents so that no float rounding ever touches them.
type Money int64

// String formats m with exactly two decimals, as "19.99" or "20.00".
func (m Money) String() string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%02d", sign, m/100, m%100)
}

// Decimal is a number as decimal text exactly as the client wrote it, such
// as "19.99" or "1e2". Keeping the text lets the core judge precision
// exactly; a float would already have lost it.
type Decimal string

// ParseMoney returns the exact amount d stands for. It fails when d is not
// a decimal number, has more than two decimal places that are not zero,
// or is far too large. It does not check the sign.
func ParseMoney(d Decimal) (Money, error) {
	v, err := parseScaled(string(d), 2)
	switch {
	case errors.Is(err, errTooPrecise):
		return 0, errors.New("must have at most 2 decimal places")
	case errors.Is(err, errOutOfRange):
		return 0, fmt.Errorf("must be at most %s", MaxPrice)
	case err != nil:
		return 0, errors.New("must be a number")
	}
	return Money(v), nil
}

// Attributes are a product's free-form properties: each value is a
// string, a bool, an int64 or a finite float64. Anything else (nested
// objects, arrays, null) is refused by validation.
type Attributes map[string]any

// Product is an item of the catalog.
type Product struct {
	ID          string
	Name        string
	Description string
	Price       Money
	// Stock is what can still be bought. Reserved and Sold belong to the
	// order flow, which moves units from Stock to Reserved to Sold; no
	// client input ever sets them.
	Stock      int64
	Reserved   int64
	Sold       int64
	Attributes Attributes
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version starts at 1 and grows by one with every write. ETags and
	// the cache are built on it.
	Version int64
}

// NameKey is the name lower-cased, the key products sort by when sorted
// by name, so that "apple" and "Banana" come in the order people expect.
func NameKey(name string) string {
	return strings.ToLower(name)
}

// Draft is a new product as a client describes it.
type Draft struct {
	Name        string
	Description string
	Price       Decimal
	Stock       Decimal
	Attributes  Attributes
}

// New validates d and returns the product it describes, created at now
// with version 1 and no id yet. All invalid fields are reported together
// in a *ValidationError.
func New(d Draft, now time.Time) (*Product, error) {
	var errs []FieldError
	name := validName(d.Name, &errs)
	validDescription(d.Description, &errs)
	price := validPrice(d.Price, &errs)
	stock := validStock(d.Stock, &errs)
	validAttributes(d.Attributes, &errs)
	if err := validation(errs); err != nil {
		return nil, err
	}
	attrs := d.Attributes
	if attrs == nil {
		attrs = Attributes{}
	}
	now = now.UTC().Truncate(time.Millisecond)
	return &Product{
		Name:        name,
		Description: d.Description,
		Price:       price,
		Stock:       stock,
		Attributes:  attrs,
		CreatedAt:   now,
		UpdatedAt:   now,
		Version:     1,
	}, nil
}

// Validate returns a *ValidationError listing every invalid field of d, or
// nil: what New would refuse.
func (d Draft) Validate() error {
	_, err := New(d, time.Time{})
	return err
}

// Changes is a partial update as a client sends it: nil fields stay as
// they are. Attributes, when set, replace the whole set.
type Changes struct {
	Name        *string
	Description *string
	Price       *Decimal
	Stock       *Decimal
	Attributes  *Attributes
}

// Patch is a validated partial update, ready for the repository: nil
// fields stay as they are. The repository also bumps the version.
type Patch struct {
	Name        *string
	Description *string
	Price       *Money
	Stock       *int64
	Attributes  *Attributes
	UpdatedAt   time.Time
}

// Validate returns a *ValidationError listing every invalid field of c, or
// nil.
func (c Changes) Validate() error {
	_, err := c.patch(time.Time{})
	return err
}

// patch validates c and returns the patch to apply at now.
func (c Changes) patch(now time.Time) (Patch, error) {
	var errs []FieldError
	p := Patch{UpdatedAt: now.UTC().Truncate(time.Millisecond)}
	if c.Name != nil {
		name := validName(*c.Name, &errs)
		p.Name = &name
	}
	if c.Description != nil {
		validDescription(*c.Description, &errs)
		p.Description = c.Description
	}
	if c.Price != nil {
		price := validPrice(*c.Price, &errs)
		p.Price = &price
	}
	if c.Stock != nil {
		stock := validStock(*c.Stock, &errs)
		p.Stock = &stock
	}
	if c.Attributes != nil {
		validAttributes(*c.Attributes, &errs)
		attrs := *c.Attributes
		if attrs == nil {
			attrs = Attributes{}
		}
		p.Attributes = &attrs
	}
	return p, validation(errs)
}

// validName returns the trimmed name; its length is counted in
// characters (runes), not bytes.
func validName(name string, errs *[]FieldError) string {
	name = strings.TrimSpace(name)
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes {
		*errs = append(*errs, FieldError{"name", fmt.Sprintf("must be 1 to %d characters", MaxNameRunes)})
	}
	return name
}

func validDescription(d string, errs *[]FieldError) {
	if utf8.RuneCountInString(d) > MaxDescriptionRunes {
		*errs = append(*errs, FieldError{"description", fmt.Sprintf("must be at most %d characters", MaxDescriptionRunes)})
	}
}

func validPrice(d Decimal, errs *[]FieldError) Money {
	m, err := ParseMoney(d)
	switch {
	case err != nil:
		*errs = append(*errs, FieldError{"price", err.Error()})
	case m <= 0:
		*errs = append(*errs, FieldError{"price", "must be greater than 0"})
	case m > MaxPrice:
		*errs = append(*errs, FieldError{"price", fmt.Sprintf("must be at most %s", MaxPrice)})
	}
	return m
}

func validStock(d Decimal, errs *[]FieldError) int64 {
	n, err := parseScaled(string(d), 0)
	switch {
	case errors.Is(err, errTooPrecise):
		*errs = append(*errs, FieldError{"stock", "must be a whole number"})
	case err != nil && !errors.Is(err, errOutOfRange):
		*errs = append(*errs, FieldError{"stock", "must be a number"})
	case n < 0:
		*errs = append(*errs, FieldError{"stock", "must not be negative"})
	case err != nil || n > MaxStock:
		*errs = append(*errs, FieldError{"stock", "must be at most " + strconv.FormatInt(MaxStock, 10)})
	}
	return n
}

func validAttributes(attrs Attributes, errs *[]FieldError) {
	if len(attrs) > MaxAttributes {
		*errs = append(*errs, FieldError{"attributes", fmt.Sprintf("must have at most %d keys", MaxAttributes)})
		return
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // errors in a stable order
	for _, k := range keys {
		field := "attributes." + k
		if n := utf8.RuneCountInString(k); n < 1 || n > MaxAttributeKeyRunes {
			*errs = append(*errs, FieldError{field, fmt.Sprintf("key must be 1 to %d characters", MaxAttributeKeyRunes)})
			continue
		}
		switch v := attrs[k].(type) {
		case string:
			if utf8.RuneCountInString(v) > MaxAttributeValueRunes {
				*errs = append(*errs, FieldError{field, fmt.Sprintf("must be at most %d characters", MaxAttributeValueRunes)})
			}
		case bool, int64:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				*errs = append(*errs, FieldError{field, "must be a finite number"})
			}
		default:
			*errs = append(*errs, FieldError{field, "must be a string, number or boolean"})
		}
	}
}
