package handlers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/testenv"
)

var recoverEvidenceKinds = []string{"id_front", "id_handheld", "unit_license", "authorization_letter"}

// pageProblems collects what the page threw or logged as an error (CSP
// violations included), except failed requests, which the wizard answers.
func pageProblems(ctx context.Context) func() []string {
	var mu sync.Mutex
	var seen []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.IsException() || m.Type == chromedp.ConsoleError) && m.Source != "network" {
				mu.Lock()
				seen = append(seen, m.String())
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// browserText reads the visible text of the first element matching sel.
func browserText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// browsing bounds a browser test's steps to d and starts collecting the
// problems the page reports (script errors, refused resources).
func browsing(t *testing.T, browser context.Context, d time.Duration) (context.Context, func() []string) {
	t.Helper()
	ctx := testenv.Within(t, browser, d)
	return ctx, pageProblems(ctx)
}

func browserDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// browserSignIn fills and sends the console's sign-in form at loginURL as a
// person does, then waits for the page it lands on, shown by landing (a CSS
// selector).
func browserSignIn(loginURL, username, password, landing string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(loginURL),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/console/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(landing)),
	)
}

// statusLookup opens /recover/status at base in a browser that holds no
// case: the page asks for a case number.
func statusLookup(base string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/recover/status"),
		chromedp.WaitVisible(chromedp.CSS("#lookup")),
	)
}

// browserSetValue replaces an input's value, as a person selecting all and typing.
func browserSetValue(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel))(ctx, t)
			return err
		}),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

// TestBrowserRecoveryWizard walks the whole 密码找回 wizard in Chromium with
// real files: the page drives the JSON API (fetch and XMLHttpRequest), reads
// the SMS code the applicant would receive, uploads four JPEGs with visible
// progress, submits, survives a reload, and shows the status.
func TestBrowserRecoveryWizard(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t)
	// Submitted on 30 Sep 2025, the case is due on 10 Oct 2025 (National Day holidays 1–8 Oct).
	s.clock.Set(time.Date(2025, 9, 30, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	base := s.listen(t)

	dir := t.TempDir()
	files := map[string]string{}
	for i, kind := range recoverEvidenceKinds {
		p := filepath.Join(dir, kind+".jpg")
		if err := os.WriteFile(p, jpegBytes(t, photo(640, 480, uint64(i))), 0o600); err != nil {
			t.Fatal(err)
		}
		files[kind] = p
	}
	tiny := filepath.Join(dir, "tiny.png")
	notImage := filepath.Join(dir, "photo.jpg") // a name that lies
	if err := os.WriteFile(tiny, pngBytes(t, photo(120, 90, 9)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notImage, []byte("this is a text file, whatever its name says\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, problems := browsing(t, browser, 25*time.Second)

	// Step 1 填写信息: a wrong check character is shown beside its field.
	browserDo(t, ctx, "open /recover",
		chromedp.Navigate(base+"/recover"),
		chromedp.WaitVisible(chromedp.CSS("#step-1")),
		chromedp.SendKeys(chromedp.CSS("#username"), "jm_talnet"),
		chromedp.SendKeys(chromedp.CSS("#cert_number"), unitA[:17]+"0"),
		chromedp.SendKeys(chromedp.CSS("#unit_name"), "江门市人才发展公司"),
		chromedp.Click(chromedp.CSS("#next")),
		chromedp.WaitVisible(chromedp.CSS("#cert_number-error")),
	)
	if msg := browserText(t, ctx, "#cert_number-error"); msg == "" {
		t.Error("no message beside 证件号码")
	}
	browserDo(t, ctx, "step 1",
		browserSetValue("#cert_number", unitA),
		chromedp.Click(chromedp.CSS("#next")),
		chromedp.WaitVisible(chromedp.CSS("#step-2")),
	)
	if got := browserText(t, ctx, "#phone-masked"); got != "138****6666" {
		t.Errorf("step 2 shows phone %q, want 138****6666", got)
	}

	// Step 2 身份验证: the code goes to the phone on record; the page counts down.
	sms := s.newSMS(t, "13800006666", func() {
		browserDo(t, ctx, "获取验证码", chromedp.Click(chromedp.CSS("#send-code")))
	})
	code := sixDigits.FindStringSubmatch(sms)[1]
	browserDo(t, ctx, "countdown", chromedp.Poll[chromedp.Void](`/秒后重新获取$/.test(document.querySelector("#send-code").textContent) && document.querySelector("#send-code").disabled`))
	browserDo(t, ctx, "step 2",
		chromedp.SendKeys(chromedp.CSS("#sms_code"), code),
		chromedp.Click(chromedp.CSS("#verify")),
		chromedp.WaitVisible(chromedp.CSS("#step-3")),
	)

	// Step 3 上传证件照: the browser refuses what the server would, before sending.
	for _, kind := range recoverEvidenceKinds {
		browserDo(t, ctx, "tile "+kind, chromedp.WaitVisible(chromedp.CSS("#tile-"+kind)))
	}
	if disabled, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#submit").disabled`)); !disabled {
		t.Error("提交申请 enabled before any upload")
	}
	browserDo(t, ctx, "a tiny image",
		chromedp.SetUploadFiles(chromedp.CSS("#file-id_front"), []string{tiny}),
		chromedp.WaitVisible(chromedp.CSS("#error-id_front")),
	)
	if msg := browserText(t, ctx, "#error-id_front"); !strings.Contains(msg, "200至8000像素") {
		t.Errorf("tiny image: %q", msg)
	}
	browserDo(t, ctx, "a text file named .jpg",
		chromedp.SetUploadFiles(chromedp.CSS("#file-id_handheld"), []string{notImage}),
		chromedp.WaitVisible(chromedp.CSS("#error-id_handheld")),
	)
	if msg := browserText(t, ctx, "#error-id_handheld"); !strings.Contains(msg, "PNG、JPEG") {
		t.Errorf("text file: %q", msg)
	}

	for _, kind := range recoverEvidenceKinds {
		browserDo(t, ctx, "upload "+kind, chromedp.SetUploadFiles(chromedp.CSS("#file-"+kind), []string{files[kind]}))
		done := fmt.Sprintf(`(() => { const p = document.querySelector("#progress-%[1]s");
			return !p.hidden && p.max > 0 && p.value === p.max && document.querySelector("#tile-%[1]s").classList.contains("is-done"); })()`, kind)
		browserDo(t, ctx, "progress of "+kind, chromedp.Poll[chromedp.Void](done, chromedp.WithPollingTimeout(10*time.Second)))
		preview, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector("#preview-%s").src`, kind)))
		if err != nil || !strings.HasPrefix(preview, "blob:") {
			t.Errorf("%s preview %q (%v)", kind, preview, err)
		}
		if msg := browserText(t, ctx, "#status-"+kind); !strings.Contains(msg, "640×480") {
			t.Errorf("%s status %q", kind, msg)
		}
	}
	if n := s.db.Ent.Evidence.Query().CountX(context.Background()); n != 4 {
		t.Fatalf("%d evidence rows after the uploads, want 4 (the refused files never left the browser)", n)
	}

	// Step 4 完成.
	browserDo(t, ctx, "submit",
		chromedp.WaitEnabled(chromedp.CSS("#submit")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#step-4")),
	)
	number := browserText(t, ctx, "#case-number")
	if !regexp.MustCompile(`^ZH20250930\d{6}$`).MatchString(number) {
		t.Fatalf("case number %q", number)
	}
	if due := browserText(t, ctx, "#due-by"); due != "2025年10月10日" {
		t.Errorf("due date %q, want 2025年10月10日", due)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
	if rc.Status != "submitted" || rc.TypedUsername != "jm_talnet" {
		t.Errorf("stored case: status %s, typed username %q", rc.Status, rc.TypedUsername)
	}

	// A reload resumes from the token in sessionStorage.
	browserDo(t, ctx, "reload", chromedp.Navigate(base+"/recover"), chromedp.WaitVisible(chromedp.CSS("#step-4")))
	if got := browserText(t, ctx, "#case-number"); got != number {
		t.Errorf("after reload: case number %q, want %q", got, number)
	}

	// 查询申请进度 in the same browser needs no code.
	browserDo(t, ctx, "status", chromedp.Navigate(base+"/recover/status"), chromedp.WaitVisible(chromedp.CSS("#status-view")))
	if got := browserText(t, ctx, "#status-number"); got != number {
		t.Errorf("status page case number %q", got)
	}
	if got := browserText(t, ctx, "#status-badge"); got != "待审核" {
		t.Errorf("status label %q", got)
	}
	if got := browserText(t, ctx, "#status-due"); got != "2025年10月10日" {
		t.Errorf("status due date %q", got)
	}
	page := browserText(t, ctx, "#status-view")
	for _, want := range []string{"提交查询信息", "短信验证通过", "上传证件照（4 张）", "提交审核", "2025-09-30 10:00"} {
		if !strings.Contains(page, want) {
			t.Errorf("status timeline lacks %q:\n%s", want, page)
		}
	}
	for _, secret := range []string{"13800006666", unitA, "王经办", "jm_talent"} {
		if strings.Contains(page, secret) {
			t.Errorf("status page shows %q", secret)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}

// TestBrowserRecoveryStatusLookup reads a case's status in a browser that
// does not hold its token: case number, a code to the phone on record, then
// the status and its timeline.
func TestBrowserRecoveryStatusLookup(t *testing.T) {
	browser := testenv.Browser(t)
	s, a := unitAtUpload(t)
	for i, kind := range recoverEvidenceKinds {
		if resp, body := a.upload(t, kind, jpegBytes(t, photo(300, 300, uint64(i)))); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	number := a.submit(t)
	s.clock.Advance(61 * time.Second) // the SMS quota: one message a minute per phone
	base := s.listen(t)

	ctx, problems := browsing(t, browser, 20*time.Second)
	browserDo(t, ctx, "open /recover/status",
		statusLookup(base),
		chromedp.SendKeys(chromedp.CSS("#case_number"), "ZH20990101000001"),
		chromedp.Click(chromedp.CSS("#lookup-send")),
		chromedp.WaitVisible(chromedp.CSS("#case_number-error")),
	)
	if msg := browserText(t, ctx, "#case_number-error"); !strings.Contains(msg, "未找到该申请编号") {
		t.Errorf("unknown number: %q", msg)
	}
	sms := s.newSMS(t, "13800006666", func() {
		browserDo(t, ctx, "获取验证码",
			browserSetValue("#case_number", strings.ToLower(number)),
			chromedp.Click(chromedp.CSS("#lookup-send")),
			chromedp.WaitVisible(chromedp.CSS("#lookup-sent")),
		)
	})
	if got := browserText(t, ctx, "#lookup-sent"); !strings.Contains(got, "验证码已发送至 138****6666") {
		t.Errorf("sent notice %q", got)
	}
	browserDo(t, ctx, "verify",
		chromedp.SendKeys(chromedp.CSS("#lookup_code"), sixDigits.FindStringSubmatch(sms)[1]),
		chromedp.Click(chromedp.CSS("#lookup-verify")),
		chromedp.WaitVisible(chromedp.CSS("#status-view")),
	)
	if got := browserText(t, ctx, "#status-number"); got != number {
		t.Errorf("case number %q, want %q", got, number)
	}
	if got := browserText(t, ctx, "#status-badge"); got != "待审核" {
		t.Errorf("status label %q", got)
	}
	if page := browserText(t, ctx, "#status-timeline"); !strings.Contains(page, "提交审核") {
		t.Errorf("timeline %q", page)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}
