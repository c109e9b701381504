// Package plaintext decides whether client text is fit to store and show:
// free of control characters, which have no business in a name, an
// address or a search, and which break logs, terminals, CSV exports and
// the C libraries behind some drivers (a NUL ends a C string).
//
// The rule: C0 controls (U+0000 to U+001F), DEL (U+007F) and C1 controls
// (U+0080 to U+009F) are refused. Multi-line text (a description, a note,
// a postal address) may hold line feeds, carriage returns and tabs, since
// a browser's textarea sends CRLF line breaks; everything else is one
// line and may hold none of them.
package plaintext

// Message is the field error for single-line text that fails Valid.
const Message = "must not contain control characters"

// MultilineMessage is the field error for multi-line text that fails Valid.
const MultilineMessage = "must not contain control characters other than line breaks and tabs"

// Pattern and MultilinePattern are the rule as the regular expressions the
// OpenAPI and AsyncAPI documents give text fields (ECMA-262 and RE2 read
// them alike).
const (
	Pattern          = `^[^\x00-\x1f\x7f-\x9f]*$`
	MultilinePattern = `^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$`
)

// Valid reports whether s holds no control character, allowing "\n", "\r"
// and "\t" when multiline.
func Valid(s string, multiline bool) bool {
	for _, r := range s {
		if isControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return false
		}
	}
	return true
}

// MessageFor returns Message or MultilineMessage.
func MessageFor(multiline bool) string {
	if multiline {
		return MultilineMessage
	}
	return Message
}

func isControl(r rune) bool {
	return r <= 0x1f || (r >= 0x7f && r <= 0x9f)
}
