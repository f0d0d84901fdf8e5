// Package secret seals sensitive values at rest (SMS texts that carry codes
// or passwords, TOTP secrets, ID and phone numbers) and signs tokens, with
// keys derived from RD_SECRET_KEY so that one configured secret serves every
// purpose without reusing a key across purposes.
//
// A key is rotated by configuring the new one as RD_SECRET_KEY and the old
// one as RD_SECRET_KEY_PREVIOUS (see WithPrevious): values sealed, signed or
// hashed under either stay readable while `recoverydesk rekey` re-seals them
// under the new key.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsealable is returned when a sealed value was tampered with or sealed
// under another key.
var ErrUnsealable = errors.New("sealed value cannot be opened")

// Keys holds the keys derived from the configured secret, and those of the
// previous secret while a rotation is under way.
type Keys struct {
	aead     cipher.AEAD
	signing  []byte
	lookup   []byte
	previous *Keys
}

// New derives the sealing, signing and lookup keys from the configured secret.
func New(master []byte) (*Keys, error) {
	if len(master) < 32 {
		return nil, errors.New("secret key must be at least 32 bytes")
	}
	block, err := aes.NewCipher(derive(master, "seal v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, signing: derive(master, "sign v1"), lookup: derive(master, "lookup v1")}, nil
}

// WithPrevious returns keys that seal, sign and hash under k and also open,
// verify and look up what was made under the previous secret. An empty
// previous returns k itself.
func (k *Keys) WithPrevious(previous []byte) (*Keys, error) {
	if len(previous) == 0 {
		return k, nil
	}
	p, err := New(previous)
	if err != nil {
		return nil, fmt.Errorf("previous key: %w", err)
	}
	out := *k
	out.previous = p
	return &out, nil
}

func derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("recoverydesk " + purpose))
	return m.Sum(nil)
}

// Seal encrypts and authenticates plaintext; the result carries its nonce.
func (k *Keys) Seal(plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return k.aead.Seal(nonce, nonce, plaintext, nil)
}

// Open decrypts a value made by Seal, under the current key or else the
// previous one.
func (k *Keys) Open(sealed []byte) ([]byte, error) {
	out, err := k.open(sealed)
	if err != nil && k.previous != nil {
		return k.previous.open(sealed)
	}
	return out, err
}

func (k *Keys) open(sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrUnsealable
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, ErrUnsealable
	}
	return out, nil
}

// Sign returns an HMAC-SHA256 of msg under the signing key.
func (k *Keys) Sign(msg []byte) []byte {
	m := hmac.New(sha256.New, k.signing)
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports in constant time whether sig is Sign(msg) under the current
// key or the previous one.
func (k *Keys) Verify(msg, sig []byte) bool {
	if hmac.Equal(k.Sign(msg), sig) {
		return true
	}
	return k.previous != nil && k.previous.Verify(msg, sig)
}

// textPrefix marks a text column's value as sealed (version 1). No ID or
// phone number begins with it, so a row written in clear by an older build
// is told apart from a sealed one.
const textPrefix = "s1:"

// SealText seals s for a text column: the prefix, then the sealed bytes in
// base64. An 18-character ID number becomes 67 characters.
func (k *Keys) SealText(s string) string {
	return textPrefix + base64.RawStdEncoding.EncodeToString(k.Seal([]byte(s)))
}

// IsSealedText reports whether s was made by SealText.
func IsSealedText(s string) bool { return strings.HasPrefix(s, textPrefix) }

// OpenText opens a value made by SealText.
func (k *Keys) OpenText(s string) (string, error) {
	if !IsSealedText(s) {
		return "", ErrUnsealable
	}
	raw, err := base64.RawStdEncoding.DecodeString(s[len(textPrefix):])
	if err != nil {
		return "", ErrUnsealable
	}
	out, err := k.Open(raw)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Lookup is the keyed hash (HMAC-SHA256, 128 bits in hex) of a sealed
// value under the current key: equal values hash equal, so a hash column
// finds a row by its number and a unique index over it keeps numbers
// unique, while the hash alone reveals nothing without the key.
func (k *Keys) Lookup(v string) string {
	m := hmac.New(sha256.New, k.lookup)
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Lookups are the hashes a row holding v may carry: under the current key,
// and under the previous one while rows hashed under it remain.
func (k *Keys) Lookups(v string) []string {
	if k.previous == nil {
		return []string{k.Lookup(v)}
	}
	return []string{k.Lookup(v), k.previous.Lookup(v)}
}
