package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/testenv"
)

// TestBrowserAdminCreatesStaffAndEditsReasons walks the administration pages
// in Chromium under the real CSP: create a person and read the password
// shown once, which then signs in; add a reason code.
func TestBrowserAdminCreatesStaffAndEditsReasons(t *testing.T) {
	browser := testenv.Browser(t)
	s := newTestServer(t)
	s.staffUser(t, "gd_admin", "Admin#2468go", "陈管理", "admin", "44")
	s.staffUser(t, "jm_reviewer", "Review#2468", "李审核", "reviewer", "4407")
	base := s.listen(t)
	ctx, problems := browsing(t, browser, 30*time.Second)
	browserDo(t, ctx, "sign in",
		browserSignIn(base+"/console/login?next=%2Fconsole%2Fstaff", "gd_admin", "Admin#2468go", "table.staff-table"),
	)
	browserDo(t, ctx, "create",
		chromedp.Click(chromedp.CSS(`a[href="/console/staff/new"]`)),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "sz_reviewer"),
		chromedp.SendKeys(chromedp.CSS("#name"), "黄审核"),
		chromedp.SetValue(chromedp.CSS("#region"), "4403"),
		chromedp.Click(chromedp.CSS(`form[action="/console/staff"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#generated-password")),
	)
	password, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#generated-password")))
	if err != nil {
		t.Fatal(err)
	}
	pc := newPagesClient(t, s)
	if status, _, _ := consoleSignIn(t, pc, "sz_reviewer", strings.TrimSpace(password), ""); status != 303 {
		t.Fatalf("the password shown in the browser does not sign in: %d", status)
	}
	browserDo(t, ctx, "member page",
		chromedp.Navigate(base+"/console/staff/jm_reviewer"),
		chromedp.WaitVisible(chromedp.CSS("form.grant-form")),
	)
	browserDo(t, ctx, "add a reason",
		chromedp.Navigate(base+"/console/reasons"),
		chromedp.WaitVisible(chromedp.CSS("#code")),
		chromedp.SendKeys(chromedp.CSS("#code"), "photo_expired"),
		chromedp.SendKeys(chromedp.CSS("#text"), "证件已过期"),
		chromedp.Click(chromedp.CSS(`form[action="/console/reasons"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#text-photo_expired`)),
	)
	if got := reasonText(t, s, "photo_expired"); got != "证件已过期" {
		t.Fatalf("added reason text %q", got)
	}
	if p := problems(); len(p) > 0 {
		t.Fatalf("console errors (CSP or script): %v", p)
	}
}
