package passhash

import (
	"errors"
	"runtime"
	"slices"
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

// request is a request's shape as the scheduler sees it: five short waits
// (database round trips), each followed by a little computing.
func request() time.Duration {
	start := time.Now()
	for range 5 {
		time.Sleep(time.Millisecond)
		x := 0
		for i := range 20000 {
			x += i
		}
		_ = x
	}
	return time.Since(start)
}

// medianOf runs n requests one after the other and returns their median.
func medianOf(n int) time.Duration {
	took := make([]time.Duration, n)
	for i := range took {
		took[i] = request()
	}
	slices.Sort(took)
	return took[n/2]
}

// TestHashingLeavesRoomForRequests: on a two-core server with its gate full
// of production hashes, requests that never hash take about as long as on
// an idle server, because Procs gives them Ps of their own. With GOMAXPROCS
// at the core count the same requests took 8–15× longer (42–81 ms against
// 5.5 ms for five 1 ms waits): each wake-up waited for the hashes'
// preemption. With Procs: 7–10 ms.
func TestHashingLeavesRoomForRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("runs production hashes for seconds")
	}
	const cores, slots = 2, 2
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(Procs(cores, slots)))
	idle := medianOf(40)
	g := NewGate(slots)
	h := Hasher{Params: Production, Gate: g}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range slots + 2 { // more callers than slots: the gate is always full
		wg.Go(func() {
			for !stop.Load() {
				if _, err := h.Hash("Abcd1234!"); err != nil && !errors.Is(err, ErrBusy) {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	busy := medianOf(40)
	stop.Store(true)
	wg.Wait()
	t.Logf("idle %v busy %v", idle, busy)
	if busy > 3*idle+5*time.Millisecond {
		t.Fatalf("a request took %v (median) while the gate was full of hashes, %v on the idle server", busy, idle)
	}
	if got := Procs(2, 2); got != 6 {
		t.Fatalf("Procs(2 cores, 2 slots) = %d, want 6 (2 lanes per hash)", got)
	}
	if got := Procs(8, 1024); got != maxProcs {
		t.Fatalf("Procs(8, 1024) = %d, want the cap %d", got, maxProcs)
	}
}
