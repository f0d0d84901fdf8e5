// Package secret seals sensitive values at rest (SMS texts that carry codes
// or passwords, TOTP secrets) and signs tokens, with keys derived from
// RD_SECRET_KEY so that one configured secret serves every purpose without
// reusing a key across purposes.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrUnsealable is returned when a sealed value was tampered with or sealed
// under another key.
var ErrUnsealable = errors.New("sealed value cannot be opened")

// Keys holds the keys derived from the configured secret.
type Keys struct {
	aead    cipher.AEAD
	signing []byte
}

// New derives the sealing and signing keys from the configured secret.
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
	return &Keys{aead: aead, signing: derive(master, "sign v1")}, nil
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

// Open decrypts a value made by Seal.
func (k *Keys) Open(sealed []byte) ([]byte, error) {
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

// Verify reports in constant time whether sig is Sign(msg).
func (k *Keys) Verify(msg, sig []byte) bool { return hmac.Equal(k.Sign(msg), sig) }
