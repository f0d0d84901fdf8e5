package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestIsMatchesKindAndCodeThroughCopiesAndWrapping(t *testing.T) {
	sentinel := New(Locked, "account_locked", "账号已锁定")
	err := fmt.Errorf("login: %w", sentinel.With("locked_until", "x").WithField("password"))
	if !errors.Is(err, sentinel) {
		t.Fatal("a copy with extras should match its sentinel")
	}
	if errors.Is(err, New(Locked, "other", "")) || errors.Is(err, New(Gone, "account_locked", "")) {
		t.Fatal("different kind or code must not match")
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
