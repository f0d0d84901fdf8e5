package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestIsMatchesItsOwnSentinelThroughCopiesAndWrapping(t *testing.T) {
	sentinel := New(Locked, "account_locked", "账号已锁定")
	err := fmt.Errorf("login: %w", sentinel.With("locked_until", "x").WithField("password").WithMessage("账号已被锁定"))
	if !errors.Is(err, sentinel) {
		t.Fatal("a copy with extras should match its sentinel")
	}
	if errors.Is(err, New(Locked, "other", "")) || errors.Is(err, New(Gone, "account_locked", "")) {
		t.Fatal("different kind or code must not match")
	}
	// Another sentinel with the same kind and code is another refusal.
	twin := New(Locked, "account_locked", "账号已被锁定")
	if errors.Is(err, twin) || errors.Is(sentinel, twin) || errors.Is(twin, sentinel) {
		t.Fatal("two sentinels with the same code must not match each other")
	}
	if !errors.Is(fmt.Errorf("again: %w", twin.With("locked_until", "y")), twin) {
		t.Fatal("the twin's own copies match the twin")
	}
	if !IsKind(err, Locked) || IsKind(err, NotFound) || IsKind(fmt.Errorf("plain"), Locked) {
		t.Fatal("IsKind answers on the kind")
	}
	if sentinel.Extra != nil {
		t.Fatal("With must not modify the sentinel")
	}
	e, ok := As(err)
	if !ok || e.Extra["locked_until"] != "x" || e.Field != "password" {
		t.Fatalf("As: %+v", e)
	}
}

func TestFromFields(t *testing.T) {
	if FromFields(nil) != nil {
		t.Fatal("no fields, no error")
	}
	e, _ := As(FromFields([]FieldError{{"username", "invalid_username", "a"}, {"password", "weak_password", "b"}}))
	if e.Kind != Invalid || e.Field != "username" || len(e.Fields) != 2 {
		t.Fatalf("%+v", e)
	}
}
