package passhash

import (
	"strings"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	for name, h := range map[string]Hasher{"testing": {Testing}, "production": {Production}} {
		hash, err := h.Hash("Abcd1234!")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(hash, "Abcd1234!") || !strings.HasPrefix(hash, "$argon2id$") {
			t.Fatalf("%s: hash %q", name, hash)
		}
		if ok, err := h.Verify("Abcd1234!", hash); !ok || err != nil {
			t.Fatalf("%s: right password refused: %v", name, err)
		}
		if ok, _ := h.Verify("abcd1234!", hash); ok {
			t.Fatalf("%s: wrong password accepted", name)
		}
	}
	if _, err := (Hasher{}).Verify("x", "not-a-hash"); err == nil {
		t.Fatal("a malformed hash must be an error")
	}
}

func BenchmarkHashProduction(b *testing.B) {
	h := Hasher{Production}
	for b.Loop() {
		if _, err := h.Hash("Abcd1234!"); err != nil {
			b.Fatal(err)
		}
	}
}
