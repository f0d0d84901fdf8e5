package handlers_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/db"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/verify"
	"recoverydesk/internal/vocab"
)

func TestHomePageShowsTheLiveNavigation(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"广东人社统一认证系统", "个人注册", "单位注册", "密码修改", "密码找回", "账号找回", "登录", `href="/recover"`} {
		if !strings.Contains(body, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("missing hardening headers")
	}
}

func TestStaticAssetsAreServed(t *testing.T) {
	s := newTestServer(t)
	for _, css := range []string{"base", "public", "wizard", "console", "dashboard"} {
		resp, body := s.get(t, "/static/css/"+css+".css")
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/css") || len(body) < 100 {
			t.Fatalf("%s.css: %d %q", css, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func TestConsoleLoginPageCarriesCSRFAndRefusesAPostWithout(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/console/login")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"审核台登录", `name="username"`, `name="password"`, `name="otp"`, `<meta name="csrf-token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("console login lacks %q", want)
		}
	}
	m := csrfField.FindStringSubmatch(body)
	if m == nil || len(m[1]) < 16 {
		t.Fatalf("no CSRF token in the form")
	}
	// A cross-site form post without the token is refused with a Chinese page.
	form := url.Values{"username": {"someone"}, "password": {"x"}}
	req := httptest.NewRequest(http.MethodPost, "/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, body = s.do(t, req)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "请刷新页面后重试") {
		t.Fatalf("post without CSRF: %d", resp.StatusCode)
	}
}

func TestAPIErrorsUseTheEnvelope(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/api/v1/does-not-exist")
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d type %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if e := decodeError(t, body); e.Error.Code != "not_found" || e.Error.TraceID != "" {
		t.Fatalf("envelope %+v", e)
	}
}

func TestPagesGetAChineseErrorPageWithTheRequestID(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/no/such/page")
	rid := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 404 || !strings.Contains(body, "页面不存在") || rid == "" || !strings.Contains(body, rid) {
		t.Fatalf("status %d, request id %q shown: %v", resp.StatusCode, rid, strings.Contains(body, rid))
	}
}

func TestInternalErrorsHideDetailsAndCarryTheTraceID(t *testing.T) {
	s := newTestServer(t)
	s.app.Get("/api/v1/test-panic", func(c *fiberCtx) error { panic("secret internal detail: db password=hunter2") })
	resp, body := s.get(t, "/api/v1/test-panic")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	e := decodeError(t, body)
	if e.Error.Code != "internal_error" || e.Error.TraceID != resp.Header.Get("X-Request-Id") || e.Error.TraceID == "" {
		t.Fatalf("envelope %+v, request id %s", e, resp.Header.Get("X-Request-Id"))
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "secret internal") {
		t.Fatal("internal detail leaked to the client")
	}
	// The log has the detail, tied to the same id.
	if !strings.Contains(s.logs.String(), e.Error.TraceID) {
		t.Fatal("the failure was not logged with its trace id")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	// A dedicated MinIO server, stopped mid-test, stands for MinIO going down.
	srv, store := testenv.OwnMinIO(t)
	s := newTestServer(t, withEvidence(store))
	resp, body := s.get(t, "/readyz")
	if resp.StatusCode != 200 || !strings.Contains(body, `"minio":"ok"`) || !strings.Contains(body, `"database":"ok"`) {
		t.Fatalf("ready: %d %s", resp.StatusCode, body)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	resp, body = s.get(t, "/readyz")
	var v struct {
		Status string            `json:"status"`
		Down   []string          `json:"down"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || len(v.Down) != 1 || v.Down[0] != "minio" || v.Checks["database"] != "ok" {
		t.Fatalf("with MinIO stopped: %d %s", resp.StatusCode, body)
	}
	if resp, _ := s.get(t, "/healthz"); resp.StatusCode != 200 {
		t.Fatalf("healthz with MinIO stopped: %d", resp.StatusCode)
	}
}

func TestMetricsCountRequests(t *testing.T) {
	s := newTestServer(t, metricsToken)
	s.get(t, "/")
	_, body := s.scrape(t)
	if !strings.Contains(body, `recoverydesk_http_requests_total{method="GET",route="/",status="200"} 1`) {
		t.Fatalf("metrics lack the home request:\n%s", body)
	}
}

func TestDevEndpointsAre404OutsideDevMode(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{"/dev/sms", "/dev/clock"} {
		if resp, _ := s.get(t, p); resp.StatusCode != 404 {
			t.Errorf("%s outside dev mode: %d", p, resp.StatusCode)
		}
	}
}

func TestDevClockMovesTheApplicationClock(t *testing.T) {
	s := newTestServer(t, devMode)
	before := s.clock.Now()
	resp, body := s.postJSON(t, "/dev/clock", `{"advance":"4h"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("advance: %d %s", resp.StatusCode, body)
	}
	if d := s.clock.Now().Sub(before); d < 4*time.Hour || d > 4*time.Hour+time.Minute {
		t.Fatalf("clock moved by %v", d)
	}
	resp, body = s.postJSON(t, "/dev/clock", `{"set":"2026-09-30T10:00:00+08:00"}`)
	var v struct{ Now time.Time }
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &v) != nil {
		t.Fatalf("set: %d %s", resp.StatusCode, body)
	}
	want := time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC)
	if v.Now.Sub(want) < 0 || v.Now.Sub(want) > time.Minute {
		t.Fatalf("now after set = %v", v.Now)
	}
	resp, body = s.postJSON(t, "/dev/clock", `{"advance":"soon"}`)
	if e := decodeError(t, body); resp.StatusCode != 422 || e.Error.Field != "advance" {
		t.Fatalf("bad duration: %d %s", resp.StatusCode, body)
	}
}

func TestDevSMSShowsDeliveredMessagesNewestFirst(t *testing.T) {
	s := newTestServer(t, devMode)
	ctx := context.Background()
	// The outbox is the phone: newest first means last delivered first, so
	// the second message is queued once the first has arrived.
	for _, code := range []string{"111111", "222222"} {
		s.newSMS(t, "13800138000", func() {
			if err := s.db.InTx(ctx, func(tx *db.Tx) error {
				_, err := s.courier.Queue(ctx, tx, "13800138000", sms.Code(vocab.PurposeRegisterCode, code, verify.CodeTTL))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
	var out struct{ Messages []sms.Message }
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		_, body := s.get(t, "/dev/sms?phone=13800138000")
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(out.Messages) != 2 || !strings.Contains(out.Messages[0].Text, "222222") || out.Messages[0].Phone != "13800138000" {
		t.Fatalf("outbox %+v", out.Messages)
	}
	if _, body := s.get(t, "/dev/sms?phone=13900000000"); !strings.Contains(body, `"messages":[]`) {
		t.Fatalf("another phone's outbox: %s", body)
	}
}
