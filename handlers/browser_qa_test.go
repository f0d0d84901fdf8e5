package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/ent/account"
	"recoverydesk/ent/qareview"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

// TestBrowserSupervisorCancelsAPendingPassword is the QA walk in Chromium:
// a reviewer's approval is drawn for QA; a supervisor opens the QA queue,
// disagrees and cancels the password before it takes effect. The applicant
// is told by SMS, the new password no longer signs in, and the old one —
// which never stopped working, since the new one had not taken effect —
// is still the password. The case is back in the queue.
func TestBrowserSupervisorCancelsAPendingPassword(t *testing.T) {
	browser := testenv.Browser(t)
	s := qaFixture(t, qaSample(100))
	a, number := unitCase(t, s, nil, 10)
	bg := context.Background()

	// The reviewer approves; the password SMS goes out (its 4 hours start).
	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	claim(t, rev, number)
	text := s.newSMS(t, "13800006666", func() {
		if resp, body := decide(t, s, rev, number, url.Values{"outcome": {"approve"}}); resp.StatusCode != 303 {
			t.Fatalf("approve: %d %.300s", resp.StatusCode, body)
		}
	})
	m := passwordInSMS.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("SMS without a password: %q", text)
	}
	password := m[1]
	deadline := time.Now().Add(5 * time.Second)
	for s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(bg).PendingEffectiveAt == nil {
		if time.Now().After(deadline) {
			t.Fatal("the password's clock never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.clock.Advance(time.Hour) // still 3 hours before it takes effect
	r := s.db.Ent.QAReview.Query().OnlyX(bg)

	s.staffUser(t, "gd_super", "Super#2468go", "王主管", "supervisor", "44")
	base := s.listen(t)
	ctx, problems := browsing(t, browser, 30*time.Second)
	browserDo(t, ctx, "sign in",
		browserSignIn(base+"/console/login", "gd_super", "Super#2468go", "table.queue, .empty"),
	)
	// The 质检 link in the console's navigation opens the QA queue.
	row := fmt.Sprintf("#qa-%d", r.ID)
	browserDo(t, ctx, "open the QA queue",
		chromedp.Click(chromedp.CSS(`.console-nav a[href="/console/qa"]`)),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	if cur := browserText(t, ctx, `.console-nav a[aria-current="page"]`); cur != "质检" {
		t.Errorf("current navigation item %q", cur)
	}
	text = browserText(t, ctx, row)
	for _, want := range []string{number, "通过", "jm_reviewer", "随机抽样", "新密码尚未生效"} {
		if !strings.Contains(text, want) {
			t.Errorf("QA row lacks %q: %q", want, text)
		}
	}
	// Disagree, say why, cancel the password.
	browserDo(t, ctx, "disagree and cancel",
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#qa-%d-disagree", r.ID))),
		chromedp.SendKeys(chromedp.CSS(fmt.Sprintf("#qa-%d-comment", r.ID)), "授权函未盖公章，不应通过"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#qa-%d-cancel", r.ID))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#qa-%d-submit", r.ID))),
		chromedp.WaitVisible(chromedp.CSS(".alert-success")),
	)
	if msg := browserText(t, ctx, ".alert-success"); !strings.Contains(msg, "新密码已撤销") {
		t.Errorf("notice after the verdict %q", msg)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, row))); err != nil || n != 0 {
		t.Errorf("the reviewed decision is still listed (%d, %v)", n, err)
	}

	// The applicant is told; the new password fails, the old one works.
	if sms := s.waitSMS(t, "13800006666", "新密码已作废"); !strings.Contains(sms, number) {
		t.Errorf("cancellation SMS %q", sms)
	}
	if resp, e := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 401 || e["code"] != "bad_credentials" {
		t.Fatalf("the cancelled password: %d %v", resp.StatusCode, e)
	}
	if resp, e := login(t, s, "unit", "jm_talent", "Unit#Pass2468"); resp.StatusCode != 200 {
		t.Fatalf("the old password: %d %v", resp.StatusCode, e)
	}
	// Even after the 4 hours, the cancelled one never takes effect.
	s.clock.Advance(4 * time.Hour)
	if resp, _ := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 401 {
		t.Fatalf("the cancelled password 4 hours later: %d", resp.StatusCode)
	}
	rc := caseRow(t, s, number)
	if rc.Status != state.Submitted || rc.Outcome != nil || rc.Edges.Account.PendingPasswordHash != "" {
		t.Fatalf("case after the cancellation: %s outcome %v pending %v", rc.Status, rc.Outcome, rc.Edges.Account.PendingPasswordHash != "")
	}
	if r = s.db.Ent.QAReview.GetX(bg, r.ID); r.Status != qareview.StatusDisagreed || r.Action == nil || *r.Action != qareview.ActionCancelPassword {
		t.Fatalf("review %+v", r)
	}
	if _, st := a.req(t, http.MethodGet, "", "", nil); !strings.Contains(st, `"status":"submitted"`) {
		t.Fatalf("applicant status %s", st)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}
