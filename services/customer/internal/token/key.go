package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// KeySource says where the signing key comes from, in order of preference:
// a PEM file, PEM text, or a key generated once and kept under DataDir.
type KeySource struct {
	File    string // JWT_SIGNING_KEY_FILE
	PEM     string // JWT_SIGNING_KEY
	DataDir string // DATA_DIR; the key lives at DataDir/customer/jwt-signing-key.pem
}

// ErrNoKey means no key source was configured.
var ErrNoKey = errors.New("no signing key: set JWT_SIGNING_KEY_FILE or JWT_SIGNING_KEY (PEM PKCS#8 Ed25519), or DATA_DIR to generate and keep one")

// LoadKey returns the signing key from the first configured source. With
// only DataDir set, it reads the key kept there, or generates one and keeps
// it (mode 0600) so that tokens survive a restart. It fails with ErrNoKey
// when no source is set, and with a descriptive error when the key is not a
// PEM PKCS#8 Ed25519 private key.
func LoadKey(src KeySource) (ed25519.PrivateKey, error) {
	switch {
	case src.File != "":
		data, err := os.ReadFile(src.File)
		if err != nil {
			return nil, fmt.Errorf("JWT_SIGNING_KEY_FILE: %w", err)
		}
		key, err := ParsePEM(data)
		if err != nil {
			return nil, fmt.Errorf("JWT_SIGNING_KEY_FILE %s: %w", src.File, err)
		}
		return key, nil
	case src.PEM != "":
		key, err := ParsePEM([]byte(src.PEM))
		if err != nil {
			return nil, fmt.Errorf("JWT_SIGNING_KEY: %w", err)
		}
		return key, nil
	case src.DataDir != "":
		return keptKey(filepath.Join(src.DataDir, "customer", "jwt-signing-key.pem"))
	}
	return nil, ErrNoKey
}

// ParsePEM reads a PEM "PRIVATE KEY" block holding a PKCS#8 Ed25519 key.
func ParsePEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New(`want a PEM "PRIVATE KEY" block (PKCS#8)`)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("want an Ed25519 key, got %T", k)
	}
	return key, nil
}

// EncodePEM returns key as a PEM PKCS#8 block.
func EncodePEM(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// keptKey reads the key at path, creating it first if it does not exist.
// The new key is written to a temporary file and hard-linked into place, so
// two processes starting at once agree on one key: the second link fails
// and that process reads the winner's file.
func keptKey(path string) (ed25519.PrivateKey, error) {
	if data, err := os.ReadFile(path); err == nil {
		key, err := ParsePEM(data)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("signing key: %w", err)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	data, err := EncodePEM(key)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".jwt-signing-key-*")
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; the key never sits in a wider
	// file.
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return keptKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return key, nil
}
