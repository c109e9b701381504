package jsonformat

import (
	"encoding/json"
	"math"
	"testing"
)

func TestMoney(t *testing.T) {
	tests := []struct {
		in any
		ok bool
	}{
		// As the OpenAPI validator hands them over: float64.
		{76.99, true},
		{0.07, true},
		{0.1, true},
		{100.0, true},
		{0.0, true},
		{-5.25, true},
		{19999999.99, true},
		{76.999, false},
		{0.001, false},
		{1.005, false},
		{math.Nextafter(0.3, 1), false}, // 0.30000000000000004, as 0.1+0.2 makes in float64
		// As the AsyncAPI validator hands them over: the JSON's own text.
		{json.Number("76.99"), true},
		{json.Number("19.9"), true},
		{json.Number("19"), true},
		{json.Number("76.990"), true}, // the number 76.99
		{json.Number("7.699e1"), true},
		{json.Number("1995e-2"), true},
		{json.Number("0.1e1"), true},
		{json.Number("1.005"), false},
		{json.Number("0.001"), false},
		{json.Number("1e-3"), false},
		{json.Number("-0.015"), false},
		{"76.999", true}, // not a number: the schema's type says so, not the format
	}
	for _, tt := range tests {
		if err := Money(tt.in); (err == nil) != tt.ok {
			t.Errorf("Money(%v) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
