package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"recoverydesk/ent/auditevent"
	"recoverydesk/handlers"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// trustProxies sets RD_TRUSTED_PROXIES. app.Test's connections come from
// 0.0.0.0, so trusting 0.0.0.0/32 makes the test client a trusted proxy.
func trustProxies(cidrs ...string) serverOption {
	return func(d *handlers.Deps) {
		for _, c := range cidrs {
			d.Config.TrustedProxies = append(d.Config.TrustedProxies, netip.MustParsePrefix(c))
		}
	}
}

// forwarded is a request carrying X-Forwarded-For and X-Forwarded-Proto.
func forwarded(method, path, body, xff string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-For", xff)
	req.Header.Set("X-Forwarded-Proto", "https")
	return req
}

func loginBody(user string) string {
	return fmt.Sprintf(`{"kind":"person","username":%q,"password":"Wrong#Pass135"}`, user)
}

// auditIP is the address the audit log recorded for a failed login of user.
func auditIP(t *testing.T, s *testServer, user string) string {
	t.Helper()
	ev, err := s.db.Ent.AuditEvent.Query().Where(auditevent.Actor(user)).Only(context.Background())
	if err != nil {
		t.Fatalf("audit entry of %s: %v", user, err)
	}
	return ev.IP
}

// From a peer that is not a trusted proxy, X-Forwarded-For and
// X-Forwarded-Proto change nothing: the limit, the access log and the audit
// entry see the peer, and a claimed https switches on neither HSTS nor the
// Secure cookie flag.
func TestForwardedHeadersFromAnUntrustedPeerChangeNothing(t *testing.T) {
	s := newTestServer(t) // RD_TRUSTED_PROXIES empty
	resp, _ := s.do(t, forwarded("GET", "/console/login", "", "198.51.100.23"))
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("GET /console/login: %d, HSTS %q from anyone's X-Forwarded-Proto", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if len(resp.Cookies()) == 0 {
		t.Fatal("no cookie to check")
	}
	for _, c := range resp.Cookies() {
		if c.Secure {
			t.Errorf("cookie %s marked Secure on anyone's X-Forwarded-Proto", c.Name)
		}
	}
	// Sixty logins are the limit of one address: a fresh X-Forwarded-For on
	// each one does not make a new address.
	for i := range 61 {
		resp, body := s.do(t, forwarded("POST", "/api/v1/login", loginBody(fmt.Sprintf("ghost_%02d", i)), fmt.Sprintf("198.51.100.%d", i+1)))
		if want := map[bool]int{true: 429, false: 401}[i == 60]; resp.StatusCode != want {
			t.Fatalf("login %d with its own X-Forwarded-For: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	if ip := auditIP(t, s, "ghost_07"); ip != "0.0.0.0" {
		t.Errorf("audit entry records %q, want the peer 0.0.0.0", ip)
	}
	if logs := s.logs.String(); strings.Contains(logs, "198.51.100.") || !strings.Contains(logs, `"ip":"0.0.0.0"`) {
		t.Errorf("the access log believed X-Forwarded-For:\n%.2000s", logs)
	}
}

// Behind a trusted proxy the client is the rightmost address of
// X-Forwarded-For that is not a trusted proxy: its limit is its own (one
// applicant no longer exhausts everyone's), the access log and the audit
// entry name it, and addresses the client put on the left are ignored.
// X-Forwarded-Proto: https from the proxy switches on HSTS and Secure.
func TestForwardedHeadersFromATrustedProxy(t *testing.T) {
	s := newTestServer(t, trustProxies("0.0.0.0/32", "10.0.0.0/8"))
	resp, _ := s.do(t, forwarded("GET", "/console/login", "", "203.0.113.7, 10.0.0.5"))
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind a TLS-terminating trusted proxy")
	}
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s not Secure behind a TLS-terminating trusted proxy", c.Name)
		}
	}
	// The client forges a left part; the proxies append what they saw.
	for i := range 60 {
		xff := fmt.Sprintf("192.0.2.%d, 203.0.113.7, 10.0.0.5", i+1)
		if resp, body := s.do(t, forwarded("POST", "/api/v1/login", loginBody(fmt.Sprintf("ghost_%02d", i)), xff)); resp.StatusCode != 401 {
			t.Fatalf("login %d of 203.0.113.7: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, body := s.do(t, forwarded("POST", "/api/v1/login", loginBody("ghost_60"), "9.9.9.9, 203.0.113.7")); resp.StatusCode != 429 {
		t.Fatalf("61st login of 203.0.113.7: %d %s, want 429", resp.StatusCode, body)
	}
	if resp, body := s.do(t, forwarded("POST", "/api/v1/login", loginBody("ghost_x"), "203.0.113.8, 10.0.0.5")); resp.StatusCode != 401 {
		t.Fatalf("another client behind the same proxy: %d %s, want its own limit", resp.StatusCode, body)
	}
	if ip := auditIP(t, s, "ghost_07"); ip != "203.0.113.7" {
		t.Errorf("audit entry records %q, want 203.0.113.7", ip)
	}
	if ip := auditIP(t, s, "ghost_x"); ip != "203.0.113.8" {
		t.Errorf("audit entry records %q, want 203.0.113.8", ip)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"ip":"203.0.113.7"`) || strings.Contains(logs, `"ip":"192.0.2.`) || strings.Contains(logs, `"ip":"10.0.0.5"`) {
		t.Errorf("the access log should name 203.0.113.7 and neither forged nor proxy hops:\n%.2000s", logs)
	}
}

// Ninety requests spread over three instances on one database, against a
// limit of 30 a minute, let exactly 30 through: each count is one atomic
// statement in the database.
func TestPerIPLimitExactAcrossInstances(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		servers := []*testServer{newTestServerOn(t, d), newTestServerOn(t, testenv.AnotherInstance(t, d)),
			newTestServerOn(t, testenv.AnotherInstance(t, d))}
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := range 90 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Registration: 30 a minute per address.
				req := httptest.NewRequest("POST", "/api/v1/accounts/person", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := servers[i%3].app.Test(req, -1)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if statuses[429] != 60 || len(statuses) != 2 {
			t.Fatalf("statuses %v: want exactly 30 through (422) and 60 refused (429)", statuses)
		}
	})
}
