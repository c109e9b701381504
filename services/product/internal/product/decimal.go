package product

import (
	"errors"
	"strconv"
	"strings"
)

// Why a decimal literal was refused. Callers phrase their own field
// messages from these.
var (
	errNotANumber  = errors.New("not a number")
	errTooPrecise  = errors.New("too many decimal places")
	errOutOfRange  = errors.New("out of range")
	maxScaledValue = int64(1e15) // far above any price or stock we accept, far below overflow
)

// parseScaled returns the exact value of a JSON number literal (such as
// "19.99", "20", "1.5e1") multiplied by 10^places, when that product is a
// whole number. It works on the decimal digits, never through a float, so
// "0.1" is exactly 10 cents and "1.001" is refused with errTooPrecise
// rather than rounded. Trailing zeros do not count as precision ("1.000"
// is 100 cents), and exponents are applied exactly ("1e2" is 100). Values
// whose magnitude exceeds maxScaledValue are errOutOfRange.
func parseScaled(lit string, places int) (int64, error) {
	neg := strings.HasPrefix(lit, "-")
	s := strings.TrimPrefix(lit, "-")

	mantissa, exp, found := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, hasDot := strings.Cut(mantissa, ".")
	if !isDigits(intPart) || (len(intPart) > 1 && intPart[0] == '0') || (hasDot && !isDigits(frac)) {
		return 0, errNotANumber
	}
	shift := places - len(frac)
	if found {
		e := strings.TrimPrefix(strings.TrimPrefix(exp, "+"), "-")
		if !isDigits(e) {
			return 0, errNotANumber
		}
		// Exponents beyond a few digits only matter for zero; cap them so
		// that "1e999999999999" cannot overflow the arithmetic below.
		n, err := strconv.Atoi(e)
		if err != nil || n > 1000 {
			n = 1000
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
		return 0, errOutOfRange
	}
	v, err := strconv.ParseInt(digits+strings.Repeat("0", shift), 10, 64)
	if err != nil || v > maxScaledValue {
		return 0, errOutOfRange
	}
	if neg {
		v = -v
	}
	return v, nil
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
