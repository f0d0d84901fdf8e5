package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"recoverydesk/handlers"
)

// TestEveryRouteRefusesStrangersAsItsAccessSays requests every route of the
// table without the credential its access asks for and expects that
// access's refusal: a token route with another case's token gets 404, a
// session route sends to /login, a staff route to /console/login, a dev
// route does not exist outside dev mode. A route whose guard is lost, or
// whose access is not one the middleware knows, fails here.
func TestEveryRouteRefusesStrangersAsItsAccessSays(t *testing.T) {
	s := recoveryFixture(t)
	dev := newTestServer(t, devMode)
	other := startUnit(t, s, nil) // a real case: only its own token opens it
	params := strings.NewReplacer(":id", other.id, ":number", "ZH20260316000001", ":kind", "id_front",
		":username", "nobody", ":code", "other")
	stranger := newPagesClient(t, s)
	stranger.get(t, "/console/login") // a CSRF token, so that forms reach the route's guard
	seen := map[string]int{}
	for _, r := range handlers.RouteTable() {
		seen[r.Access]++
		path := params.Replace(r.Path)
		switch r.Access {
		case "public", "ops":
			// Nothing to refuse.
		case "token":
			req := httptest.NewRequest(r.Method, path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+strings.Repeat("x", 43))
			resp, body := s.do(t, req)
			if resp.StatusCode != 404 || decodeError(t, body).Error.Code != "not_found" {
				t.Errorf("%s %s with a wrong token: %d %.200s, want 404 not_found", r.Method, r.Path, resp.StatusCode, body)
			}
		case "session", "staff":
			var resp *http.Response
			var body string
			if r.Method == http.MethodGet {
				resp, body = stranger.get(t, path)
			} else {
				resp, body = stranger.post(t, path, url.Values{"note": {"x"}})
			}
			want := map[string]string{"session": "/login", "staff": "/console/login"}[r.Access]
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || (loc != want && !strings.HasPrefix(loc, want+"?")) {
				t.Errorf("%s %s as a stranger: %d to %q, want 303 to %s\n%.200s", r.Method, r.Path, resp.StatusCode, loc, want, body)
			}
		case "dev":
			if resp, body := s.do(t, httptest.NewRequest(r.Method, path, nil)); resp.StatusCode != 404 {
				t.Errorf("%s %s outside dev mode: %d %.200s, want 404", r.Method, r.Path, resp.StatusCode, body)
			}
			if resp, body := dev.do(t, httptest.NewRequest(r.Method, path, nil)); resp.StatusCode == 404 {
				t.Errorf("%s %s in dev mode: 404 %.200s", r.Method, r.Path, body)
			}
		default:
			t.Errorf("%s %s: access %q is none the middleware enforces", r.Method, r.Path, r.Access)
		}
	}
	for _, a := range []string{"public", "ops", "dev", "token", "session", "staff"} {
		if seen[a] == 0 {
			t.Errorf("no route with access %q: the test no longer covers it", a)
		}
	}
}
