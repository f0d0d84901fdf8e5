// Package passhash hashes and verifies passwords with argon2id, with one set
// of parameters per process: production's by default, cheaper ones in tests
// only (so the suite stays fast without weakening what ships).
package passhash

import (
	"errors"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"
)

// Production are the parameters used by every deployment: 64 MiB, 1
// iteration, 2 lanes (RFC 9106's second recommendation scaled to a 2-core
// server) — about 0.1 s per hash on the reference machine.
var Production = argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Testing are cheap parameters for test suites only.
var Testing = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// ErrBusy is returned when every hashing slot stayed taken for MaxWait: the
// caller should answer "busy, retry shortly" (503 with Retry-After) rather
// than queue without limit.
var ErrBusy = errors.New("password hashing is at capacity")

// MaxWait is how long a hash or verification waits for a free slot before
// giving up with ErrBusy: long enough to ride out a burst, short enough that
// a storm of requests turns into quick refusals instead of a growing queue.
const MaxWait = 2 * time.Second

// Gate bounds the argon2id computations running at once. Each one holds
// Params.Memory (64 MiB in production) for its duration, so without a bound
// a few hundred concurrent logins take gigabytes. One Gate serves the whole
// process: every Hasher copy made from the one built at start shares it.
type Gate struct {
	slots chan struct{}
	wait  time.Duration
	// observe is told how long each caller waited for a slot (a refusal
	// waited the whole MaxWait): the hash wait histogram of /metrics.
	observe func(time.Duration)
}

// Observe makes the gate report every wait for a slot to fn. Call it
// before the gate is used.
func (g *Gate) Observe(fn func(time.Duration)) { g.observe = fn }

// NewGate returns a gate letting n computations run at once (n < 1 counts
// as 1), each caller waiting at most MaxWait for a slot.
func NewGate(n int) *Gate {
	return &Gate{slots: make(chan struct{}, max(n, 1)), wait: MaxWait}
}

// enter takes a slot, waiting at most g.wait; a nil gate admits everyone.
// The returned function gives the slot back.
func (g *Gate) enter() (func(), error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		g.observed(0)
		return g.leave, nil
	default:
	}
	start := time.Now()
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		g.observed(time.Since(start))
		return g.leave, nil
	case <-t.C:
		g.observed(time.Since(start))
		return nil, ErrBusy
	}
}

func (g *Gate) observed(d time.Duration) {
	if g.observe != nil {
		g.observe(d)
	}
}

func (g *Gate) leave() { <-g.slots }

// MemoryLimit is the soft limit for the Go runtime (debug.SetMemoryLimit)
// of a server whose gate admits n production computations at once: what the
// server needs besides hashing, plus each slot's 64 MiB with room for the
// garbage of the hash just finished. Without it the collector lets the
// heap grow to twice what is live before it runs, so 64 MiB blocks freed by
// finished hashes pile up and the bound on hashes is not a bound on memory.
func MemoryLimit(n int) int64 {
	const base, perSlot = 128 << 20, 80 << 20
	return base + int64(max(n, 1))*perSlot
}

// Procs is the GOMAXPROCS of a server on cores processors whose gate admits
// n production computations at once: the cores plus the threads those
// computations keep busy (n × Parallelism). argon2id runs each lane as a
// goroutine that computes for its whole ~30 ms without blocking; with only
// cores Ps the hashes hold every P, and a request goroutine woken by a
// database answer waits in Go's run queue for the next preemption (10 ms)
// at each of its round trips — under a burst of sign-ins or registrations
// the pages and API calls that never hash were the slow ones. With a P of
// their own, requests are runnable threads the kernel schedules beside the
// hashing ones, and it favours the thread that slept (the request) over the
// one that computes. The bound on memory and on hashes at once is the gate's
// and stays as it is; the total is capped at maxProcs.
func Procs(cores, n int) int {
	return min(max(cores, 1)+max(n, 1)*int(Production.Parallelism), maxProcs)
}

// maxProcs caps Procs for a very large RD_HASH_CONCURRENCY.
const maxProcs = 256

// Hasher hashes with fixed parameters and verifies any argon2id hash (the
// parameters are stored in the hash itself). With a Gate every hash and
// verification — logins, the dummy check for unknown usernames,
// registrations, password changes, issued passwords — runs under its bound;
// without one (command-line tools hashing one password) nothing is bounded.
type Hasher struct {
	Params argon2id.Params
	Gate   *Gate
}

// Hash returns the encoded argon2id hash of password, or ErrBusy.
func (h Hasher) Hash(password string) (string, error) {
	p := h.Params
	if p.Memory == 0 {
		p = Production
	}
	leave, err := h.Gate.enter()
	if err != nil {
		return "", err
	}
	defer leave()
	s, err := argon2id.CreateHash(password, &p)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return s, nil
}

// Verify reports, in constant time, whether password matches hash; or
// ErrBusy.
func (h Hasher) Verify(password, hash string) (bool, error) {
	leave, err := h.Gate.enter()
	if err != nil {
		return false, err
	}
	defer leave()
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}
