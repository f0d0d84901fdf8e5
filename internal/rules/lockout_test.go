package rules

import (
	"testing"
	"time"
)

func TestLockout(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, Shanghai)
	l := DefaultLockout
	failures := 0
	for want := 4; want >= 1; want-- {
		var until *time.Time
		var left int
		failures, until, left = l.Fail(failures, now)
		if until != nil || left != want {
			t.Fatalf("failure with %d left: until=%v left=%d", want, until, left)
		}
	}
	stored, until, left := l.Fail(failures, now)
	if until == nil || !until.Equal(now.Add(time.Hour)) || stored != 0 || left != 0 {
		t.Fatalf("5th failure: stored=%d until=%v left=%d", stored, until, left)
	}
	if !l.Locked(until, now.Add(59*time.Minute)) || l.Locked(until, now.Add(time.Hour)) || l.Locked(nil, now) {
		t.Fatal("Locked boundaries")
	}
}
