package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/kventry"
)

// expiresAt is the stored expiry (Unix seconds) of a kv_entries row.
func expiresAt(t *testing.T, s *testServer, key string) int64 {
	t.Helper()
	return s.db.Ent.KVEntry.Query().Where(kventry.Key(key)).OnlyX(context.Background()).ExpiresAt
}

// TestConsoleSessionIdleTimeoutRenewedOncePerMinute: the console session's
// row is rewritten at most once a minute, not on every request, and the
// 30-minute idle timeout still holds to the minute: a session in use stays
// signed in however long it is used, one left alone still stands 30
// minutes after its last request and is gone 31 minutes after it, whether
// or not that request rewrote the row.
func TestConsoleSessionIdleTimeoutRenewedOncePerMinute(t *testing.T) {
	s := newTestServer(t)
	s.staffUser(t, "jm_reviewer", "Review#2468", "李审核", "reviewer", "4407")
	pc := newPagesClient(t, s)
	if status, _, body := consoleSignIn(t, pc, "jm_reviewer", "Review#2468", ""); status != 303 {
		t.Fatalf("sign in: %d %.300s", status, body)
	}
	signedIn := func(when string) bool {
		t.Helper()
		resp, _ := pc.get(t, "/console/cases")
		switch {
		case resp.StatusCode == http.StatusOK:
			return true
		case resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/console/login"):
			return false
		}
		t.Fatalf("%s: %d %s", when, resp.StatusCode, resp.Header.Get("Location"))
		return false
	}
	key := "console:" + sessionID(pc.jar.Cookies(&url.URL{Scheme: "http", Host: "example.com", Path: "/console/"}))
	if !signedIn("signed in") {
		t.Fatal("signed in: sent to sign in")
	}
	written := expiresAt(t, s, key)
	s.clock.Advance(50 * time.Second)
	if !signedIn("50 s later") {
		t.Fatal("50 s later: sent to sign in")
	}
	if got := expiresAt(t, s, key); got != written {
		t.Fatalf("a request 50 s after the last write rewrote the session: expiry %d → %d", written, got)
	}
	// In use for an hour, a request every 50 s: never signed out, and the
	// row was renewed along the way.
	for i := range 72 {
		s.clock.Advance(50 * time.Second)
		if !signedIn("in use") {
			t.Fatalf("signed out after %d requests in an hour of use", i)
		}
	}
	if got := expiresAt(t, s, key); got <= written+3000 {
		t.Fatalf("an hour of use did not renew the session: expiry %d, first %d", got, written)
	}
	// The last request (just now) may not have rewritten the row: 30 idle
	// minutes keep it all the same (that request renews it)...
	s.clock.Advance(30 * time.Minute)
	if !signedIn("30 idle minutes") {
		t.Fatal("30 minutes after the last request: signed out")
	}
	// ...and 31 end it, from a request that rewrote the row or not.
	s.clock.Advance(40 * time.Second)
	if !signedIn("40 s later") {
		t.Fatal("40 s later: signed out")
	}
	s.clock.Advance(31 * time.Minute)
	if signedIn("31 idle minutes") {
		t.Fatal("31 minutes after the last request: still signed in")
	}
}

// TestCSRFTokenRenewedOncePerMinute: a form's CSRF token row is rewritten at
// most once a minute, and the token still lasts its 2 hours after the last
// request and not a minute more.
func TestCSRFTokenRenewedOncePerMinute(t *testing.T) {
	s := newTestServer(t)
	pc := newPagesClient(t, s)
	pc.get(t, "/console/login")
	key := "csrf:" + pc.csrf
	written := expiresAt(t, s, key)
	s.clock.Advance(50 * time.Second)
	pc.get(t, "/console/login")
	if got := expiresAt(t, s, key); got != written {
		t.Fatalf("a request 50 s after the last write rewrote the token: expiry %d → %d", written, got)
	}
	refused := func() bool {
		t.Helper()
		resp, body := pc.post(t, "/console/login", url.Values{"username": {"nobody"}, "password": {"wrong"}})
		if resp.StatusCode == http.StatusForbidden {
			return true
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("sign-in form: %d %.300s", resp.StatusCode, body)
		}
		return false
	}
	// 2 hours after a request that did not rewrite the row, the form still
	// posts; 2 hours and a minute after the last request, it is refused.
	s.clock.Advance(2 * time.Hour)
	if refused() {
		t.Fatal("the form was refused 2 hours after the last request")
	}
	s.clock.Advance(2*time.Hour + time.Minute)
	if !refused() {
		t.Fatal("the form posted 2 hours and a minute after the last request")
	}
}
