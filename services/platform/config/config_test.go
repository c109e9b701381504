package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func lookup(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func TestEnvValues(t *testing.T) {
	env := New(lookup(map[string]string{
		"ADDR":    ":9090",
		"LIMIT":   " 12 ",
		"TTL":     "15m",
		"TRUST":   "true",
		"NEEDED":  "here",
		"EMPTYOK": "",
	}))
	type values struct {
		Addr, DefAddr, Needed string
		Limit, DefLimit       int
		TTL, DefTTL           time.Duration
		Trust, DefTrust       bool
	}
	got := values{
		Addr:     env.String("ADDR", ":8080"),
		DefAddr:  env.String("EMPTYOK", ":8080"),
		Needed:   env.Required("NEEDED"),
		Limit:    env.Int("LIMIT", 10),
		DefLimit: env.Int("NOPE", 10),
		TTL:      env.Duration("TTL", time.Minute),
		DefTTL:   env.Duration("NOPE", time.Minute),
		Trust:    env.Bool("TRUST", false),
		DefTrust: env.Bool("NOPE", true),
	}
	want := values{
		Addr: ":9090", DefAddr: ":8080", Needed: "here",
		Limit: 12, DefLimit: 10,
		TTL: 15 * time.Minute, DefTTL: time.Minute,
		Trust: true, DefTrust: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values mismatch (-want +got):\n%s", diff)
	}
	if err := env.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		read func(*Env)
		want string
	}{
		{"missing required", func(e *Env) { e.Required("MONGODB_URI") }, "MONGODB_URI is required but not set"},
		{"bad int", func(e *Env) { e.Int("LOGIN_ACCOUNT_FAILURE_LIMIT", 10) }, `LOGIN_ACCOUNT_FAILURE_LIMIT="ten": not an integer`},
		{"bad duration", func(e *Env) { e.Duration("ACCESS_TOKEN_TTL", time.Minute) }, `ACCESS_TOKEN_TTL="15": not a duration`},
		{"bad bool", func(e *Env) { e.Bool("TRUST_FORWARDED_FOR", false) }, `TRUST_FORWARDED_FOR="maybe": not a boolean`},
		{"invalid by rule", func(e *Env) { e.Invalid("ACCESS_TOKEN_TTL", "must be at most 15m") }, `ACCESS_TOKEN_TTL="15": must be at most 15m`},
		{"fail hides value", func(e *Env) { e.Fail("JWT_SIGNING_KEY", "not a PEM Ed25519 key") }, "JWT_SIGNING_KEY: not a PEM Ed25519 key"},
	}
	vars := map[string]string{
		"LOGIN_ACCOUNT_FAILURE_LIMIT": "ten",
		"ACCESS_TOKEN_TTL":            "15",
		"TRUST_FORWARDED_FOR":         "maybe",
		"JWT_SIGNING_KEY":             "secret-bytes",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := New(lookup(vars))
			tt.read(env)
			err := env.Err()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Err() = %v, want it to contain %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret-bytes") {
				t.Errorf("Err() = %v quotes a secret", err)
			}
		})
	}
}

func TestEnvReportsEveryProblem(t *testing.T) {
	env := New(lookup(map[string]string{"A": "x", "B": "y"}))
	env.Int("A", 1)
	env.Duration("B", time.Second)
	env.Required("C")
	lines := strings.Split(env.Err().Error(), "\n")
	want := []string{
		`A="x": not an integer`,
		`B="y": not a duration (use a unit, as in 90s, 15m or 1h30m)`,
		"C is required but not set",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}
