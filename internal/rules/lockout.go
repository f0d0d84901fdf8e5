package rules

import "time"

// Lockout is the rule every sign-in shares, applicants' and staff's alike
// (CONTRACT §4): MaxFailures consecutive wrong passwords lock the account
// for Duration from the last of them; a success resets the count; when the
// lock runs out the count starts afresh.
type Lockout struct {
	MaxFailures int
	Duration    time.Duration
}

// DefaultLockout is 5 wrong passwords → locked for 1 hour.
var DefaultLockout = Lockout{MaxFailures: 5, Duration: time.Hour}

// Locked reports whether an account locked until lockedUntil is still
// locked at now.
func (l Lockout) Locked(lockedUntil *time.Time, now time.Time) bool {
	return lockedUntil != nil && now.Before(*lockedUntil)
}

// Fail records one more wrong password on top of failures (the count since
// the last success or the end of the last lock). It returns the count to
// store, and the time the account is locked until when this failure locks it
// (then the stored count restarts at 0), or nil with how many attempts are
// left.
func (l Lockout) Fail(failures int, now time.Time) (stored int, lockedUntil *time.Time, left int) {
	failures++
	if failures >= l.MaxFailures {
		until := now.Add(l.Duration)
		return 0, &until, 0
	}
	return failures, nil, l.MaxFailures - failures
}
