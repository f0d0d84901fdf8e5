package rules

import (
	"errors"
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

func TestLockoutMessages(t *testing.T) {
	until := time.Date(2026, 11, 27, 8, 30, 0, 0, time.UTC)
	if got := DefaultLockout.LockedMessage(until); got != "密码连续错误5次，账号已被锁定，请于 2026-11-27 16:30 后再试" {
		t.Errorf("locked: %q", got)
	}
	if got := DefaultLockout.AttemptsLeftMessage(3); got != "再错误3次账号将被锁定1小时" {
		t.Errorf("attempts left: %q", got)
	}
	if got := StartOfDay(until.Add(16 * time.Hour)); !got.Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, Shanghai)) {
		t.Errorf("start of day: %v", got)
	}
	if CertMessage(&CertError{Code: "x", Message: "m"}, "f") != "m" || CertMessage(errors.New("other"), "f") != "f" {
		t.Error("CertMessage")
	}
}
