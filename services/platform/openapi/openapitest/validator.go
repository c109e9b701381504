package openapitest

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/travluk/ecom/services/platform/jsonformat"
)

// MoneyFormat is the JSON Schema format of an amount of money: a JSON
// number with at most two decimal places (DESIGN §2). The documents use it
// instead of multipleOf 0.01, which tools checking with binary floats get
// wrong (76.99 is no multiple of 0.01 in float64); a tool that does not
// know the format ignores it, as JSON Schema says of unknown formats.
const MoneyFormat = "money"

// newValidator builds the validator of doc: OpenAPI 3.1 (JSON Schema 2020-12)
// with formats asserted, not merely annotated, so that date-time, email and
// money are held to. It fails when doc itself is not a valid OpenAPI
// document.
func newValidator(doc []byte) (validator.Validator, error) {
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: read document: %w", err)
	}
	v, errs := validator.NewValidator(d,
		config.WithFormatAssertions(),
		config.WithCustomFormat(MoneyFormat, jsonformat.Money),
	)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi: model document: %w", errors.Join(errs...))
	}
	// A document that breaks the OpenAPI schema would be refused by the
	// tools clients run, whatever the service does.
	if ok, verrs := v.ValidateDocument(); !ok {
		msgs := make([]string, len(verrs))
		for i, e := range verrs {
			msgs[i] = describe(e)
		}
		return nil, fmt.Errorf("openapi: the document breaks the OpenAPI %s schema:\n\t%s", d.GetVersion(), strings.Join(msgs, "\n\t"))
	}
	return v, nil
}
