package handlers_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// enrolTOTP enrols pc's signed-in user in TOTP through the console pages
// and returns the secret and the code that enrolled it.
func enrolTOTP(t testing.TB, s *testServer, pc *pagesClient) (string, string) {
	t.Helper()
	_, page := pc.get(t, "/console/totp")
	m := secretOnPage.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no enrolment secret:\n%.2000s", page)
	}
	code, _ := totp.GenerateCode(m[1], s.clock.Now())
	if resp, _ := pc.post(t, "/console/totp", url.Values{"otp": {code}}); resp.StatusCode != 303 {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}
	return m[1], code
}

// TestTOTPCodeWorksOnceOnEveryInstance: a code that signed a staff member in
// on one instance is refused on another for the rest of its window, and of
// two instances offered the same fresh code at the same moment exactly one
// accepts it. The code used to enrol cannot sign in either.
func TestTOTPCodeWorksOnceOnEveryInstance(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		a := newTestServerOn(t, d)
		b := newTestServerOn(t, testenv.AnotherInstance(t, d))
		// Both clocks start 1 s into a 30-second step, so no step ends
		// unnoticed between generating a code and using it.
		start := time.Now().Truncate(30 * time.Second).Add(30*time.Second + time.Second)
		a.clock.Set(start)
		b.clock.Set(start)
		advance := func(dt time.Duration) { a.clock.Advance(dt); b.clock.Advance(dt) }
		pc := staffClient(t, a, "gd_super", "supervisor", "44")
		secret, enrolCode := enrolTOTP(t, a, pc)
		if status, _, body := consoleSignIn(t, newPagesClient(t, b), "gd_super", "Staff#2468go", enrolCode); status != 422 || !strings.Contains(body, "已使用过") {
			t.Fatalf("the enrolment code signs in: %d", status)
		}

		advance(time.Minute)
		code, _ := totp.GenerateCode(secret, a.clock.Now())
		if status, loc, _ := consoleSignIn(t, newPagesClient(t, a), "gd_super", "Staff#2468go", code); status != 303 || loc != "/console/cases" {
			t.Fatalf("first use on instance a: %d %s", status, loc)
		}
		status, _, body := consoleSignIn(t, newPagesClient(t, b), "gd_super", "Staff#2468go", code)
		if status != 422 || !strings.Contains(body, "该动态口令已使用过") {
			t.Fatalf("replay on instance b: %d\n%.500s", status, body)
		}
		// Still refused later in its window (one step of skew either way).
		advance(30 * time.Second)
		if status, _, _ := consoleSignIn(t, newPagesClient(t, a), "gd_super", "Staff#2468go", code); status != 422 {
			t.Fatalf("replay 30 s later: %d", status)
		}

		// The same fresh code on both instances at once: one wins.
		advance(time.Minute)
		at := a.clock.Now()
		code, _ = totp.GenerateCode(secret, at)
		clients := []*pagesClient{newPagesClient(t, a), newPagesClient(t, b)}
		for _, c := range clients {
			c.get(t, "/console/login")
		}
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := c.post(t, "/console/login", url.Values{"username": {"gd_super"}, "password": {"Staff#2468go"}, "otp": {code}})
				statuses[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		if !(statuses[0] == 303 && statuses[1] == 422 || statuses[0] == 422 && statuses[1] == 303) {
			t.Fatalf("the same code at once on two instances: %v, want one 303 and one 422", statuses)
		}
		u := d.Ent.StaffUser.Query().Where(staffuser.UsernameKey("gd_super")).OnlyX(context.Background())
		if want := at.Unix() / 30; u.TotpLastStep != want {
			t.Fatalf("last step %d, want %d", u.TotpLastStep, want)
		}
	})
}

// volatile are the parts of a page that differ between any two requests:
// the CSRF token (meta and hidden field), the request id and the lock's
// end time, which moves with the clock between the attempts.
var volatile = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|name="_csrf" value="[^"]*"|\d{4}-\d{2}-\d{2} \d{2}:\d{2}`)

// TestConsoleSignInTellsNothingAboutWhoIsStaff: an unknown username, a
// wrong password and the right password of a disabled account answer
// byte for byte the same (apart from tokens and the typed name), five times
// running, the fifth "locking" the unknown name in the same words as the
// real ones.
func TestConsoleSignInTellsNothingAboutWhoIsStaff(t *testing.T) {
	s := newTestServer(t)
	s.staffUser(t, "real_staff", "Staff#2468go", "真实", "reviewer", "4407")
	s.staffUser(t, "gone_staff", "Staff#2468go", "停用", "reviewer", "4407")
	s.db.Ent.StaffUser.Update().Where(staffuser.UsernameKey("gone_staff")).SetDisabled(true).ExecX(context.Background())
	cases := []struct{ username, password string }{
		{"nobodyhere", "Staff#2468go"}, // unknown
		{"real_staff", "Wrong#2468go"}, // wrong password
		{"gone_staff", "Staff#2468go"}, // disabled, right password
	}
	for attempt := 1; attempt <= 6; attempt++ {
		var first string
		var firstStatus int
		for i, c := range cases {
			pc := newPagesClient(t, s)
			status, _, body := consoleSignIn(t, pc, c.username, c.password, "")
			norm := volatile.ReplaceAllString(strings.ReplaceAll(body, c.username, "USERNAME"), "VOLATILE")
			if i == 0 {
				first, firstStatus = norm, status
				want := 401
				if attempt >= 5 {
					want = 423
				}
				if status != want {
					t.Fatalf("attempt %d, %s: %d, want %d", attempt, c.username, status, want)
				}
				if strings.Contains(body, "再错误") || strings.Contains(body, "停用") {
					t.Fatalf("attempt %d: the answer tells more than it should:\n%s", attempt, body)
				}
				continue
			}
			if status != firstStatus || norm != first {
				t.Fatalf("attempt %d: %s answers %d, %s answers %d; bodies equal: %v\n%s\n----\n%s",
					attempt, cases[0].username, firstStatus, c.username, status, norm == first, first, norm)
			}
		}
		if attempt == 1 && !strings.Contains(first, "用户名或密码错误") {
			t.Fatalf("the refusal:\n%s", first)
		}
		if attempt == 5 && !strings.Contains(first, "账号已被锁定") {
			t.Fatalf("the lock:\n%s", first)
		}
	}
	// Any typed name is counted, however long and in whatever script.
	if status, _, _ := consoleSignIn(t, newPagesClient(t, s), strings.Repeat("名", 5000), "x", ""); status != 401 {
		t.Fatalf("a 5 000-character name: %d", status)
	}
	// The unknown name stays locked for the hour, like a real one, and then
	// starts afresh.
	s.clock.Advance(time.Hour + time.Second)
	if status, _, _ := consoleSignIn(t, newPagesClient(t, s), "nobodyhere", "x", ""); status != 401 {
		t.Fatalf("the unknown name after the hour: %d", status)
	}
	if status, _, _ := consoleSignIn(t, newPagesClient(t, s), "real_staff", "Staff#2468go", ""); status != 303 {
		t.Fatalf("the real user after the hour: %d", status)
	}
}
