package customer

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Role says what a customer may do. Every account is a RoleCustomer unless an
// admin (or the bootstrap) makes it a RoleAdmin.
type Role string

// The two roles. Their string values appear in tokens and profiles.
const (
	RoleCustomer Role = "customer"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool { return r == RoleCustomer || r == RoleAdmin }

// Limits on what a customer record may hold.
const (
	MaxNameLength     = 100
	MaxAddressLength  = 500
	MinPasswordLength = 8
	MaxPasswordLength = 128
	// MaxEmailLength is RFC 5321's limit on a forward path.
	MaxEmailLength = 254
)

// Customer is one account. PasswordHash never leaves the service: the
// transport layer renders profiles from the other fields only.
type Customer struct {
	ID           string
	Name         string
	Email        string
	Address      string
	Role         Role
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NormalizeEmail returns the form an email is stored and compared in:
// trimmed and lower-cased, so uniqueness is case-insensitive.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// validateName appends a problem with name to errs, if any.
func validateName(errs []FieldError, name string) []FieldError {
	n := utf8.RuneCountInString(strings.TrimSpace(name))
	switch {
	case n == 0:
		return append(errs, FieldError{"name", "is required"})
	case n > MaxNameLength:
		return append(errs, FieldError{"name", "must be at most 100 characters"})
	}
	return errs
}

// validateEmail checks an already normalised email. net/mail accepts display
// names ("Bob <bob@x>"); requiring the parsed address to equal the input
// rejects those, leaving only a bare addr-spec.
func validateEmail(errs []FieldError, email string) []FieldError {
	if email == "" {
		return append(errs, FieldError{"email", "is required"})
	}
	if len(email) > MaxEmailLength {
		return append(errs, FieldError{"email", "must be at most 254 characters"})
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return append(errs, FieldError{"email", "must be a valid email address"})
	}
	return errs
}

// validatePassword checks length in characters; the content is the owner's
// business.
func validatePassword(errs []FieldError, field, password string) []FieldError {
	n := utf8.RuneCountInString(password)
	switch {
	case password == "":
		return append(errs, FieldError{field, "is required"})
	case n < MinPasswordLength:
		return append(errs, FieldError{field, "must be at least 8 characters"})
	case n > MaxPasswordLength:
		return append(errs, FieldError{field, "must be at most 128 characters"})
	}
	return errs
}

func validateAddress(errs []FieldError, address string) []FieldError {
	if utf8.RuneCountInString(address) > MaxAddressLength {
		return append(errs, FieldError{"address", "must be at most 500 characters"})
	}
	return errs
}
