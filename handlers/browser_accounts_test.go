package handlers_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/testenv"
)

// chooseOption picks value in a <select> as a person does: the value changes
// and the page hears a change event.
func chooseOption(selector, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector(` + strconv.Quote(selector) + `);
		s.value = ` + strconv.Quote(value) + `;
		s.dispatchEvent(new Event("change", {bubbles: true}));
	})()`)
}

// bodyText is the visible text of the page.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// TestBrowserRegistersAUnitAndSignsIn is issue 4's walk through a real
// Chromium with JavaScript on: the operator's personal account, the unit's
// details with the cascading region picker, the 完成 step, then 单位登录.
func TestBrowserRegistersAUnitAndSignsIn(t *testing.T) {
	browser := testenv.Browser(t)
	s := newTestServer(t)
	base := s.listen(t)
	if _, err := s.accounts.CreateVerifiedPerson(context.Background(), accounts.PersonRegistration{
		Username: "zhangsan", Password: "Abcd1234!", Name: "张三", IDNumber: "440703199001010180", Phone: "13800138000",
	}); err != nil {
		t.Fatal(err)
	}

	// Step 1: the operator's verified personal account.
	ctx := testenv.Within(t, browser, 60*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/register/unit"),
		chromedp.WaitVisible(chromedp.CSS("#operator_username")),
		chromedp.SendKeys(chromedp.CSS("#operator_username"), "zhangsan"),
		chromedp.SendKeys(chromedp.CSS("#operator_password"), "Abcd1234!"),
		chromedp.Click(chromedp.CSS("#operator-submit")),
		// Step 2 with JavaScript: the grouped select became 省 / 市 / 区县.
		chromedp.WaitVisible(chromedp.CSS("#region-city")),
	); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "张*（zhangsan）") || !strings.Contains(text, "这里填执照上的单位全称") {
		t.Fatalf("step 2 text:\n%s", text)
	}
	province, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#region-province").selectedOptions[0].text`))
	if err != nil || province != "广东省" {
		t.Fatalf("province %q (%v)", province, err)
	}

	// The cascade: 江门市, then its 蓬江区.
	if err := chromedp.Do(ctx,
		chooseOption("#region-city", "4407"),
		chromedp.WaitReady(chromedp.CSS(`#region-county option[value="440703"]`)),
		chooseOption("#region-county", "440703"),
	); err != nil {
		t.Fatal(err)
	}
	code, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`input[type="hidden"][name="region_code"]`)))
	if err != nil || code != "440703" {
		t.Fatalf("region_code %q (%v)", code, err)
	}

	if err := chromedp.Do(ctx,
		chooseOption("#cert_type", "uscc"),
		chromedp.SendKeys(chromedp.CSS("#cert_number"), "91440300708461136T"),
		chromedp.SendKeys(chromedp.CSS("#unit_name"), "江门市人才服务有限公司"),
		chromedp.SendKeys(chromedp.CSS("#username"), "jmrc_2026"),
		chromedp.SendKeys(chromedp.CSS("#password"), "Qwe9!Zxc7"),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), "Qwe9!Zxc7"),
		chromedp.Click(chromedp.CSS("#unit-submit")),
		chromedp.WaitVisible(chromedp.CSS(".done-panel")),
	); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "单位账号注册成功") || !strings.Contains(text, "jmrc_2026") {
		t.Fatalf("完成 step text:\n%s", text)
	}
	unit, err := s.accounts.Login(context.Background(), accounts.Credentials{Kind: "unit", Username: "jmrc_2026", Password: "Qwe9!Zxc7"})
	if err != nil || unit.RegionCode != "440703" || unit.CertNumber != "91440300708461136T" || unit.Phone != "13800138000" {
		t.Fatalf("unit account %+v (%v)", unit, err)
	}

	// 单位登录 as the new unit.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login?kind=unit"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "jmrc_2026"),
		chromedp.SendKeys(chromedp.CSS("#password"), "Qwe9!Zxc7"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#account-title")),
	); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "您好，jmrc_2026") || !strings.Contains(text, "单位账号") {
		t.Fatalf("signed-in page text:\n%s", text)
	}
}

// TestBrowserRegistersAPersonWithTheCodeSentInPlace checks the 获取验证码
// enhancement: with JavaScript the code is sent without a reload, so the
// passwords typed stay, and the button counts down.
func TestBrowserRegistersAPersonWithTheCodeSentInPlace(t *testing.T) {
	browser := testenv.Browser(t)
	s := newTestServer(t)
	base := s.listen(t)

	ctx := testenv.Within(t, browser, 60*time.Second)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/register/person"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "lisi_2026"),
		chromedp.SendKeys(chromedp.CSS("#password"), "Abcd1234!"),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), "Abcd1234!"),
		chromedp.SendKeys(chromedp.CSS("#name"), "李四"),
		chromedp.SendKeys(chromedp.CSS("#id_number"), "440703199001010180"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13812341234"),
		chromedp.Click(chromedp.CSS("#send-code")),
		chromedp.WaitVisible(chromedp.CSS("#sms_code-hint.hint-success")),
	); err != nil {
		t.Fatal(err)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#sms_code-hint")))
	if err != nil || notice != "验证码已发送至 138****1234，5分钟内有效" {
		t.Fatalf("notice %q (%v)", notice, err)
	}
	pw, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#password")))
	if err != nil || pw != "Abcd1234!" {
		t.Fatalf("the password typed was lost: %q (%v)", pw, err)
	}
	label, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#send-code")))
	if err != nil || !strings.Contains(label, "秒后可重新获取") {
		t.Fatalf("no countdown: %q (%v)", label, err)
	}
	code := pagesCode(t, pagesWaitSMS(t, s, "13812341234"))
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#sms_code"), code),
		chromedp.Click(chromedp.CSS("#register-submit")),
		chromedp.WaitVisible(chromedp.CSS(".alert-success")),
	); err != nil {
		t.Fatal(err)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "注册成功，请登录") {
		t.Fatalf("after registering:\n%s", text)
	}
	if _, err := s.accounts.Login(context.Background(), accounts.Credentials{Kind: "person", Username: "lisi_2026", Password: "Abcd1234!"}); err != nil {
		t.Fatalf("the new account cannot sign in: %v", err)
	}
}
