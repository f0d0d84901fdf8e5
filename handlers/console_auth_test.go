package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/rules"
	"recoverydesk/policies"
)

// staffUser creates a staff user with one role in one region.
func (s *testServer) staffUser(t testing.TB, username, password, name, role, region string) {
	t.Helper()
	ctx := context.Background()
	hash, err := passhashTesting().Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	key := rules.NormalizeUsername(username)
	s.db.Ent.StaffUser.Create().SetUsername(username).SetUsernameKey(key).SetName(name).SetPasswordHash(hash).ExecX(ctx)
	if err := s.enforcer.Grant(ctx, policies.Subject(key), role, region); err != nil {
		t.Fatal(err)
	}
}

// consoleSignIn signs pc in to the console and returns where it was sent.
func consoleSignIn(t testing.TB, pc *pagesClient, username, password, otp string) (int, string, string) {
	t.Helper()
	pc.get(t, "/console/login")
	resp, body := pc.post(t, "/console/login", url.Values{"username": {username}, "password": {password}, "otp": {otp}})
	return resp.StatusCode, resp.Header.Get("Location"), body
}

func TestConsoleSignInLockoutAndIdleTimeout(t *testing.T) {
	s := newTestServer(t)
	s.staffUser(t, "jm_reviewer", "Review#2468", "李审核", "reviewer", "4407")
	pc := newPagesClient(t, s)

	// Unsigned-in visitors are sent to sign in, and come back afterwards.
	resp, _ := pc.get(t, "/console/totp")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/login?next=%2Fconsole%2Ftotp" {
		t.Fatalf("anonymous: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Four failures get the one answer every refusal gets, with no count of
	// the attempts left (it would tell a real username from an unknown one).
	for left := 4; left >= 1; left-- {
		status, _, body := consoleSignIn(t, pc, "jm_reviewer", "wrong", "")
		if status != 401 || !strings.Contains(body, "用户名或密码错误") || strings.Contains(body, "再错误") {
			t.Fatalf("failure with %d left: %d", left, status)
		}
	}
	status, _, body := consoleSignIn(t, pc, "jm_reviewer", "wrong", "")
	if status != 423 || !strings.Contains(body, "已被锁定") {
		t.Fatalf("5th failure: %d", status)
	}
	if status, _, _ := consoleSignIn(t, pc, "jm_reviewer", "Review#2468", ""); status != 423 {
		t.Fatalf("right password while locked: %d", status)
	}
	s.clock.Advance(time.Hour + time.Second)
	// A session id the visitor already holds (planted here) must not survive
	// the sign-in: the console has to issue a fresh one.
	consoleURL := &url.URL{Scheme: "http", Host: "example.com", Path: "/console/"}
	pc.jar.SetCookies(consoleURL, []*http.Cookie{{Name: "rd_console", Value: "planted-id", Path: "/console"}})
	if got := sessionID(pc.jar.Cookies(consoleURL)); got != "planted-id" {
		t.Fatalf("planted console cookie not in the jar: %q", got)
	}
	pc.get(t, "/console/login")
	before := sessionID(pc.jar.Cookies(consoleURL))
	resp, _ = pc.post(t, "/console/login", url.Values{"username": {"jm_reviewer"}, "password": {"Review#2468"}})
	if status, loc := resp.StatusCode, resp.Header.Get("Location"); status != 303 || loc != "/console/cases" {
		t.Fatalf("sign-in after the lock: %d %s", status, loc)
	}
	after := sessionID(pc.jar.Cookies(consoleURL))
	if after == "" || after == "planted-id" || after == before {
		t.Fatalf("sign-in must give a fresh console session id: before %q, after %q", before, after)
	}
	if resp, _ := pc.get(t, "/console/totp"); resp.StatusCode != 200 {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	// 29 minutes idle keeps the session; 31 more end it.
	s.clock.Advance(29 * time.Minute)
	if resp, _ := pc.get(t, "/console/totp"); resp.StatusCode != 200 {
		t.Fatalf("after 29 idle minutes: %d", resp.StatusCode)
	}
	s.clock.Advance(31 * time.Minute)
	if resp, _ := pc.get(t, "/console/totp"); resp.StatusCode != 303 {
		t.Fatalf("after 31 idle minutes: %d", resp.StatusCode)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("staff.locked")).CountX(context.Background()); n != 1 {
		t.Fatalf("%d staff.locked audit events", n)
	}
}

func sessionID(cookies []*http.Cookie) string {
	for _, c := range cookies {
		if c.Name == "rd_console" {
			return c.Value
		}
	}
	return ""
}

var secretOnPage = regexp.MustCompile(`<code class="totp-secret">([A-Z2-7]+)</code>`)

func TestConsoleTOTPEnrolmentThenRequired(t *testing.T) {
	s := newTestServer(t)
	s.staffUser(t, "gd_super", "Super#2468", "王主管", "supervisor", "44")
	pc := newPagesClient(t, s)
	if status, _, _ := consoleSignIn(t, pc, "gd_super", "Super#2468", ""); status != 303 {
		t.Fatalf("sign in: %d", status)
	}
	_, page := pc.get(t, "/console/totp")
	m := secretOnPage.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("no QR code and secret on the enrolment page:\n%s", page)
	}
	if resp, _ := pc.post(t, "/console/totp", url.Values{"otp": {wrongTOTP(t, m[1], s.clock.Now())}}); resp.StatusCode != 422 {
		t.Fatalf("wrong code at enrolment: %d", resp.StatusCode)
	}
	code, _ := totp.GenerateCode(m[1], s.clock.Now())
	if resp, _ := pc.post(t, "/console/totp", url.Values{"otp": {code}}); resp.StatusCode != 303 {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}
	u := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey("gd_super")).OnlyX(context.Background())
	if !u.TotpRequired || len(u.TotpSecret) == 0 || strings.Contains(string(u.TotpSecret), m[1]) {
		t.Fatal("the secret must be stored sealed and required from now on")
	}
	other := newPagesClient(t, s)
	if status, _, body := consoleSignIn(t, other, "gd_super", "Super#2468", ""); status != 401 || !strings.Contains(body, "请输入动态口令") {
		t.Fatalf("password alone after enrolment: %d", status)
	}
	if status, _, _ := consoleSignIn(t, other, "gd_super", "Super#2468", wrongTOTP(t, m[1], s.clock.Now())); status != 422 {
		t.Fatalf("wrong code: %d", status)
	}
	s.clock.Advance(time.Minute)
	code, _ = totp.GenerateCode(m[1], s.clock.Now())
	if status, loc, _ := consoleSignIn(t, other, "gd_super", "Super#2468", code); status != 303 || loc != "/console/cases" {
		t.Fatalf("password and code: %d %s", status, loc)
	}
}

// wrongTOTP returns a six-digit code that no accepted time step around now
// (the service allows one step of skew either way) would produce for secret.
func wrongTOTP(t testing.TB, secret string, now time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for step := -2; step <= 2; step++ {
		code, err := totp.GenerateCode(secret, now.Add(time.Duration(step)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		valid[code] = true
	}
	for n := 0; ; n++ {
		if code := fmt.Sprintf("%06d", n); !valid[code] {
			return code
		}
	}
}
