// Package password hashes passwords with argon2id and verifies them in
// constant time.
//
// Hashes are PHC strings ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>",
// unpadded standard base64), so the parameters travel with each hash and can
// be raised later without invalidating stored ones.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen int
	KeyLen  uint32
}

// OWASP is the OWASP Password Storage Cheat Sheet's argon2id setting:
// 19 MiB of memory, 2 iterations, 1 lane.
var OWASP = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMalformedHash means a stored hash is not a PHC argon2id string this
// package can read.
var ErrMalformedHash = errors.New("password: malformed argon2id hash")

// Hasher hashes new passwords with its Params. The zero value is not usable;
// build it with New.
type Hasher struct {
	params Params
	// dummy is verified against when the account does not exist, so that
	// path costs exactly what a real verification costs. Its salt and key
	// are zeros: no password matches it (a 2^-256 chance), and building it
	// costs nothing at start, unlike hashing a random secret, which would
	// allocate the full argon2 memory before the first request.
	dummy string
	// slots bounds how many hashes run at once. Each takes Params.Memory
	// (19 MiB), so a burst of logins would otherwise grow the heap without
	// limit; beyond the CPUs, more parallel hashing is not faster anyway.
	slots chan struct{}
}

// New returns a Hasher with params.
func New(params Params) *Hasher {
	enc := base64.RawStdEncoding
	dummy := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, params.Memory, params.Time, params.Threads,
		enc.EncodeToString(make([]byte, params.SaltLen)), enc.EncodeToString(make([]byte, params.KeyLen)))
	return &Hasher{params: params, dummy: dummy, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
}

// Hash returns the PHC string for password with a fresh random salt.
func (h *Hasher) Hash(password string) (string, error) {
	return h.hash([]byte(password)), nil
}

func (h *Hasher) hash(password []byte) string {
	p := h.params
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	key := h.idKey(password, salt, p)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Verify reports whether password matches encoded, using the parameters
// stored in encoded. It returns ErrMalformedHash when encoded cannot be read.
func (h *Hasher) Verify(encoded, password string) (bool, error) {
	p, salt, key, err := decode(encoded)
	if err != nil {
		return false, err
	}
	p.KeyLen = uint32(len(key))
	got := h.idKey([]byte(password), salt, p)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// idKey runs argon2id once a slot is free.
func (h *Hasher) idKey(password, salt []byte, p Params) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// VerifyDummy verifies password against a hash of an unknown random secret
// and discards the answer: the caller pays the cost of a real Verify.
func (h *Hasher) VerifyDummy(password string) {
	_, _ = h.Verify(h.dummy, password)
}

// decode parses "$argon2id$v=19$m=..,t=..,p=..$salt$key". It bounds the
// parameters so a corrupted or hostile hash cannot ask for gigabytes.
func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 16 || p.Threads < 1 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
