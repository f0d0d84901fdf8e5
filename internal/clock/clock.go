// Package clock is the one source of "now" for every business rule (lockouts,
// code expiry, SLA due dates, the 4-hour password delay). Production reads the
// real clock; dev mode and tests move an Adjustable clock instead of sleeping.
package clock

import (
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
// forward or set to an instant. It backs /dev/clock and the tests.
type Adjustable struct {
	mu     sync.RWMutex
	offset time.Duration
	base   func() time.Time
}

// NewAdjustable returns an adjustable clock that starts at the wall-clock time.
func NewAdjustable() *Adjustable { return &Adjustable{base: time.Now} }

// Now returns the wall-clock time shifted by the current offset.
func (a *Adjustable) Now() time.Time {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.base().Add(a.offset)
}

// Advance moves the clock forward by d (a negative d moves it back).
func (a *Adjustable) Advance(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offset += d
}

// Set moves the clock so that Now returns t at this moment; it keeps running
// from there.
func (a *Adjustable) Set(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.offset = t.Sub(a.base())
}
