// Package config reads settings from the environment and collects every
// bad or missing variable, so that a service that cannot start says all
// that is wrong at once, naming each variable and the value it got.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through a getenv function and remembers each problem
// until Err reports them. The zero value is not usable; call New.
type Env struct {
	getenv func(string) string
	errs   []error
}

// New returns an Env reading through getenv, which is os.Getenv when nil.
// Tests pass a map lookup instead of touching the process environment.
func New(getenv func(string) string) *Env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Env{getenv: getenv}
}

// String returns the variable, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// Required returns the variable, and records an error when it is unset or
// empty.
func (e *Env) Required(name string) string {
	v := e.getenv(name)
	if v == "" {
		e.errs = append(e.errs, fmt.Errorf("%s is required but not set", name))
	}
	return v
}

// Int returns the variable as a base-10 integer, or def when it is unset. A
// value that is not an integer is recorded as an error and def returned.
func (e *Env) Int(name string, def int) int {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.invalid(name, v, "not an integer")
		return def
	}
	return n
}

// Duration returns the variable parsed by time.ParseDuration, or def when
// it is unset. A value that does not parse is recorded and def returned.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.invalid(name, v, "not a duration (use a unit, as in 90s, 15m or 1h30m)")
		return def
	}
	return d
}

// Bool returns the variable parsed by strconv.ParseBool, or def when it is
// unset. A value that does not parse is recorded and def returned.
func (e *Env) Bool(name string, def bool) bool {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.invalid(name, v, "not a boolean (use true or false)")
		return def
	}
	return b
}

// Invalid records that the variable's current value breaks a rule of the
// caller's, such as a maximum, so that it is reported with the others. The
// value is quoted in the error, so do not use Invalid for secrets; record
// those with Fail.
func (e *Env) Invalid(name, reason string) {
	e.invalid(name, e.getenv(name), reason)
}

// Fail records a problem with the variable without quoting its value.
func (e *Env) Fail(name, reason string) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, reason))
}

func (e *Env) invalid(name, value, reason string) {
	e.errs = append(e.errs, fmt.Errorf("%s=%q: %s", name, value, reason))
}

// Err returns every recorded problem joined into one error, one line each,
// or nil when there was none.
func (e *Env) Err() error {
	return errors.Join(e.errs...)
}
