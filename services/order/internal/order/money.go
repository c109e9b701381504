package order

import (
	"errors"
	"strconv"
	"strings"
)

// Money is an amount in cents. It is never a float: amounts are parsed
// from their decimal text and added as integers.
type Money int64

// MaxAmount bounds every amount (unit prices, line totals and order
// totals) far below int64 overflow: 10^13 cents.
const MaxAmount Money = 10_000_000_000_000

// String formats m with exactly two decimals, such as "19.90".
func (m Money) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return sign + strconv.FormatInt(v/100, 10) + "." + strconv.FormatInt(v/10%10, 10) + strconv.FormatInt(v%10, 10)
}

// MarshalJSON writes m as a JSON number with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return []byte(m.String()), nil }

var (
	errNotANumber = errors.New("must be a number")
	errTooPrecise = errors.New("must have at most two decimals")
	errTooLarge   = errors.New("is too large")
)

// ParseMoney reads a JSON number literal such as "19.99", "20" or "1.5e1"
// exactly into cents, working on the decimal digits, never through a
// float. Trailing zeros are not precision ("1.000" is 100 cents); a third
// significant decimal is an error, and so is a value over MaxAmount.
func ParseMoney(lit string) (Money, error) {
	neg := strings.HasPrefix(lit, "-")
	s := strings.TrimPrefix(lit, "-")
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasDot := strings.Cut(mantissa, ".")
	if !isDigits(intPart) || (len(intPart) > 1 && intPart[0] == '0') || (hasDot && !isDigits(frac)) {
		return 0, errNotANumber
	}
	shift := 2 - len(frac)
	if hasExp {
		e := strings.TrimPrefix(strings.TrimPrefix(exp, "+"), "-")
		if !isDigits(e) {
			return 0, errNotANumber
		}
		n, err := strconv.Atoi(e)
		if err != nil || n > 1000 {
			n = 1000 // only zero survives such exponents; keeps the arithmetic small
		}
		if strings.HasPrefix(exp, "-") {
			n = -n
		}
		shift += n
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		shift++
	}
	if shift < 0 {
		return 0, errTooPrecise
	}
	if len(digits)+shift > 16 {
		return 0, errTooLarge
	}
	v, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || Money(v) > MaxAmount {
		return 0, errTooLarge
	}
	if neg {
		v = -v
	}
	return Money(v), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
