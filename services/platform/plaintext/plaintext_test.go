package plaintext

import (
	"regexp"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name      string
		s         string
		multiline bool
		want      bool
	}{
		{"plain", "Ada Lovelace", false, true},
		{"unicode letters", "Zoë Ωmega 東京", false, true},
		{"empty", "", false, true},
		{"NUL", "12 Main St\x00", false, false},
		{"NUL in multi-line", "12 Main St\x00", true, false},
		{"bell", "a\x07b", false, false},
		{"escape", "\x1b[31mred", true, false},
		{"unit separator U+001F", "a\x1fb", false, false},
		{"DEL", "a\x7fb", false, false},
		{"C1 U+0085 next line", "a\u0085b", true, false},
		{"C1 U+009F", "a\u009fb", false, false},
		{"U+00A0 no-break space is not a control", "a\u00a0b", false, true},
		{"line feed in one line", "a\nb", false, false},
		{"tab in one line", "a\tb", false, false},
		{"line feed in multi-line", "a\nb", true, true},
		{"CRLF in multi-line", "a\r\nb", true, true},
		{"tab in multi-line", "a\tb", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Valid(tt.s, tt.multiline); got != tt.want {
				t.Errorf("Valid(%q, %v) = %v, want %v", tt.s, tt.multiline, got, tt.want)
			}
		})
	}
}

// TestPatternsAreTheRule: the documents' patterns accept exactly what
// Valid accepts, rune by rune.
func TestPatternsAreTheRule(t *testing.T) {
	for _, multiline := range []bool{false, true} {
		re := regexp.MustCompile(Pattern)
		if multiline {
			re = regexp.MustCompile(MultilinePattern)
		}
		for r := rune(0); r < 0x300; r++ {
			s := "a" + string(r) + "b"
			if got, want := re.MatchString(s), Valid(s, multiline); got != want {
				t.Errorf("multiline %v, U+%04X: pattern %v, Valid %v", multiline, r, got, want)
			}
		}
	}
}
