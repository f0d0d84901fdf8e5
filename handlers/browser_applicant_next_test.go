package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

// uploadedCase starts a unit case, verifies its phone and uploads its four
// images through the API: a case one click from submission.
func uploadedCase(t *testing.T, s *testServer) *applicant {
	t.Helper()
	a := startUnit(t, s, nil)
	a.verifyPhone(t, "13800006666")
	for i, kind := range recoverEvidenceKinds {
		if resp, body := a.upload(t, kind, jpegBytes(t, photo(400, 300, uint64(10+i)))); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	return a
}

// holdCase puts a's case into this browser's sessionStorage, as the wizard
// leaves it, after opening base (sessionStorage belongs to the origin).
func holdCase(t *testing.T, ctx context.Context, base string, a *applicant) {
	t.Helper()
	browserDo(t, ctx, "hold the case",
		chromedp.Navigate(base+"/recover/letter-template"),
		chromedp.WaitVisible(chromedp.CSS("body")),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`sessionStorage.clear(); sessionStorage.setItem("rd.recovery", JSON.stringify({id: %q, token: %q, kind: "unit"}))`, a.id, a.token)),
	)
}

// TestBrowserSubmitRejectAndApplyAgain: the submission in the browser sends
// an SMS with the case number; a rejection with the reviewer's words shows
// them on the status page and in the SMS, without the password notice; and
// 重新申请找回密码 opens the wizard prefilled from the case, with the
// certificate never in the URL.
func TestBrowserSubmitRejectAndApplyAgain(t *testing.T) {
	browser := testenv.Browser(t)
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		s := recoveryFixture(t)
		a := uploadedCase(t, s)
		base := s.listen(t)
		ctx, problems := browsing(t, browser, 60*time.Second)
		holdCase(t, ctx, base, a)
		browserDo(t, ctx, "step 3", chromedp.Navigate(base+"/recover?kind=unit"), chromedp.WaitEnabled(chromedp.CSS("#submit")))
		text := s.newSMS(t, "13800006666", func() {
			browserDo(t, ctx, "提交申请", chromedp.Click(chromedp.CSS("#submit")), chromedp.WaitVisible(chromedp.CSS("#step-4")))
		})
		number := browserText(t, ctx, "#case-number")
		if !regexp.MustCompile(`^ZH\d{14}$`).MatchString(number) || !strings.Contains(text, "申请编号"+number) {
			t.Fatalf("case number %q on the page, submission SMS %q", number, text)
		}

		pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
		v := claimed(t, s, pc, number)
		words := "手持照片中证件被手指遮挡，请重新拍摄"
		text = decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"reject"}, "reason": {"other"}, "message": {words}})
		if !strings.Contains(text, number) || !strings.Contains(text, "审核意见："+words) {
			t.Errorf("rejection SMS %q", text)
		}
		browserDo(t, ctx, "the status page", chromedp.Navigate(base+"/recover/status"), chromedp.WaitVisible(chromedp.CSS("#status-new")))
		if got := browserText(t, ctx, "#decision-message"); got != words {
			t.Errorf("the reviewer's words on the status page %q", got)
		}
		if got := browserText(t, ctx, "#decision-reasons"); got != "其他原因，详见审核意见" {
			t.Errorf("reasons %q", got)
		}
		if hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#status-password-note").hidden`)); err != nil || !hidden {
			t.Errorf("the password notice shows after a rejection (%v)", err)
		}

		browserDo(t, ctx, "重新申请找回密码",
			chromedp.Click(chromedp.CSS("#status-new")),
			chromedp.WaitVisible(chromedp.CSS("#step-1")),
			chromedp.Poll[chromedp.Void](`document.querySelector("#cert_number").value !== ""`, chromedp.WithPollingTimeout(5*time.Second)),
		)
		// The first field is on the first screen, on a phone too (the intro
		// follows the form there).
		if fits, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#username").getBoundingClientRect().bottom <= innerHeight`)); err != nil || !fits {
			t.Errorf("at %s the first field is below the first screen (%v)", vp.name, err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`({username: document.querySelector("#username").value,
			cert_type: document.querySelector("#cert_type").value, cert_number: document.querySelector("#cert_number").value,
			unit_name: document.querySelector("#unit_name").value, url: location.href,
			notice: document.querySelector("#wizard-notice").hidden ? "" : document.querySelector("#wizard-notice").textContent.trim()})`))
		if err != nil {
			t.Fatal(err)
		}
		if got["username"] != "jm_talnet" || got["cert_type"] != "uscc" || got["cert_number"] != unitA || got["unit_name"] != "江门市人才发展公司" ||
			strings.Contains(got["url"], unitA) || !strings.Contains(got["notice"], "已按上次申请填好") {
			t.Errorf("the new application's step 1: %v", got)
		}
		// It goes on as a new case: the same account, a new phone check.
		browserDo(t, ctx, "下一步", chromedp.Click(chromedp.CSS("#next")), chromedp.WaitVisible(chromedp.CSS("#step-2")))
		if got := browserText(t, ctx, "#phone-masked"); got != "138****6666" {
			t.Errorf("step 2 of the new application shows %q", got)
		}
		if p := problems(); len(p) > 0 {
			t.Errorf("page errors: %s", strings.Join(p, "\n"))
		}
	})
}

// TestBrowserAReturnOfTwoKindsIsAToDoList: the re-upload page marks exactly
// the two returned kinds; the same photos again are refused on submission
// (evidence_unchanged) and marked again; new photos are accepted.
func TestBrowserAReturnOfTwoKindsIsAToDoList(t *testing.T) {
	browser := testenv.Browser(t)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// uploadedCase's photos of id_front and authorization_letter, byte for
	// byte, and two new ones.
	same := map[string]string{"id_front": file("same_front.jpg", jpegBytes(t, photo(400, 300, 10))),
		"authorization_letter": file("same_letter.jpg", jpegBytes(t, photo(400, 300, 13)))}
	fresh := map[string]string{"id_front": file("new_front.jpg", jpegBytes(t, photo(400, 300, 90))),
		"authorization_letter": file("new_letter.jpg", jpegBytes(t, photo(400, 300, 91)))}
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		s := recoveryFixture(t)
		a := uploadedCase(t, s)
		if resp, body := a.req(t, "POST", "/submit", "", nil); resp.StatusCode != 200 {
			t.Fatalf("submit: %d %s", resp.StatusCode, body)
		}
		var sub struct {
			CaseNumber string `json:"case_number"`
		}
		_, body := a.req(t, "GET", "", "", nil)
		mustJSON(t, body, &sub)
		pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
		v := claimed(t, s, pc, sub.CaseNumber)
		words := "人像面反光，授权函未盖章"
		if resp, body := pc.post(t, "/console/cases/"+sub.CaseNumber+"/decision", url.Values{"outcome": {"return"}, "version": {fmt.Sprint(v)},
			"return_kind": {"id_front", "authorization_letter"}, "message": {words}}); resp.StatusCode != 303 {
			t.Fatalf("return: %d %.300s", resp.StatusCode, body)
		}
		base := s.listen(t)
		ctx, problems := browsing(t, browser, 60*time.Second)
		holdCase(t, ctx, base, a)
		browserDo(t, ctx, "the re-upload page", chromedp.Navigate(base+"/recover?kind=unit"), chromedp.WaitVisible(chromedp.CSS("#tile-id_front.needs-redo")))
		tiles := func() string {
			t.Helper()
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".evidence-tile")).filter(e => !e.hidden)
				.map(e => e.dataset.kind + ":" + (e.classList.contains("needs-redo") ? "redo" : e.classList.contains("is-done") ? "done" : "-")).join(",")`))
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if got := tiles(); got != "id_front:redo,id_handheld:done,unit_license:done,authorization_letter:redo" {
			t.Errorf("tiles %s", got)
		}
		if got := browserText(t, ctx, "#status-authorization_letter"); !strings.Contains(got, "需重新上传") || !strings.Contains(got, words) {
			t.Errorf("the letter's tile says %q", got)
		}
		uploadAll := func(files map[string]string) {
			t.Helper()
			for _, kind := range []string{"id_front", "authorization_letter"} {
				browserDo(t, ctx, "upload "+kind,
					chromedp.SetUploadFiles(chromedp.CSS("#file-"+kind), []string{files[kind]}),
					chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#tile-%s").classList.contains("is-done")`, kind), chromedp.WithPollingTimeout(10*time.Second)),
				)
			}
		}
		// The very same photos: the page lets them through, the server
		// does not, and the two tiles are to do again.
		uploadAll(same)
		browserDo(t, ctx, "resubmit unchanged",
			chromedp.WaitEnabled(chromedp.CSS("#submit")),
			chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.CSS("#submit-error")),
		)
		if got := browserText(t, ctx, "#submit-error"); !strings.Contains(got, "上传与原来相同的图片不算重新上传") {
			t.Errorf("unchanged resubmission says %q", got)
		}
		if got := tiles(); got != "id_front:redo,id_handheld:done,unit_license:done,authorization_letter:redo" {
			t.Errorf("tiles after the unchanged resubmission %s", got)
		}
		if st, body := a.view(t); st.Status != "returned" {
			t.Fatalf("after the unchanged resubmission: %s", body)
		}
		// New photos: accepted, back to review.
		uploadAll(fresh)
		browserDo(t, ctx, "resubmit",
			chromedp.WaitEnabled(chromedp.CSS("#submit")),
			chromedp.Click(chromedp.CSS("#submit")),
			chromedp.WaitVisible(chromedp.CSS("#step-4")),
		)
		if got := browserText(t, ctx, "#case-number"); got != sub.CaseNumber {
			t.Errorf("case number after the resubmission %q", got)
		}
		if st, body := a.view(t); st.Status != "submitted" {
			t.Fatalf("after the real re-upload: %s", body)
		}
		if p := problems(); len(p) > 0 {
			t.Errorf("page errors: %s", strings.Join(p, "\n"))
		}
	})
}

// TestBrowserForgotCaseNumber: 忘记申请编号 on /recover/status takes step
// 1's certificate fields and sends the latest case's number by SMS (read
// through /dev/sms) to the phone on record; the page shows only the masked
// phone, and the number then opens the status by the usual code.
func TestBrowserForgotCaseNumber(t *testing.T) {
	browser := testenv.Browser(t)
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		s := recoveryFixture(t, devMode)
		a := uploadedCase(t, s)
		number := a.submit(t)
		s.clock.Advance(61 * time.Second) // the phone's SMS quota: one a minute
		base := s.listen(t)
		ctx, problems := browsing(t, browser, 60*time.Second)
		browserDo(t, ctx, "忘记申请编号",
			statusLookup(base),
			chromedp.Click(chromedp.CSS("#forgot-open")),
			chromedp.WaitVisible(chromedp.CSS("#forgot_cert_number")),
			// A certificate of no account: the wizard's own answer.
			chromedp.SendKeys(chromedp.CSS("#forgot_cert_number"), unknownUnit(t)),
			chromedp.SendKeys(chromedp.CSS("#forgot_unit_name"), "江门市人才发展公司"),
			chromedp.Click(chromedp.CSS("#forgot-send")),
			chromedp.WaitVisible(chromedp.CSS("#forgot-error")),
		)
		if got := browserText(t, ctx, "#forgot-error"); !strings.Contains(got, "未找到与所填证件信息对应的账号") {
			t.Errorf("unknown certificate: %q", got)
		}
		text := s.newSMS(t, "13800006666", func() {
			browserDo(t, ctx, "send the number",
				browserSetValue("#forgot_cert_number", unitA),
				chromedp.Click(chromedp.CSS("#forgot-send")),
				chromedp.WaitVisible(chromedp.CSS("#forgot-sent")),
			)
		})
		if got := browserText(t, ctx, "#forgot-sent"); !strings.Contains(got, "138****6666") || strings.Contains(got, number) {
			t.Errorf("the page says %q", got)
		}
		if !strings.Contains(text, number) {
			t.Errorf("SMS %q lacks %s", text, number)
		}
		// The outbox as /dev/sms shows it.
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch("/dev/sms?phone=13800006666").then(r => r.text())`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		var outbox struct {
			Messages []struct{ Text string }
		}
		if err := json.Unmarshal([]byte(raw), &outbox); err != nil || len(outbox.Messages) == 0 ||
			!strings.Contains(outbox.Messages[0].Text, "申请编号为"+number) {
			t.Fatalf("/dev/sms: %s (%v)", raw, err)
		}
		// With the number from the SMS the status opens as usual.
		s.clock.Advance(61 * time.Second)
		code := s.newSMS(t, "13800006666", func() {
			browserDo(t, ctx, "获取验证码",
				chromedp.SendKeys(chromedp.CSS("#case_number"), number),
				chromedp.Click(chromedp.CSS("#lookup-send")),
				chromedp.WaitVisible(chromedp.CSS("#lookup-sent")),
			)
		})
		browserDo(t, ctx, "查询",
			chromedp.SendKeys(chromedp.CSS("#lookup_code"), sixDigits.FindStringSubmatch(code)[1]),
			chromedp.Click(chromedp.CSS("#lookup-verify")),
			chromedp.WaitVisible(chromedp.CSS("#status-view")),
		)
		if got := browserText(t, ctx, "#status-number"); got != number {
			t.Errorf("status of %q, want %q", got, number)
		}
		if p := problems(); len(p) > 0 {
			t.Errorf("page errors: %s", strings.Join(p, "\n"))
		}
	})
}

// TestBrowserTheWrongLoginTabNamesTheRightOne: the unit's username and
// password on the 个人登录 tab say to use 单位登录, and the reverse.
func TestBrowserTheWrongLoginTabNamesTheRightOne(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t) // the person jingban (Abcd2468!x), the unit jm_talent (Unit#Pass2468)
	base := s.listen(t)
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		ctx := testenv.Within(t, browser, 30*time.Second)
		for _, c := range []struct{ tab, username, password, want string }{
			{"person", "jm_talent", "Unit#Pass2468", "该账号为单位账号，请在“单位登录”中登录"},
			{"unit", "jingban", "Abcd2468!x", "该账号为个人账号，请在“个人登录”中登录"},
		} {
			browserDo(t, ctx, "login on the "+c.tab+" tab",
				chromedp.Navigate(base+"/login?kind="+c.tab),
				chromedp.WaitVisible(chromedp.CSS("#username")),
				chromedp.SendKeys(chromedp.CSS("#username"), c.username),
				chromedp.SendKeys(chromedp.CSS("#password"), c.password),
				chromedp.Click(chromedp.CSS("#login-submit")),
				chromedp.WaitVisible(chromedp.CSS(".alert-error")),
			)
			if got := browserText(t, ctx, ".alert-error"); !strings.Contains(got, c.want) {
				t.Errorf("%s on the %s tab: %q", c.username, c.tab, got)
			}
		}
	})
}

// unknownUnit is a valid unified social credit code no account holds.
func unknownUnit(t testing.TB) string {
	t.Helper()
	for _, c := range "0123456789X" {
		if code, err := rules.ValidateOrgCode("MA4UABCF" + string(c)); err == nil {
			return uscc("91440703" + code)
		}
	}
	t.Fatal("no valid organisation code")
	return ""
}
