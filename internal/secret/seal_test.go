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

func TestTextSealingLookupsAndRotation(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte("a"), 32))
	b, _ := New(bytes.Repeat([]byte("b"), 32))
	s := a.SealText("440703199001011239")
	if !IsSealedText(s) || IsSealedText("440703199001011239") || a.SealText("440703199001011239") == s {
		t.Fatalf("sealed text %q (a second seal must differ: random nonce)", s)
	}
	if got, err := a.OpenText(s); err != nil || got != "440703199001011239" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.OpenText(s); !errors.Is(err, ErrUnsealable) {
		t.Fatalf("opened under another key: %v", err)
	}
	if a.Lookup("13800001234") != a.Lookup("13800001234") || a.Lookup("13800001234") == b.Lookup("13800001234") {
		t.Fatal("a lookup hash is stable under one key and differs under another")
	}
	ba, err := b.WithPrevious(bytes.Repeat([]byte("a"), 32))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ba.OpenText(s); err != nil || got != "440703199001011239" {
		t.Fatalf("open under the previous key: %q %v", got, err)
	}
	if l := ba.Lookups("13800001234"); len(l) != 2 || l[0] != b.Lookup("13800001234") || l[1] != a.Lookup("13800001234") {
		t.Fatalf("lookups during a rotation: %v", l)
	}
	if !ba.Verify([]byte("m"), a.Sign([]byte("m"))) {
		t.Fatal("a signature of the previous key must verify during the rotation")
	}
	if _, err := b.OpenText(ba.SealText("x")); err != nil {
		t.Fatal("keys with a previous one must seal under the current key")
	}
}

// BenchmarkSealOpenLookup is what one stored number costs: sealed once on
// write, opened on every read, hashed for every lookup.
func BenchmarkSealOpenLookup(b *testing.B) {
	k, _ := New(bytes.Repeat([]byte("k"), 32))
	b.Run("seal", func(b *testing.B) {
		for b.Loop() {
			k.SealText("440703199001011239")
		}
	})
	s := k.SealText("440703199001011239")
	b.Run("open", func(b *testing.B) {
		for b.Loop() {
			if _, err := k.OpenText(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("lookup", func(b *testing.B) {
		for b.Loop() {
			k.Lookup("440703199001011239")
		}
	})
}
