package rules

import (
	"fmt"
	"time"
)

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

// LockedMessage tells the holder of a locked account until when, in the
// words of the live system; sign-in pages may add what to do next.
func (l Lockout) LockedMessage(until time.Time) string {
	return fmt.Sprintf("密码连续错误%d次，账号已被锁定，请于 %s 后再试", l.MaxFailures, until.In(Shanghai).Format("2006-01-02 15:04"))
}

// AttemptsLeftMessage warns how many more wrong passwords lock the account.
func (l Lockout) AttemptsLeftMessage(left int) string {
	return fmt.Sprintf("再错误%d次账号将被锁定%s", left, chineseDuration(l.Duration))
}

func chineseDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d小时", d/time.Hour)
	}
	return fmt.Sprintf("%d分钟", d/time.Minute)
}
