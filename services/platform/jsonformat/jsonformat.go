// Package jsonformat holds the JSON Schema formats of our own that the
// OpenAPI and AsyncAPI validators in tests assert (openapitest,
// asyncapitest), so both judge a document's "format" the same way.
package jsonformat

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

// Money is the "money" format: a JSON number with at most two decimal
// places (DESIGN §2). It is judged exactly, on the number's decimal text,
// never by float division (multipleOf 0.01 is what JSON Schema offers, and
// tools that divide in binary floats refuse 76.99 with it). A float64 is
// written back as the shortest decimal that reads as the same float, which
// is the text the JSON held, to 15 significant digits. Values that are not
// numbers pass: the schema's type judges those.
func Money(v any) error {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case float64:
		text = strconv.FormatFloat(n, 'f', -1, 64)
	default:
		return nil
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		return fmt.Errorf("%s is not a decimal number", text)
	}
	if !r.Mul(r, big.NewRat(100, 1)).IsInt() {
		return fmt.Errorf("%s has more than two decimal places", text)
	}
	return nil
}
