package handlers_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/testenv"
)

// listen serves the app on a loopback port for a real browser.
func (s *testServer) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.app.Listener(ln)
	t.Cleanup(func() { s.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestBrowserShowsTheChinesePages(t *testing.T) {
	browser := testenv.Browser(t)
	s := newTestServer(t)
	base := s.listen(t)

	ctx := testenv.Within(t, browser, 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "广东人社统一认证系统") {
		t.Errorf("home title %q", title)
	}
	for _, want := range []string{"个人注册", "单位注册", "密码修改", "密码找回", "账号找回", "登录"} {
		if !strings.Contains(text, want) {
			t.Errorf("visible home text lacks %q", want)
		}
	}
	// The stylesheet loaded under the strict CSP: the body font is ours, not
	// the browser default.
	font, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).fontFamily`))
	if err != nil || !strings.Contains(font, "PingFang SC") {
		t.Errorf("stylesheet not applied: font-family %q (%v)", font, err)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/login"), chromedp.WaitVisible(chromedp.CSS("#username"))); err != nil {
		t.Fatal(err)
	}
	text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"审核台登录", "用户名", "密码", "密码连续错误5次后账号将被锁定1小时"} {
		if !strings.Contains(text, want) {
			t.Errorf("visible console login text lacks %q", want)
		}
	}
}
