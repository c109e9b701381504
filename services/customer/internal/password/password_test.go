package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	h := New(OWASP)
	encoded, err := h.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the OWASP parameters", encoded)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery", true},
		{"correct horse batterY", false},
		{"", false},
	} {
		ok, err := h.Verify(encoded, tt.password)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	again, _ := h.Hash("correct horse battery")
	if again == encoded {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyUsesStoredParameters(t *testing.T) {
	cheap := New(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	encoded, _ := cheap.Hash("password123")
	ok, err := New(OWASP).Verify(encoded, "password123")
	if err != nil || !ok {
		t.Errorf("a hash made with other parameters must still verify: %v, %v", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := New(Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	for _, encoded := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5a2V5a2V5a2V5a2V5a2V5",
	} {
		if _, err := h.Verify(encoded, "whatever1"); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Verify(%q) error = %v, want ErrMalformedHash", encoded, err)
		}
	}
}

func BenchmarkVerifyOWASP(b *testing.B) {
	h := New(OWASP)
	encoded, _ := h.Hash("benchmark-password")
	for b.Loop() {
		h.Verify(encoded, "benchmark-password")
	}
}

func TestVerifyDummyCostsAVerification(t *testing.T) {
	h := New(OWASP)
	// The dummy must be readable, or VerifyDummy would return at once and
	// unknown emails would answer faster than wrong passwords.
	if _, _, _, err := decode(h.dummy); err != nil {
		t.Fatalf("dummy hash %q: %v", h.dummy, err)
	}
	if ok, err := h.Verify(h.dummy, ""); ok || err != nil {
		t.Errorf("Verify(dummy) = %v, %v; want false, nil", ok, err)
	}
}
