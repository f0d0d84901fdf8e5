package passhash

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashAndVerify(t *testing.T) {
	for name, h := range map[string]Hasher{"testing": {Params: Testing}, "production": {Params: Production}} {
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
	h := Hasher{Params: Production}
	for b.Loop() {
		if _, err := h.Hash("Abcd1234!"); err != nil {
			b.Fatal(err)
		}
	}
}

// At most n computations run at once; a caller finding every slot taken
// for the whole wait gets ErrBusy, and gets through once a slot frees.
func TestGateBoundsAndSheds(t *testing.T) {
	g := NewGate(2)
	g.wait = 200 * time.Millisecond
	h := Hasher{Params: Testing, Gate: g}
	hash, err := h.Hash("Abcd1234!")
	if err != nil {
		t.Fatal(err)
	}
	// Both slots taken (as by two long computations).
	g.slots <- struct{}{}
	g.slots <- struct{}{}
	start := time.Now()
	if _, err := h.Verify("Abcd1234!", hash); !errors.Is(err, ErrBusy) {
		t.Fatalf("verify with every slot taken: %v, want ErrBusy", err)
	}
	if _, err := h.Hash("Abcd1234!"); !errors.Is(err, ErrBusy) {
		t.Fatalf("hash with every slot taken: %v, want ErrBusy", err)
	}
	if took := time.Since(start); took < 400*time.Millisecond || took > 2*time.Second {
		t.Fatalf("two refusals took %v, want about twice the 200 ms wait", took)
	}
	// A slot freed during the wait lets the waiting caller through.
	go func() { time.Sleep(50 * time.Millisecond); g.leave() }()
	if ok, err := h.Verify("Abcd1234!", hash); !ok || err != nil {
		t.Fatalf("verify after a slot freed: %v %v", ok, err)
	}
	g.leave()

	// Under load, never more than two at once.
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	g.wait = 10 * time.Second
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leave, err := g.enter()
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			leave()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
	if NewGate(0).slots == nil || cap(NewGate(0).slots) != 1 {
		t.Fatal("a gate of 0 must admit one at a time")
	}
}
