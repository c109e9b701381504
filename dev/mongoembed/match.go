package mongoembed

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// errOutside reports a filter, or a document value, that the fast path does
// not evaluate itself. It is never an answer to a client: the proxy then
// forwards the original command to FerretDB unchanged.
var errOutside = errors.New("outside the proxy's fast path")

// matcher is a query filter, without its _id, compiled for evaluating
// against one document in the proxy. Conditions are ANDed, as the top-level
// fields of a MongoDB filter are.
//
// It covers only what the services' conditional writes use, with MongoDB's
// semantics: implicit equality, $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin
// and $exists, on scalars (numbers of any BSON numeric type but decimal,
// strings, ObjectIDs, booleans, null), at top-level or dotted paths through
// embedded documents. Arrays are where MongoDB's semantics get subtle (a
// condition matches any element), so an array anywhere on a path sends the
// command to FerretDB instead.
type matcher []condition

// condition is one operator applied to the value at one path.
type condition struct {
	path    []string
	op      string
	operand bson.RawValue   // $eq, $ne, $gt, $gte, $lt, $lte
	list    []bson.RawValue // $in, $nin
	exists  bool            // $exists
}

// compileFilter splits a filter into the value of its _id field (zero if it
// has none) and a matcher for its other fields. It fails with errOutside on
// anything the matcher does not cover, such as $or, $regex, an embedded
// document or array to compare with, or a field given twice.
func compileFilter(filter bson.Raw) (id bson.RawValue, m matcher, err error) {
	elems, err := filter.Elements()
	if err != nil {
		return bson.RawValue{}, nil, err
	}
	seen := make(map[string]bool, len(elems))
	for _, e := range elems {
		key, v := e.Key(), e.Value()
		if seen[key] {
			return bson.RawValue{}, nil, errOutside // which one wins differs between servers
		}
		seen[key] = true
		if key == "_id" {
			id = v
			continue
		}
		path := strings.Split(key, ".")
		for _, p := range path {
			if p == "" || strings.HasPrefix(p, "$") { // $and, $or, $expr, $comment...
				return bson.RawValue{}, nil, errOutside
			}
		}
		if v.Type != bson.TypeEmbeddedDocument {
			if !isScalar(v) {
				return bson.RawValue{}, nil, errOutside // arrays, regular expressions...
			}
			m = append(m, condition{path: path, op: "$eq", operand: v})
			continue
		}
		conds, err := compileOperators(path, v.Document())
		if err != nil {
			return bson.RawValue{}, nil, err
		}
		m = append(m, conds...)
	}
	return id, m, nil
}

// compileOperators compiles an operator document such as {$gte: 2, $lt: 9}.
// A document without operators is an equality with an embedded document,
// which the matcher does not cover.
func compileOperators(path []string, ops bson.Raw) ([]condition, error) {
	elems, err := ops.Elements()
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, errOutside
	}
	conds := make([]condition, 0, len(elems))
	for _, e := range elems {
		c := condition{path: path, op: e.Key(), operand: e.Value()}
		switch c.op {
		case "$eq", "$ne":
			if !isScalar(c.operand) {
				return nil, errOutside
			}
		case "$gt", "$gte", "$lt", "$lte":
			// With null, MongoDB's $gte and $lte match missing fields:
			// rare enough to leave to FerretDB.
			if !isScalar(c.operand) || c.operand.Type == bson.TypeNull {
				return nil, errOutside
			}
		case "$in", "$nin":
			arr, ok := c.operand.ArrayOK()
			if !ok {
				return nil, errOutside
			}
			values, err := arr.Values()
			if err != nil {
				return nil, err
			}
			for _, x := range values {
				if !isScalar(x) {
					return nil, errOutside
				}
			}
			c.list = values
		case "$exists":
			// MongoDB takes any value as a boolean here; the services send booleans.
			b, ok := c.operand.BooleanOK()
			if !ok {
				return nil, errOutside
			}
			c.exists = b
		default:
			return nil, errOutside
		}
		conds = append(conds, c)
	}
	return conds, nil
}

// isScalar reports whether v is a value the matcher compares. NaN is left
// out: MongoDB orders it below every number and equal to itself, unlike Go.
func isScalar(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeInt32, bson.TypeInt64, bson.TypeString, bson.TypeObjectID, bson.TypeBoolean, bson.TypeNull:
		return true
	case bson.TypeDouble:
		return !math.IsNaN(v.Double())
	}
	return false
}

// matches reports whether doc satisfies every condition. It fails with
// errOutside when doc holds, where a condition looks, a value the matcher
// does not compare (an array on the path, a date, NaN...) and no other
// condition has already ruled the document out.
func (m matcher) matches(doc bson.Raw) (bool, error) {
	for _, c := range m {
		v, found, err := lookupPath(doc, c.path)
		if err != nil {
			return false, err
		}
		ok, err := c.eval(v, found)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// lookupPath returns the value at path in doc, or found false if there is
// none. As in MongoDB, a path that runs into a scalar before its end finds
// nothing; one that meets an array fails with errOutside.
func lookupPath(doc bson.Raw, path []string) (v bson.RawValue, found bool, err error) {
	for i, key := range path {
		v = doc.Lookup(key)
		switch {
		case v.Type == 0:
			return bson.RawValue{}, false, nil
		case v.Type == bson.TypeArray:
			return bson.RawValue{}, false, errOutside
		case i == len(path)-1:
			return v, true, nil
		case v.Type != bson.TypeEmbeddedDocument:
			return bson.RawValue{}, false, nil
		}
		doc = v.Document()
	}
	return bson.RawValue{}, false, nil // unreachable: paths are never empty
}

func (c condition) eval(v bson.RawValue, found bool) (bool, error) {
	switch c.op {
	case "$exists":
		return found == c.exists, nil
	case "$eq":
		return equal(v, found, c.operand)
	case "$ne":
		eq, err := equal(v, found, c.operand)
		return !eq, err
	case "$in", "$nin":
		for _, x := range c.list {
			eq, err := equal(v, found, x)
			if err != nil {
				return false, err
			}
			if eq {
				return c.op == "$in", nil
			}
		}
		return c.op == "$nin", nil
	}
	if !found {
		return false, nil // a missing field is null, and null compares only with null
	}
	order, comparable, err := compare(v, c.operand)
	if err != nil || !comparable {
		return false, err
	}
	switch c.op {
	case "$gt":
		return order > 0, nil
	case "$gte":
		return order >= 0, nil
	case "$lt":
		return order < 0, nil
	default: // $lte, the only operator left
		return order <= 0, nil
	}
}

// equal reports whether the value at a path (v, if found) equals the
// operand x. Null equals null and a missing field, as in MongoDB.
func equal(v bson.RawValue, found bool, x bson.RawValue) (bool, error) {
	if found && !isScalar(v) {
		return false, errOutside
	}
	if x.Type == bson.TypeNull {
		return !found || v.Type == bson.TypeNull, nil
	}
	if !found {
		return false, nil
	}
	order, comparable, err := compare(v, x)
	return comparable && order == 0, err
}

// compare orders two scalars of one kind. Values of different kinds are not
// comparable: MongoDB's comparison operators only match within one kind
// ("type bracketing"), all numeric types being one kind. Strings compare
// bytewise, as MongoDB does without a collation.
func compare(a, b bson.RawValue) (order int, comparable bool, err error) {
	if !isScalar(a) || !isScalar(b) {
		return 0, false, errOutside
	}
	if a.IsNumber() && b.IsNumber() {
		order, err := compareNumbers(a, b)
		return order, err == nil, err
	}
	if a.Type != b.Type {
		return 0, false, nil
	}
	switch a.Type {
	case bson.TypeString:
		return strings.Compare(a.StringValue(), b.StringValue()), true, nil
	case bson.TypeObjectID:
		x, y := a.ObjectID(), b.ObjectID()
		return bytes.Compare(x[:], y[:]), true, nil
	case bson.TypeBoolean:
		return cmp.Compare(boolOrder(a.Boolean()), boolOrder(b.Boolean())), true, nil
	default: // null
		return 0, true, nil
	}
}

func boolOrder(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxExactInt is the largest magnitude up to which every integer converts
// to a float64 exactly.
const maxExactInt = 1 << 53

// compareNumbers compares int32, int64 and double values numerically.
// Integers beyond ±2^53 compared with a double are left to FerretDB, since a
// conversion could round them across the other value.
func compareNumbers(a, b bson.RawValue) (int, error) {
	if a.Type != bson.TypeDouble && b.Type != bson.TypeDouble {
		return cmp.Compare(a.AsInt64(), b.AsInt64()), nil
	}
	x, err := exactFloat(a)
	if err != nil {
		return 0, err
	}
	y, err := exactFloat(b)
	if err != nil {
		return 0, err
	}
	return cmp.Compare(x, y), nil
}

func exactFloat(v bson.RawValue) (float64, error) {
	if v.Type == bson.TypeDouble {
		return v.Double(), nil
	}
	i := v.AsInt64()
	if i > maxExactInt || i < -maxExactInt {
		return 0, errOutside
	}
	return float64(i), nil
}
