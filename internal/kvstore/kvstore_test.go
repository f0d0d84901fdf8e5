package kvstore_test

import (
	"context"
	"testing"
	"time"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/testenv"
)

// get reads key from s and fails the test on a read error.
func get(t *testing.T, s *kvstore.Store, key string) []byte {
	t.Helper()
	v, err := s.Get(key)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return v
}

func TestStore(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewAdjustable()
		a, b := kvstore.New(d.Ent, "a:", clk), kvstore.New(d.Ent, "b:", clk)
		if v, err := a.Get("missing"); v != nil || err != nil {
			t.Fatalf("missing: %q %v", v, err)
		}
		if err := a.Set("k", []byte("one"), 0); err != nil {
			t.Fatal(err)
		}
		if err := a.Set("k", []byte("two"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if v := get(t, a, "k"); string(v) != "two" {
			t.Fatalf("overwrite: %q", v)
		}
		if v := get(t, b, "k"); v != nil {
			t.Fatalf("prefixes leak: %q", v)
		}
		if err := a.Set("short", []byte("x"), time.Second); err != nil {
			t.Fatal(err)
		}
		clk.Advance(2 * time.Second)
		if v := get(t, a, "short"); v != nil {
			t.Fatal("an entry past its expiry on the application clock is still readable")
		}
		n, err := kvstore.DeleteExpired(context.Background(), d.Ent, clk.Now())
		if err != nil || n != 1 {
			t.Fatalf("expired deleted: %d %v", n, err)
		}
		if v := get(t, a, "short"); v != nil {
			t.Fatal("expired entry still readable")
		}
		if err := b.Set("k", []byte("b"), 0); err != nil {
			t.Fatal(err)
		}
		if err := a.Reset(); err != nil {
			t.Fatal(err)
		}
		if v := get(t, a, "k"); v != nil {
			t.Fatal("reset left a key")
		}
		if v := get(t, b, "k"); string(v) != "b" {
			t.Fatal("reset of a: removed b's key")
		}
		if err := b.Delete("k"); err != nil {
			t.Fatal(err)
		}
		if v := get(t, b, "k"); v != nil {
			t.Fatal("delete")
		}
	})
}
