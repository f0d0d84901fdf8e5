// Package clock is the one source of "now" for every business rule (lockouts,
// code expiry, SLA due dates, the 4-hour password delay). Production reads the
// real clock; dev mode and tests move an Adjustable clock instead of sleeping.
package clock

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Clock tells the current time. Every rule reads time through it, never
// through time.Now, so that dev mode and tests can move time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Adjustable is a clock that runs with the wall clock but can be shifted
// forward or set to an instant. It backs /dev/clock and the tests. With an
// OffsetStore (NewShared) the shift lives in the database, so every instance
// of a dev deployment reads the same time.
type Adjustable struct {
	mu     sync.RWMutex
	offset time.Duration
	base   func() time.Time

	store   OffsetStore
	refresh time.Duration
	loaded  time.Time // wall time of the last read from store
}

// OffsetStore keeps an adjustable clock's shift where several processes see
// it. Add must be atomic in the store (two instances advancing at once both
// count).
type OffsetStore interface {
	Load(ctx context.Context) (time.Duration, error)
	Add(ctx context.Context, d time.Duration) (time.Duration, error)
	Save(ctx context.Context, d time.Duration) error
}

// NewAdjustable returns an adjustable clock that starts at the wall-clock time.
func NewAdjustable() *Adjustable { return &Adjustable{base: time.Now} }

// NewShared returns an adjustable clock whose shift lives in store; it
// re-reads the shift at most every refresh, so another instance's move is
// seen within that time and Now stays cheap.
func NewShared(ctx context.Context, store OffsetStore, refresh time.Duration) (*Adjustable, error) {
	a := &Adjustable{base: time.Now, store: store, refresh: refresh}
	off, err := store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the shared clock: %w", err)
	}
	a.offset, a.loaded = off, time.Now()
	return a, nil
}

// storeTimeout bounds one read or write of the shared shift.
const storeTimeout = 2 * time.Second

// Now returns the wall-clock time shifted by the current offset.
func (a *Adjustable) Now() time.Time {
	a.mu.RLock()
	stale := a.store != nil && time.Since(a.loaded) >= a.refresh
	off := a.offset
	a.mu.RUnlock()
	if stale {
		off = a.reload()
	}
	return a.base().Add(off)
}

// reload reads the shared shift; on a failure it keeps the last one (and
// tries again at the next refresh), because a dev clock must not fail a
// request.
func (a *Adjustable) reload() time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	off, err := a.store.Load(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.loaded = time.Now()
	if err == nil {
		a.offset = off
	}
	return a.offset
}

// Advance moves the clock forward by d (a negative d moves it back).
func (a *Adjustable) Advance(d time.Duration) { _ = a.AdvanceShared(context.Background(), d) }

// Set moves the clock so that Now returns t at this moment; it keeps running
// from there.
func (a *Adjustable) Set(t time.Time) { _ = a.SetShared(context.Background(), t) }

// AdvanceShared is Advance that reports a failure to write the shared shift.
func (a *Adjustable) AdvanceShared(ctx context.Context, d time.Duration) error {
	if a.store == nil {
		a.mu.Lock()
		a.offset += d
		a.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	off, err := a.store.Add(ctx, d)
	if err != nil {
		return fmt.Errorf("advance the shared clock: %w", err)
	}
	a.mu.Lock()
	a.offset, a.loaded = off, time.Now()
	a.mu.Unlock()
	return nil
}

// SetShared is Set that reports a failure to write the shared shift.
func (a *Adjustable) SetShared(ctx context.Context, t time.Time) error {
	off := t.Sub(a.base())
	if a.store != nil {
		ctx, cancel := context.WithTimeout(ctx, storeTimeout)
		defer cancel()
		if err := a.store.Save(ctx, off); err != nil {
			return fmt.Errorf("set the shared clock: %w", err)
		}
	}
	a.mu.Lock()
	a.offset, a.loaded = off, time.Now()
	a.mu.Unlock()
	return nil
}
