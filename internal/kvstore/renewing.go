package kvstore

import (
	"bytes"
	"sync"
	"time"

	"recoverydesk/ent"
	"recoverydesk/internal/clock"
)

// Renewing is a Store for entries that are read and written back unchanged
// on every request only to push their expiry on (Fiber's CSRF tokens): it
// rewrites such an entry at most once per slack instead of every time.
// Each write sets the expiry slack beyond the one asked for, and a Set of
// the value just read is skipped while the stored expiry still covers the
// one asked for; so an entry used on every request costs a read and no
// write for slack after each write, and an idle entry still lives at least
// exp after its last use, and ends at most slack later.
type Renewing struct {
	*Store
	slack time.Duration

	mu   sync.Mutex
	read map[string]readEntry
}

// readEntry is what Get found for a key, kept for the Set that follows it
// in the same request.
type readEntry struct {
	value     []byte
	expiresAt int64
}

// maxRead bounds the remembered reads: a Get without a following Set (a
// request that failed in between) would otherwise leave its entry behind.
const maxRead = 10_000

// NewRenewing returns a Renewing store on client with keys under prefix.
func NewRenewing(client *ent.Client, prefix string, clk clock.Clock, slack time.Duration) *Renewing {
	return &Renewing{Store: New(client, prefix, clk), slack: slack, read: map[string]readEntry{}}
}

// Get is Store.Get, remembering the entry's value and expiry for Set.
func (r *Renewing) Get(key string) ([]byte, error) {
	val, expiresAt, err := r.get(key)
	if err != nil || val == nil {
		return val, err
	}
	r.mu.Lock()
	if len(r.read) >= maxRead {
		clear(r.read)
	}
	r.read[key] = readEntry{value: val, expiresAt: expiresAt}
	r.mu.Unlock()
	return val, nil
}

// Set stores val under key for exp plus the slack, unless key was just
// read with this value and an expiry that still covers exp from now.
func (r *Renewing) Set(key string, val []byte, exp time.Duration) error {
	r.mu.Lock()
	prev, ok := r.read[key]
	delete(r.read, key)
	r.mu.Unlock()
	if ok && exp > 0 && prev.expiresAt >= r.clock.Now().Add(exp).Unix() && bytes.Equal(prev.value, val) {
		return nil
	}
	if exp > 0 {
		exp += r.slack
	}
	return r.Store.Set(key, val, exp)
}

// Delete is Store.Delete, forgetting what was read of key.
func (r *Renewing) Delete(key string) error {
	r.mu.Lock()
	delete(r.read, key)
	r.mu.Unlock()
	return r.Store.Delete(key)
}
