package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/accounts"
)

// pagesClient is a browser without JavaScript for app.Test: it keeps cookies
// and sends back the CSRF token of the last page it read.
type pagesClient struct {
	s    *testServer
	jar  *cookiejar.Jar
	csrf string
}

func newPagesClient(t testing.TB, s *testServer) *pagesClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pagesClient{s: s, jar: jar}
}

func (pc *pagesClient) send(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	site := &url.URL{Scheme: "http", Host: req.Host, Path: req.URL.Path}
	for _, c := range pc.jar.Cookies(site) {
		req.AddCookie(c)
	}
	resp, body := pc.s.do(t, req)
	pc.jar.SetCookies(site, resp.Cookies())
	if m := csrfField.FindStringSubmatch(body); m != nil {
		pc.csrf = m[1]
	}
	return resp, body
}

// get reads a page.
func (pc *pagesClient) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	return pc.send(t, httptest.NewRequest(http.MethodGet, path, nil))
}

// post submits a form with the CSRF token of the last page read.
func (pc *pagesClient) post(t testing.TB, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	if pc.csrf == "" {
		t.Fatal("no CSRF token yet: get the page first")
	}
	form.Set("_csrf", pc.csrf)
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return pc.send(t, req)
}

// follow reads where a redirect leads, checking it is a 303 to want.
func (pc *pagesClient) follow(t testing.TB, resp *http.Response, body, want string) string {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		t.Fatalf("want 303 to %s, got %d to %q\n%s", want, resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, page := pc.get(t, want)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", want, resp.StatusCode)
	}
	return page
}

// fieldError is the message shown beside a field, or "".
func fieldError(body, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(field) + `-error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// pagesPerson creates a verified person account directly through the service.
func pagesPerson(t testing.TB, s *testServer, username, password, name, id, phone string) {
	t.Helper()
	if _, err := s.accounts.CreateVerifiedPerson(context.Background(), accounts.PersonRegistration{
		Username: username, Password: password, Name: name, IDNumber: id, Phone: phone,
	}); err != nil {
		t.Fatalf("create person %s: %v", username, err)
	}
}

// zhangSanBrowsing is a server where 张三 (zhangsan, Abcd1234!, phone
// 13800138000) has a verified account, and a browser without JavaScript on
// its pages.
func zhangSanBrowsing(t testing.TB) (*testServer, *pagesClient) {
	t.Helper()
	s := newTestServer(t)
	pagesPerson(t, s, "zhangsan", "Abcd1234!", "张三", "440703199001010180", "13800138000")
	return s, newPagesClient(t, s)
}

func TestPagesPostWithoutCSRFIsRefused(t *testing.T) {
	s := newTestServer(t)
	for _, path := range []string{"/register/person", "/register/unit/operator", "/register/unit", "/login", "/logout", "/password/change", "/account/recover"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader("username=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := s.do(t, req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: %d", path, resp.StatusCode)
		}
	}
}

func TestRegisterPersonPageReshowsEveryFieldErrorAndTheTypedValues(t *testing.T) {
	s := newTestServer(t)
	pc := newPagesClient(t, s)
	resp, body := pc.get(t, "/register/person")
	if resp.StatusCode != 200 || !strings.Contains(body, "操作指引") || !strings.Contains(body, "登录账号应为5-20位，可以使用大小写字母、数字和下划线，且应该以字母开始") {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	resp, body = pc.post(t, "/register/person", url.Values{
		"action": {"register"}, "username": {"9lives"}, "password": {"Secret-Pa55word"}, "password_confirm": {"Secret-Pa55werd"},
		"name": {"张三"}, "id_number": {"440703199001010181"}, "phone": {"1380013800"}, "sms_code": {"123456"},
	})
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for field, want := range map[string]string{
		"username":         "登录账号应该以字母开始",
		"id_number":        "校验",
		"phone":            "请输入正确的11位手机号码",
		"password_confirm": "两次输入的密码不一致",
	} {
		if got := fieldError(body, field); !strings.Contains(got, want) {
			t.Errorf("%s: error %q, want %q", field, got, want)
		}
	}
	for _, typed := range []string{`value="9lives"`, `value="张三"`, `value="440703199001010181"`, `value="1380013800"`, `value="123456"`} {
		if !strings.Contains(body, typed) {
			t.Errorf("typed value %s not re-shown", typed)
		}
	}
	if strings.Contains(body, "Secret-Pa55") {
		t.Error("a password was re-shown")
	}
	// Nothing was created.
	if n := s.db.Ent.Account.Query().CountX(context.Background()); n != 0 {
		t.Fatalf("%d accounts after a refused form", n)
	}
}

func TestRegisterPersonPageSendsTheCodeAndRegisters(t *testing.T) {
	s := newTestServer(t)
	pc := newPagesClient(t, s)
	pc.get(t, "/register/person")
	form := url.Values{"username": {"lisi_2026"}, "password": {"Abcd1234!"}, "password_confirm": {"Abcd1234!"},
		"name": {"李四"}, "id_number": {"440703199001010180"}, "phone": {"13812341234"}}

	form.Set("action", "send_code")
	resp, body := pc.post(t, "/register/person", form)
	if resp.StatusCode != 200 || !strings.Contains(body, "验证码已发送至 138****1234，5分钟内有效") {
		t.Fatalf("send code: %d\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `value="lisi_2026"`) || !strings.Contains(body, `value="13812341234"`) || strings.Contains(body, "Abcd1234!") {
		t.Error("the form did not keep what was typed, or re-showed the password")
	}
	// A second send within 60 s is refused beside the code field.
	resp, body = pc.post(t, "/register/person", form)
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(fieldError(body, "sms_code"), "操作过于频繁") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second send: %d %q", resp.StatusCode, fieldError(body, "sms_code"))
	}
	code := pagesCode(t, pagesWaitSMS(t, s, "13812341234"))

	// A mistyped code keeps the passwords typed (everything else was fine).
	form.Set("action", "register")
	form.Set("sms_code", wrongCode(code))
	resp, body = pc.post(t, "/register/person", form)
	if resp.StatusCode != 422 || fieldError(body, "sms_code") == "" ||
		strings.Count(body, `type="password" value="Abcd1234!"`) != 2 {
		t.Fatalf("wrong code: %d %q; passwords kept: %d", resp.StatusCode, fieldError(body, "sms_code"), strings.Count(body, `value="Abcd1234!"`))
	}
	form.Set("sms_code", code)
	resp, body = pc.post(t, "/register/person", form)
	// The login page that follows has the new username filled in.
	page := pc.follow(t, resp, body, "/login?kind=person&registered=1&username=lisi_2026")
	if !strings.Contains(page, "注册成功，请登录") || !strings.Contains(page, `id="username" name="username" type="text" value="lisi_2026"`) {
		t.Fatal("no 注册成功，请登录 and the username after registering")
	}
}

// pagesCode is the 6-digit code in an SMS text.
func pagesCode(t testing.TB, sms string) string {
	t.Helper()
	m := regexp.MustCompile(`\d{6}`).FindString(sms)
	if m == "" {
		t.Fatalf("no code in %q", sms)
	}
	return m
}

// pagesWaitSMS waits for the newest SMS to phone.
func pagesWaitSMS(t testing.TB, s *testServer, phone string) string {
	t.Helper()
	for i := 0; i < 300; i++ {
		msgs, err := s.outbox.Messages(context.Background(), phone, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			return msgs[0].Text
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("no SMS to %s", phone)
	return ""
}

func TestRegisterUnitStep1WrongPasswordShowsAttemptsLeft(t *testing.T) {
	_, pc := zhangSanBrowsing(t)
	_, body := pc.get(t, "/register/unit")
	if !strings.Contains(body, "单位所属实名人员信息") || !strings.Contains(body, "操作指引") {
		t.Fatal("step 1 not shown")
	}
	resp, body := pc.post(t, "/register/unit/operator", url.Values{"operator_username": {"zhangsan"}, "operator_password": {"Wrong1234!"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := fieldError(body, "operator_password"); got != "用户名或密码错误，再错误4次账号将被锁定1小时" {
		t.Fatalf("operator_password error %q", got)
	}
	if !strings.Contains(body, `value="zhangsan"`) || strings.Contains(body, "Wrong1234!") {
		t.Error("typed username not kept, or password re-shown")
	}
	// Still step 1: the unit form is not reachable.
	if _, body = pc.get(t, "/register/unit"); strings.Contains(body, `name="cert_number"`) {
		t.Fatal("step 2 shown without a verified operator")
	}
	resp, _ = pc.post(t, "/register/unit", url.Values{"cert_type": {"uscc"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("step 2 post without operator: %d", resp.StatusCode)
	}
}

func TestRegisterUnitPagesWithoutJavaScript(t *testing.T) {
	_, pc := zhangSanBrowsing(t)
	pc.get(t, "/register/unit")
	resp, body := pc.post(t, "/register/unit/operator", url.Values{"operator_username": {"zhangsan"}, "operator_password": {"Abcd1234!"}})
	step2 := pc.follow(t, resp, body, "/register/unit")
	for _, want := range []string{"张*（zhangsan）", `<optgroup label="江门市">`, `<option value="440703">蓬江区</option>`,
		`<option value="4419">东莞市</option>`, "广东省", "这里填执照上的号码", "这里填执照上的单位全称"} {
		if !strings.Contains(step2, want) {
			t.Errorf("step 2 lacks %q", want)
		}
	}
	unit := url.Values{"cert_type": {"uscc"}, "cert_number": {"91440300708461136T"}, "unit_name": {"江门市人才服务有限公司"},
		"region_code": {"440703"}, "username": {"jmrc_2026"}, "password": {"Qwe9!Zxc7"}, "password_confirm": {"Qwe9!Zxc8"}}
	resp, body = pc.post(t, "/register/unit", unit)
	if resp.StatusCode != 422 || fieldError(body, "password_confirm") != "两次输入的密码不一致" || !strings.Contains(body, `<option value="440703" selected>`) {
		t.Fatalf("mismatch: %d %q", resp.StatusCode, fieldError(body, "password_confirm"))
	}
	unit.Set("password_confirm", "Qwe9!Zxc7")
	resp, body = pc.post(t, "/register/unit", unit)
	done := pc.follow(t, resp, body, "/register/unit/done")
	if !strings.Contains(done, "单位账号注册成功") || !strings.Contains(done, "jmrc_2026") {
		t.Fatal("no 完成 step")
	}
	// The same certificate again: the live system's message beside 证件号码.
	resp, body = pc.post(t, "/register/unit/operator", url.Values{"operator_username": {"zhangsan"}, "operator_password": {"Abcd1234!"}})
	pc.follow(t, resp, body, "/register/unit")
	unit.Set("username", "jmrc_other")
	resp, body = pc.post(t, "/register/unit", unit)
	if resp.StatusCode != http.StatusConflict ||
		!regexp.MustCompile(`^单位证件号码已被使用\[[0-9a-f-]{36}\]$`).MatchString(fieldError(body, "cert_number")) {
		t.Fatalf("duplicate: %d %q", resp.StatusCode, fieldError(body, "cert_number"))
	}
}

func TestLoginPageShowsTheWarningAndBothTabs(t *testing.T) {
	s := newTestServer(t)
	pc := newPagesClient(t, s)
	for kind, tab := range map[string]string{"person": "个人登录", "unit": "单位登录"} {
		resp, body := pc.get(t, "/login?kind="+kind)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		for _, want := range []string{
			"请谨慎输入用户名和密码，密码连续错误5次后账号将被锁定1小时!",
			`href="/login?kind=person"`, `href="/login?kind=unit"`,
			`href="/login?kind=` + kind + `" aria-current="page">` + tab,
			`<input type="hidden" name="kind" value="` + kind + `">`,
			`placeholder="请输入登录账号"`, `placeholder="请输入密码"`,
			`href="/recover">点击此处找回账号密码`, `href="/account/recover"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("login %s lacks %q", kind, want)
			}
		}
	}
}

func TestLoginPageSignsInAndOut(t *testing.T) {
	_, pc := zhangSanBrowsing(t)
	if resp, _ := pc.get(t, "/account"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("account page signed out: %d", resp.StatusCode)
	}
	pc.get(t, "/login")
	resp, body := pc.post(t, "/login", url.Values{"kind": {"person"}, "username": {"zhangsan"}, "password": {"Wrong1234!"}})
	if resp.StatusCode != 401 || !strings.Contains(body, "用户名或密码错误，再错误4次账号将被锁定1小时") || !strings.Contains(body, `value="zhangsan"`) {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// The unit tab does not sign a person in: with the right password it
	// names the right tab instead.
	resp, body = pc.post(t, "/login", url.Values{"kind": {"unit"}, "username": {"zhangsan"}, "password": {"Abcd1234!"}})
	if resp.StatusCode != 409 || !strings.Contains(body, "该账号为个人账号，请在“个人登录”中登录") {
		t.Fatalf("person via the unit tab: %d", resp.StatusCode)
	}
	if resp, _ := pc.get(t, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed in through the wrong tab: %d", resp.StatusCode)
	}
	resp, body = pc.post(t, "/login", url.Values{"kind": {"person"}, "username": {"zhangsan"}, "password": {"Abcd1234!"}})
	page := pc.follow(t, resp, body, "/account")
	for _, want := range []string{"您好，zhangsan", "个人账号", "最近登录时间", `href="/password/change?kind=person"`, `action="/logout"`} {
		if !strings.Contains(page, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	resp, body = pc.post(t, "/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if resp, _ := pc.get(t, "/account"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("account page after logout: %d", resp.StatusCode)
	}
}

func TestLoginPageShowsTheLockout(t *testing.T) {
	_, pc := zhangSanBrowsing(t)
	pc.get(t, "/login")
	var resp *http.Response
	var body string
	for i := 0; i < 5; i++ {
		resp, body = pc.post(t, "/login", url.Values{"kind": {"person"}, "username": {"zhangsan"}, "password": {"Wrong1234!"}})
	}
	if resp.StatusCode != http.StatusLocked || !strings.Contains(body, "账号已被锁定，请于") {
		t.Fatalf("5th failure: %d", resp.StatusCode)
	}
}

func TestPasswordChangePageListsEveryViolation(t *testing.T) {
	s, pc := zhangSanBrowsing(t)
	_, body := pc.get(t, "/password/change")
	if !strings.Contains(body, `name="kind" value="person" checked`) {
		t.Fatal("person not preselected")
	}
	resp, body := pc.post(t, "/password/change", url.Values{"kind": {"person"}, "username": {"zhangsan"},
		"old_password": {"Abcd1234!"}, "new_password": {"zhangsan1"}, "new_password_confirm": {"zhangsan1"}})
	if resp.StatusCode != 422 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := fieldError(body, "new_password")
	for _, want := range []string{"密码必须包含大写字母、小写字母、数字、符号中的至少3种", "密码不能包含用户名"} {
		if !strings.Contains(got, want) {
			t.Errorf("new_password error %q lacks %q", got, want)
		}
	}
	if !strings.Contains(body, `value="zhangsan"`) || strings.Contains(body, "Abcd1234!") {
		t.Error("username not kept, or a password re-shown")
	}
	// A mismatch lists the policy too, and changes nothing.
	resp, body = pc.post(t, "/password/change", url.Values{"kind": {"person"}, "username": {"zhangsan"},
		"old_password": {"Abcd1234!"}, "new_password": {"short"}, "new_password_confirm": {"other"}})
	if resp.StatusCode != 422 || !strings.Contains(fieldError(body, "new_password"), "密码应为8-30位") || fieldError(body, "new_password_confirm") != "两次输入的密码不一致" {
		t.Fatalf("mismatch: %d %q %q", resp.StatusCode, fieldError(body, "new_password"), fieldError(body, "new_password_confirm"))
	}
	// A wrong old password counts toward the lockout, beside 原密码.
	_, body = pc.post(t, "/password/change", url.Values{"kind": {"person"}, "username": {"zhangsan"},
		"old_password": {"Wrong1234!"}, "new_password": {"Efgh5678?"}, "new_password_confirm": {"Efgh5678?"}})
	if got := fieldError(body, "old_password"); got != "用户名或密码错误，再错误4次账号将被锁定1小时" {
		t.Fatalf("old_password error %q", got)
	}
	resp, body = pc.post(t, "/password/change", url.Values{"kind": {"person"}, "username": {"zhangsan"},
		"old_password": {"Abcd1234!"}, "new_password": {"Efgh5678?"}, "new_password_confirm": {"Efgh5678?"}})
	if page := pc.follow(t, resp, body, "/password/change?done=1&kind=person"); !strings.Contains(page, "密码修改成功，请使用新密码登录") {
		t.Fatal("no confirmation")
	}
	if _, err := s.accounts.Login(context.Background(), accounts.Credentials{Kind: "person", Username: "zhangsan", Password: "Efgh5678?"}); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestAccountRecoverPageShowsTheMaskedPhoneOnly(t *testing.T) {
	s := newTestServer(t)
	pagesPerson(t, s, "zhangsan", "Abcd1234!", "张三", "440703199001010180", "13812341234")
	pc := newPagesClient(t, s)
	_, body := pc.get(t, "/account/recover")
	if !strings.Contains(body, `href="/account/recover?kind=person" aria-current="page">个人`) || !strings.Contains(body, `href="/account/recover?kind=unit"`) {
		t.Fatal("tabs missing")
	}
	resp, body := pc.post(t, "/account/recover", url.Values{"kind": {"person"}, "name": {"李四"}, "id_number": {"440703199001010180"}})
	if resp.StatusCode != 404 || !strings.Contains(body, "未找到与所填信息相符的账号") || !strings.Contains(body, `value="李四"`) {
		t.Fatalf("wrong name: %d", resp.StatusCode)
	}
	resp, body = pc.post(t, "/account/recover", url.Values{"kind": {"person"}, "name": {"张三"}, "id_number": {"440703199001010180"}})
	page := pc.follow(t, resp, body, "/account/recover?kind=person")
	if !strings.Contains(page, "登录账号已通过短信发送至 138****1234") {
		t.Fatal("masked phone not shown")
	}
	if strings.Contains(page, "zhangsan") || strings.Contains(page, "13812341234") {
		t.Fatal("the page disclosed the username or the full phone")
	}
	if sms := pagesWaitSMS(t, s, "13812341234"); !strings.Contains(sms, "zhangsan") {
		t.Fatalf("SMS %q lacks the username", sms)
	}
	// Shown once: a reload is the empty form again.
	if _, page = pc.get(t, "/account/recover?kind=person"); strings.Contains(page, "138****1234") {
		t.Fatal("the confirmation was shown twice")
	}
	resp, body = pc.post(t, "/account/recover", url.Values{"kind": {"unit"}, "cert_type": {"uscc"}, "cert_number": {"91440300708461130"}, "unit_name": {"x"}})
	if resp.StatusCode != 422 || fieldError(body, "cert_number") == "" || fieldError(body, "unit_name") == "" {
		t.Fatalf("unit form errors: %d %q %q", resp.StatusCode, fieldError(body, "cert_number"), fieldError(body, "unit_name"))
	}
}

func TestRegisterUnitOperatorVerificationLapsesAfter30Minutes(t *testing.T) {
	s, pc := zhangSanBrowsing(t)
	pc.get(t, "/register/unit")
	resp, body := pc.post(t, "/register/unit/operator", url.Values{"operator_username": {"zhangsan"}, "operator_password": {"Abcd1234!"}})
	pc.follow(t, resp, body, "/register/unit")
	s.clock.Advance(31 * time.Minute)
	_, body = pc.get(t, "/register/unit")
	if !strings.Contains(body, "经办人身份验证已超过30分钟，请重新验证") || !strings.Contains(body, `name="operator_username"`) {
		t.Fatal("a lapsed operator verification still shows step 2")
	}
	resp, body = pc.post(t, "/register/unit", url.Values{"cert_type": {"uscc"}, "cert_number": {"91440300708461136T"},
		"unit_name": {"江门市人才服务有限公司"}, "region_code": {"440703"}, "username": {"jmrc_2026"}, "password": {"Qwe9!Zxc7"}, "password_confirm": {"Qwe9!Zxc7"}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "经办人身份验证已失效") {
		t.Fatalf("step 2 after 31 minutes: %d", resp.StatusCode)
	}
	if n := s.db.Ent.Account.Query().CountX(context.Background()); n != 1 {
		t.Fatalf("%d accounts", n)
	}
}

func TestAPasswordChangeEndsEarlierSessions(t *testing.T) {
	s := newTestServer(t)
	pagesPerson(t, s, "zhang_san", "Abcd2468!x", "张三", zhangID, "13800005555")
	pc := newPagesClient(t, s)
	pc.get(t, "/login?kind=person")
	resp, _ := pc.post(t, "/login", url.Values{"kind": {"person"}, "username": {"zhang_san"}, "password": {"Abcd2468!x"}})
	if resp.StatusCode != 303 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if resp, _ := pc.get(t, "/account"); resp.StatusCode != 200 {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	s.clock.Advance(time.Minute)
	resp, body := s.postJSON(t, "/api/v1/password", jsonBody(t, map[string]string{"kind": "person", "username": "zhang_san",
		"old_password": "Abcd2468!x", "new_password": "Good#Pass2468"}))
	if resp.StatusCode != 204 {
		t.Fatalf("change: %d %s", resp.StatusCode, body)
	}
	if resp, _ := pc.get(t, "/account"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/login" {
		t.Fatalf("the old session survived the password change: %d", resp.StatusCode)
	}
}
