package secret

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpenAndTamper(t *testing.T) {
	k, err := New(bytes.Repeat([]byte("k"), 32))
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("【广东人社】您的新密码为 Abcd2345!，4小时后生效")
	sealed := k.Seal(msg)
	if bytes.Contains(sealed, []byte("Abcd2345")) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := k.Open(sealed)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("open: %q %v", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := k.Open(sealed); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("tampered value opened: %v", err)
	}
	other, _ := New(bytes.Repeat([]byte("o"), 32))
	if _, err := other.Open(k.Seal(msg)); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("opened under another key: %v", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("a short key must be refused")
	}
	if !k.Verify([]byte("a"), k.Sign([]byte("a"))) || k.Verify([]byte("b"), k.Sign([]byte("a"))) {
		t.Fatal("sign/verify")
	}
}
