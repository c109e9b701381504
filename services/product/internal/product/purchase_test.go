package product

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

func TestValidateLines(t *testing.T) {
	many := make([]Line, MaxBuyLines+1)
	for i := range many {
		many[i] = Line{ProductID: fmt.Sprint(i), Quantity: 1}
	}
	tests := []struct {
		name  string
		lines []Line
		want  string // the fields named, "" for valid
	}{
		{"one line", []Line{{"a", 1}}, ""},
		{"bounds", []Line{{"a", MinBuyQuantity}, {"b", MaxBuyQuantity}}, ""},
		{"fifty lines", many[:MaxBuyLines], ""},
		{"no lines", nil, "items"},
		{"fifty-one lines", many, "items"},
		{"zero", []Line{{"a", 0}}, "items[0].quantity"},
		{"too many units", []Line{{"a", MaxBuyQuantity + 1}}, "items[0].quantity"},
		{"no product", []Line{{"", 1}}, "items[0].productId"},
		{"duplicate", []Line{{"a", 1}, {"b", 1}, {"a", 2}}, "items[2].productId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateLines(tt.lines)
			if tt.want == "" {
				if err != nil {
					t.Errorf("ValidateLines = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want+" ") {
				t.Errorf("ValidateLines = %v, want %s named", err, tt.want)
			}
		})
	}
}

func TestBodyHash(t *testing.T) {
	a := BodyHash([]Line{{"x", 1}, {"y", 2}}, "")
	if b := BodyHash([]Line{{"y", 2}, {"x", 1}}, ""); a != b {
		t.Error("the order of lines changes the hash")
	}
	if b := BodyHash([]Line{{"x", 1}, {"y", 3}}, ""); a == b {
		t.Error("another quantity has the same hash")
	}
	if b := BodyHash([]Line{{"x\"", 1}}, ""); b == BodyHash([]Line{{"x", 1}}, "") {
		t.Error("quoting collides")
	}
	// Keys recorded before buys carried an address must still replay: with
	// none, the hash is the old one, sha256 of the quoted lines.
	if old := fmt.Sprintf("%x", sha256.Sum256([]byte("\"x\":1\n\"y\":2\n"))); a != old {
		t.Errorf("hash without an address %s, want the old %s", a, old)
	}
	if b := BodyHash([]Line{{"x", 1}, {"y", 2}}, "1 Main St"); b == a || b == BodyHash([]Line{{"x", 1}, {"y", 2}}, "2 Main St") {
		t.Error("the shipping address does not change the hash")
	}
}

func TestValidIdempotencyKey(t *testing.T) {
	for key, want := range map[string]bool{
		"order-1": true, "a b~": true, strings.Repeat("k", MaxIdempotencyKeyLength): true,
		"": false, strings.Repeat("k", MaxIdempotencyKeyLength+1): false, "tab\t": false, "é": false,
	} {
		if got := ValidIdempotencyKey(key); got != want {
			t.Errorf("ValidIdempotencyKey(%q) = %v", key, got)
		}
	}
}
