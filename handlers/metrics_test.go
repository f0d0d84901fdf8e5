package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent/account"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/handlers"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
)

// metricLine is one sample line of the HTTP metrics, with its labels.
var metricLine = regexp.MustCompile(`^recoverydesk_http_request[a-z_]*\{(.*)\} `)

// labelValue extracts one label's value from a sample's label list.
func labelValue(labels, name string) (string, bool) {
	m := regexp.MustCompile(`(?:^|,)` + name + `="((?:[^"\\]|\\.)*)"`).FindStringSubmatch(labels)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// After a thousand ordinary and odd requests /metrics still answers 200, its
// HTTP series are labelled only with route patterns of the route table (or
// one of two fixed values) and methods of a fixed set, and the business
// gauges show the seeded state.
func TestMetricsAlwaysAnswerWithBoundedLabelsAndBusinessGauges(t *testing.T) {
	s := recoveryFixture(t, metricsToken)
	ctx := context.Background()
	s.clock.Set(time.Date(2026, 6, 1, 10, 0, 0, 0, rules.Shanghai)) // a Monday
	number := submittedCase(t, s)                                   // 440703, submitted, due 2026-06-03

	// Two cases in Guangzhou (4401): one in review past its due date, one
	// rejected past it (finally decided, so not overdue); and a message the
	// gateway refused for good.
	acc := s.db.Ent.Account.Query().Where(account.Username("jm_talent")).OnlyX(ctx)
	seedCase := func(path []state.Status, due time.Time) {
		rc := s.db.Ent.RecoveryCase.Create().SetKind("unit").SetAccount(acc).SetRegionCode("440104").
			SetTypedCertType("uscc").SetTypedCertNumber(acc.CertNumber).SetTokenHash([]byte{1}).SaveX(ctx)
		for _, st := range path {
			rc = rc.Update().SetStatus(st).SaveX(ctx)
		}
		rc.Update().SetDueBy(due).ExecX(ctx)
	}
	pastDue := time.Date(2026, 5, 27, 0, 0, 0, 0, rules.Shanghai)
	seedCase([]state.Status{state.Submitted, state.InReview}, pastDue)
	seedCase([]state.Status{state.Submitted, state.InReview, state.Rejected}, pastDue)
	s.db.Ent.SMSMessage.Create().SetPhone("13800006666").SetPurpose("test").SetTextSealed([]byte{1}).
		SetStatus(smsmessage.StatusFailed).SetLastError("400").ExecX(ctx)
	// The case's own messages are delivered by the worker; wait for it.
	for deadline := time.Now().Add(10 * time.Second); ; {
		n := s.db.Ent.SMSMessage.Query().Where(smsmessage.StatusEQ(smsmessage.StatusQueued)).CountX(ctx)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SMS still queued", n)
		}
		time.Sleep(50 * time.Millisecond)
	}

	id := uuid.NewString()
	requests := []func(i int) *http.Request{
		func(int) *http.Request { return httptest.NewRequest("GET", "/", nil) },
		func(int) *http.Request { return httptest.NewRequest("HEAD", "/login", nil) },
		func(i int) *http.Request { return httptest.NewRequest("GET", fmt.Sprintf("/no/such/page/%d", i), nil) },
		func(i int) *http.Request {
			return httptest.NewRequest("GET", fmt.Sprintf("/api/v1/recoveries/%d", i), nil)
		},
		func(int) *http.Request {
			r := httptest.NewRequest("PUT", "/api/v1/recoveries/"+id+"/evidence/id_front", strings.NewReader("x"))
			r.Header.Set("Authorization", "Bearer nope")
			return r
		},
		func(int) *http.Request {
			r := httptest.NewRequest("POST", "/api/v1/login", strings.NewReader("{not json"))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
		func(int) *http.Request { return httptest.NewRequest("DELETE", "/api/v1/login", nil) },
		func(int) *http.Request { return httptest.NewRequest("PATCH", "/recover", nil) },
		func(int) *http.Request { return httptest.NewRequest("OPTIONS", "/api/v1/regions", nil) },
		func(int) *http.Request { return httptest.NewRequest("TRACE", "/", nil) },
		func(i int) *http.Request { return httptest.NewRequest("CONNECT", fmt.Sprintf("/x/%d", i), nil) },
		// Fiber refuses a method it does not know before any middleware.
		func(int) *http.Request { return httptest.NewRequest("PROPFIND", "/", nil) },
		func(int) *http.Request {
			return httptest.NewRequest("GET", "/console/cases/"+number+"/evidence/id_front", nil)
		},
		func(int) *http.Request { return httptest.NewRequest("POST", "/console/cases/"+number+"/claim", nil) },
		func(int) *http.Request { return httptest.NewRequest("GET", "/static/css/app.css", nil) },
		func(i int) *http.Request {
			return httptest.NewRequest("GET", fmt.Sprintf("/static/css/none%d.css", i), nil)
		},
		func(int) *http.Request { return httptest.NewRequest("GET", "/api/v1/regions", nil) },
		func(int) *http.Request { return httptest.NewRequest("GET", "/healthz", nil) },
		func(int) *http.Request { return httptest.NewRequest("GET", "/readyz", nil) },
		func(int) *http.Request { return httptest.NewRequest("GET", "/metrics", nil) },
		func(int) *http.Request { return scrapeRequest() },
	}
	for i := range 1000 {
		resp, _ := s.do(t, requests[i%len(requests)](i))
		if resp.StatusCode >= 500 {
			t.Fatalf("request %d answered %d", i, resp.StatusCode)
		}
	}

	resp, body := s.scrape(t)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics after 1 000 requests: %d\n%s", resp.StatusCode, body)
	}
	routes := map[string]bool{"(unmatched)": true, "/static/*": true}
	for _, r := range s.app.GetRoutes(true) {
		routes[r.Path] = true
	}
	methods := map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true, "OTHER": true}
	seenRoutes, seenMethods, samples := map[string]bool{}, map[string]bool{}, 0
	for _, line := range strings.Split(body, "\n") {
		m := metricLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		samples++
		route, ok := labelValue(m[1], "route")
		if !ok || !routes[route] {
			t.Errorf("route label %q is not a pattern of the route table: %s", route, line)
		}
		method, ok := labelValue(m[1], "method")
		if !ok || !methods[method] {
			t.Errorf("method label %q is not of the fixed set: %s", method, line)
		}
		seenRoutes[route], seenMethods[method] = true, true
	}
	for _, want := range []string{"/", "(unmatched)", "/api/v1/recoveries/:id", "/api/v1/recoveries/:id/evidence/:kind",
		"/console/cases/:number/evidence/:kind", "/static/*", "/metrics"} {
		if !seenRoutes[want] {
			t.Errorf("no series for route %s", want)
		}
	}
	for _, want := range []string{"GET", "HEAD", "POST", "PUT", "OTHER"} {
		if !seenMethods[want] {
			t.Errorf("no series for method %s", want)
		}
	}
	t.Logf("%d HTTP samples, %d routes, %d methods", samples, len(seenRoutes), len(seenMethods))

	for _, want := range []string{
		`recoverydesk_cases{city="4407",status="submitted"} 1`,
		`recoverydesk_cases{city="4401",status="in_review"} 1`,
		`recoverydesk_cases{city="4401",status="rejected"} 1`,
		`recoverydesk_cases_overdue{status="in_review"} 1`,
		`recoverydesk_cases_overdue{status="submitted"} 0`,
		`recoverydesk_sms_messages{status="failed"} 1`,
		`recoverydesk_sms_messages{status="queued"} 0`,
		`recoverydesk_jobs_oldest_queued_age_seconds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// testMetricsToken is RD_METRICS_TOKEN in the tests that scrape.
const testMetricsToken = "scrape-token-0123456789"

// metricsToken sets RD_METRICS_TOKEN: app.Test's connections do not come
// from loopback, so a scrape needs the token.
func metricsToken(d *handlers.Deps) { d.Config.MetricsToken = testMetricsToken }

func scrapeRequest() *http.Request {
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testMetricsToken)
	return req
}

// scrape reads /metrics as Prometheus does, with the token.
func (s *testServer) scrape(t testing.TB) (*http.Response, string) {
	t.Helper()
	return s.do(t, scrapeRequest())
}

// With RD_METRICS_TOKEN set, /metrics answers only the bearer token (401
// with the JSON envelope otherwise); without it, only dev mode or a client
// on loopback — the connection's own peer, which a forwarded header cannot
// claim, and not a stranger behind a proxy on the same host.
func TestMetricsNeedTheTokenOrLoopback(t *testing.T) {
	s := newTestServer(t, metricsToken)
	for _, auth := range []string{"", "Bearer ", "Bearer wrong-token-0123456789", testMetricsToken, "Basic " + testMetricsToken} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, body := s.do(t, req)
		if resp.StatusCode != 401 || decodeError(t, body).Error.Code != "unauthorized" || resp.Header.Get("X-Request-Id") == "" ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d %.200s, want 401 unauthorized", auth, resp.StatusCode, body)
		}
	}
	if resp, body := s.scrape(t); resp.StatusCode != 200 || !strings.Contains(body, "recoverydesk_http_requests_total") {
		t.Fatalf("with the token: %d %.200s", resp.StatusCode, body)
	}
	// The probes stay open to load balancers.
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := s.get(t, p); resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	// A token does not stop at loopback: over TCP from 127.0.0.1 too.
	if resp, err := http.Get(s.listen(t) + "/metrics"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("token set, from loopback without it: %v %v", resp, err)
	}

	// No token: app.Test's peer (0.0.0.0) is not loopback, and claiming
	// 127.0.0.1 in X-Forwarded-For changes nothing, trusted proxy or not.
	for _, opt := range []serverOption{func(*handlers.Deps) {}, trustProxies("0.0.0.0/32")} {
		open := newTestServer(t, opt)
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("X-Forwarded-For", "127.0.0.1")
		if resp, body := open.do(t, req); resp.StatusCode != 403 || decodeError(t, body).Error.Code != "forbidden" {
			t.Errorf("no token, from 0.0.0.0 claiming loopback: %d %.200s, want 403", resp.StatusCode, body)
		}
	}
	// From loopback itself: yes; through a trusted proxy on loopback for a
	// client elsewhere: no.
	local := newTestServer(t, trustProxies("127.0.0.1/32"))
	base := local.listen(t)
	resp, err := http.Get(base + "/metrics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("no token, from loopback: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("no token, a stranger through a proxy on loopback: %v %v", resp, err)
	}
	resp.Body.Close()
	// Dev mode: open.
	if resp, body := newTestServer(t, devMode).get(t, "/metrics"); resp.StatusCode != 200 {
		t.Fatalf("dev mode: %d %.200s", resp.StatusCode, body)
	}
}
