package asyncapitest

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
)

// validateMoney is the "money" format: a JSON number with at most two
// decimal places (DESIGN §2). It is judged on the number's decimal text,
// exactly, with big.Rat: multipleOf 0.01 is what JSON Schema offers
// instead, and tools that divide in binary floats refuse 19.90 with it.
// Values that are not numbers pass; the type keyword judges those.
func validateMoney(v any) error {
	var text string
	switch n := v.(type) {
	case json.Number:
		text = n.String()
	case float64:
		// The shortest decimal that reads back as n: what encoding/json writes.
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
