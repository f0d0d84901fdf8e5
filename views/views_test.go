package views

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Page, StaffView and ErrorView are test-only copies of the view models the
// handlers package passes to every template; keep them in step with it.
type Page struct {
	Title     string
	Nav       string
	RequestID string
	CSRFToken string
	Staff     *StaffView
	Flash     string
	Error     string
	Form      map[string]string
	Fields    map[string]string
	Data      any
}

type StaffView struct {
	Username, Name string
	Roles          []string
	Nav            []NavLink
	Duty           string // vocab.Duty, "" for who is not assigned cases
	Paused         bool
}

// NavLink is one console navigation entry (handlers.navLink).
type NavLink struct{ Key, Path, Label string }

type ErrorView struct {
	Status         int
	Title, Message string
}

const token = "tok-3f9a_csrf"

// render renders one page inside a layout, as Fiber's c.Render does.
func render(t *testing.T, name, layout string, p Page) string {
	t.Helper()
	e := Engine()
	if err := e.Load(); err != nil {
		t.Fatalf("load templates: %v", err)
	}
	var buf bytes.Buffer
	if err := e.Render(&buf, name, p, layout); err != nil {
		t.Fatalf("render %s in %s: %v", name, layout, err)
	}
	out := buf.String()
	assertNoInlineCode(t, name+" (rendered)", out)
	assertNotContains(t, name+" (rendered)", out, "<nil>", "<no value>", "%!", "ZgotmplZ")
	return out
}

func assertContains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func assertNotContains(t *testing.T, what, out string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(out, b) {
			t.Errorf("%s: unexpected %q", what, b)
		}
	}
}

var (
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
	styleElem    = regexp.MustCompile(`(?i)<style[\s>]`)
	inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`)
	eventAttr    = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	jsURL        = regexp.MustCompile(`(?i)javascript:`)
	externalURL  = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
)

// assertNoInlineCode enforces what the Content-Security-Policy would
// otherwise break silently: no inline styles or scripts, no event handler
// attributes, and no request to another origin.
func assertNoInlineCode(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range []struct {
		re   *regexp.Regexp
		desc string
	}{
		{styleAttr, "style= attribute"},
		{styleElem, "<style> element"},
		{inlineScript, "inline <script> body"},
		{eventAttr, "inline event handler attribute"},
		{jsURL, "javascript: URL"},
	} {
		if loc := c.re.FindStringIndex(s); loc != nil {
			t.Errorf("%s: %s at %q", what, c.desc, excerpt(s, loc[0]))
		}
	}
	if strings.Contains(s, "http://") || strings.Contains(s, "https://") {
		i := strings.Index(s, "http")
		t.Errorf("%s: absolute URL at %q", what, excerpt(s, i))
	}
	if loc := externalURL.FindStringIndex(s); loc != nil {
		t.Errorf("%s: protocol-relative or absolute URL at %q", what, excerpt(s, loc[0]))
	}
}

func excerpt(s string, i int) string {
	lo, hi := max(0, i-30), min(len(s), i+50)
	return s[lo:hi]
}

func TestTemplateNames(t *testing.T) {
	e := Engine()
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"layouts/base", "layouts/console",
		"public/home", "console/login", "errors/error",
		"partials/header", "partials/footer", "partials/flash", "partials/form_error",
		"partials/csrf", "partials/field_error", "partials/steps", "partials/guide",
		"public/register_person", "public/register_unit", "public/login", "public/account",
		"public/password_change", "public/account_recover",
		"console/cases", "console/case",
	} {
		if e.Templates.Lookup(name) == nil {
			t.Errorf("template %q not found; have %s", name, e.Templates.DefinedTemplates())
		}
	}
}

func TestHome(t *testing.T) {
	out := render(t, "public/home", "layouts/base", Page{Title: "首页", Nav: "home", CSRFToken: token, RequestID: "req-1"})
	assertContains(t, "home", out,
		`<html lang="zh-CN">`,
		`<meta name="viewport" content="width=device-width, initial-scale=1">`,
		`<meta name="csrf-token" content="`+token+`">`,
		`<link rel="stylesheet" href="/static/css/base.css">
<link rel="stylesheet" href="/static/css/public.css">
<link rel="stylesheet" href="/static/css/wizard.css">`,
		"<title>首页 - 广东人社统一认证系统</title>",
		"广东人社统一认证系统",
		`href="/register/person"`, "个人注册",
		`href="/register/unit"`, "单位注册",
		`href="/password/change"`, "密码修改",
		`href="/recover"`, "密码找回",
		`href="/account/recover"`, "账号找回",
		`href="/login"`, "登录",
		"按提示填写信息并上传材料，后台人员审核（1-2 个工作日），审核通过后新密码以短信通知，接收短信 4 小时后新密码生效",
		"个人注册、单位注册有什么区别？",
		"提示“证件号已存在”怎么办？",
		"提示“手机号已被占用”怎么办？",
		"密码连续错误5次后账号将被锁定1小时",
		"温馨提示：如有疑问可致电",
		"3873738",
		"个人注册指引", "单位注册指引", "单位授权个人指引", "常见问题知识库",
	)
	assertNotContains(t, "home", out, `aria-current="page"`)
}

func TestPublicNavHighlight(t *testing.T) {
	for nav, href := range map[string]string{
		"register_person": "/register/person",
		"register_unit":   "/register/unit",
		"password_change": "/password/change",
		"recover":         "/recover",
		"account_recover": "/account/recover",
		"login":           "/login",
	} {
		out := render(t, "public/home", "layouts/base", Page{Nav: nav})
		if n := strings.Count(out, `aria-current="page"`); n != 1 {
			t.Errorf("nav %s: %d items marked current, want 1", nav, n)
		}
		if !regexp.MustCompile(`href="` + regexp.QuoteMeta(href) + `"[^>]*aria-current="page"`).MatchString(out) {
			t.Errorf("nav %s: %s not marked current", nav, href)
		}
	}
}

func TestFlashAndEscaping(t *testing.T) {
	out := render(t, "public/home", "layouts/base", Page{Flash: `已提交<script>x</script>`})
	assertContains(t, "flash", out, "已提交&lt;script&gt;x&lt;/script&gt;", "alert-success")
	assertNotContains(t, "flash", out, "<script>x")
}

func TestConsoleLogin(t *testing.T) {
	out := render(t, "console/login", "layouts/console", Page{
		Title:     "审核台登录",
		CSRFToken: token,
		Error:     "用户名或密码错误，还可尝试 3 次",
		Form:      map[string]string{"username": `zhang"san`},
		Fields:    map[string]string{"otp": "动态口令不正确"},
	})
	assertContains(t, "console login", out,
		`<html lang="zh-CN">`,
		`<meta name="csrf-token" content="`+token+`">`,
		"<title>审核台登录 - 密码找回审核台 - 广东人社统一认证系统</title>",
		"密码找回审核台", "recoverydesk",
		"<h1 id=\"login-title\">审核台登录</h1>",
		`method="post" action="/console/login"`,
		`<input type="hidden" name="_csrf" value="`+token+`">`,
		`name="username"`, `name="password"`, `name="otp"`,
		"动态口令（如已启用）",
		"密码连续错误5次后账号将被锁定1小时",
		"用户名或密码错误，还可尝试 3 次",
		`value="zhang&#34;san"`,
		`<p class="field-error" id="otp-error">动态口令不正确</p>`,
		`aria-describedby="otp-error"`,
	)
	// Signed out: no staff navigation and no sign-out form.
	assertNotContains(t, "console login", out, "/console/logout", "审核队列")
	// The password is never re-shown.
	if regexp.MustCompile(`name="password"[^>]*value=`).MatchString(out) {
		t.Error("password field has a value attribute")
	}
}

func TestConsoleFrameSignedIn(t *testing.T) {
	out := render(t, "console/login", "layouts/console", Page{
		Nav:       "cases",
		CSRFToken: token,
		RequestID: "req-42",
		Staff: &StaffView{Username: "lihua", Name: "李华", Roles: []string{"reviewer", "supervisor"}, Nav: []NavLink{
			{"cases", "/console/cases", "审核队列"}, {"audit", "/console/audit", "审计日志"},
			{"dashboard", "/console/dashboard", "统计看板"}, {"staff", "/console/staff", "人员管理"}},
			Duty: "on_duty"},
	})
	assertContains(t, "console frame", out,
		"李华", "lihua", "审核员", "主管",
		// a reviewer on duty sees their state and can pause
		`<form class="console-duty" method="post" action="/console/duty">`, `id="duty-state">接单中</span>`,
		`<input type="hidden" name="paused" value="1"><button type="submit" class="btn btn-ghost btn-sm" id="duty-toggle">暂停接单</button>`,
		`<form class="console-logout" method="post" action="/console/logout">`,
		`<input type="hidden" name="_csrf" value="`+token+`">`,
		`href="/console/cases" aria-current="page">审核队列`,
		`href="/console/audit">审计日志`,
		`href="/console/dashboard">统计看板`,
		`href="/console/staff">人员管理`,
		"请求编号：req-42",
	)
	if n := strings.Count(out, `aria-current="page"`); n != 1 {
		t.Errorf("%d console nav items marked current, want 1", n)
	}
}

func TestErrorPage(t *testing.T) {
	out := render(t, "errors/error", "layouts/base", Page{
		Title:     "页面不存在",
		RequestID: "0b7e1c2a-5f",
		Data:      ErrorView{Status: 404, Title: "页面不存在", Message: "您访问的页面不存在或已被移除。"},
	})
	assertContains(t, "error page", out,
		"<title>页面不存在 - 广东人社统一认证系统</title>",
		"404", "页面不存在", "您访问的页面不存在或已被移除。",
		"请求编号：<code>0b7e1c2a-5f</code>，如需帮助请致电",
		"3873738",
		"并提供此编号",
		`href="/"`,
	)

	// A 500 with console layout and no Data still renders.
	out = render(t, "errors/error", "layouts/console", Page{RequestID: "r-9"})
	assertContains(t, "error page without data", out, "出错了", "r-9")
}

func TestStepsPartial(t *testing.T) {
	e := Engine()
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 4; step++ {
		var buf bytes.Buffer
		if err := e.Templates.ExecuteTemplate(&buf, "partials/steps", step); err != nil {
			t.Fatalf("steps %d: %v", step, err)
		}
		out := buf.String()
		assertContains(t, "steps", out, "填写信息", "身份验证", "上传证件照", "完成")
		if n := strings.Count(out, `aria-current="step"`); n != 1 {
			t.Errorf("step %d: %d items current", step, n)
		}
		if n := strings.Count(out, `class="done"`); n != step-1 {
			t.Errorf("step %d: %d items done, want %d", step, n, step-1)
		}
	}
}

func TestFieldErrorPartial(t *testing.T) {
	e := Engine()
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err := e.Templates.ExecuteTemplate(&buf, "partials/field_error",
		map[string]any{"Name": "cert_number", "Fields": map[string]string{"cert_number": "证件号码<校验位>不正确"}})
	if err != nil {
		t.Fatal(err)
	}
	assertContains(t, "field error", buf.String(), `<p class="field-error" id="cert_number-error">证件号码&lt;校验位&gt;不正确</p>`)

	buf.Reset()
	if err := e.Templates.ExecuteTemplate(&buf, "partials/field_error",
		map[string]any{"Name": "x", "Fields": map[string]string(nil)}); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(buf.String()) != "" {
		t.Errorf("field error without message rendered %q", buf.String())
	}
}

func TestCST(t *testing.T) {
	utc := time.Date(2025, 9, 30, 16, 5, 0, 0, time.UTC) // 1 Oct 00:05 in Shanghai
	ny, _ := time.Parse(time.RFC3339, "2026-03-14T21:30:00-04:00")
	var none *time.Time
	for _, c := range []struct {
		in        any
		cst, date string
	}{
		{utc, "2025-10-01 00:05", "2025-10-01"},
		{&utc, "2025-10-01 00:05", "2025-10-01"},
		{utc.In(time.FixedZone("X", -7*3600)), "2025-10-01 00:05", "2025-10-01"},
		{ny, "2026-03-15 09:30", "2026-03-15"},
		{"2025-10-09T06:07:00Z", "2025-10-09 14:07", "2025-10-09"},
		{"2025-10-10", "2025-10-10", "2025-10-10"}, // a date stays as it is
		{none, "", ""},
		{nil, "", ""},
		{time.Time{}, "", ""},
		{42, "", ""},
	} {
		if got := cst(c.in); got != c.cst {
			t.Errorf("cst(%v) = %q, want %q", c.in, got, c.cst)
		}
		if got := cstdate(c.in); got != c.date {
			t.Errorf("cstdate(%v) = %q, want %q", c.in, got, c.date)
		}
	}

	// Through the engine, as templates call them.
	e := Engine()
	tmpl := `{{cst .T}}|{{cst .P}}|{{cstdate .P}}|{{cst .N}}`
	if err := e.Load(); err != nil {
		t.Fatal(err)
	}
	parsed, err := e.Templates.New("cst-test").Parse(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := parsed.Execute(&buf, map[string]any{"T": utc, "P": &utc, "N": none}); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "2025-10-01 00:05|2025-10-01 00:05|2025-10-01|" {
		t.Errorf("engine: %q", got)
	}
}

func TestDict(t *testing.T) {
	if _, err := dict("a"); err == nil {
		t.Error("odd arguments accepted")
	}
	if _, err := dict(1, 2); err == nil {
		t.Error("non-string key accepted")
	}
	m, err := dict("a", 1, "b", "x")
	if err != nil || m["a"] != 1 || m["b"] != "x" {
		t.Errorf("dict = %v, %v", m, err)
	}
}

// TestSourcesAreSelfContained checks every template, stylesheet and script
// for inline code and external references, and every /static/ reference for
// a file that exists.
func TestSourcesAreSelfContained(t *testing.T) {
	staticRef := regexp.MustCompile(`/static/[A-Za-z0-9_./-]+`)
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		switch path.Ext(p) {
		case ".html", ".css", ".js":
			assertNoInlineCode(t, p, s)
			if strings.Contains(s, "@import") || strings.Contains(s, "@font-face") {
				t.Errorf("%s: @import or @font-face", p)
			}
			for _, ref := range staticRef.FindAllString(s, -1) {
				if _, err := fs.Stat(FS, strings.TrimPrefix(ref, "/")); err != nil {
					t.Errorf("%s: %s does not exist", p, ref)
				}
			}
		case ".svg":
			// A stand-alone SVG needs its namespace; nothing else may point outside.
			rest := strings.ReplaceAll(s, `xmlns="http://www.w3.org/2000/svg"`, "")
			if strings.Contains(rest, "http") || strings.Contains(strings.ToLower(rest), "<script") || styleElem.MatchString(rest) {
				t.Errorf("%s: external reference, script or style", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// View data of the applicant account pages: test-only copies of the structs
// in handlers/pages_*.go; keep them in step.
type (
	registerPersonView struct{ CodeNotice string }
	region             struct {
		Code, Name string
		Level      int
	}
	regionGroup struct {
		City    region
		Options []region
	}
	registerUnitView struct {
		Step     int
		Operator string
		Regions  []regionGroup
		Username string
	}
	loginView   struct{ Kind string }
	accountView struct {
		Username, Kind, KindLabel, LastLogin string
	}
	passwordChangeView struct {
		Kind string
		Done bool
	}
	accountRecoverView struct{ Kind, SentTo string }
)

// assertFieldError checks that a field shows its message beside it and is
// marked invalid for assistive technology.
func assertFieldError(t *testing.T, what, out, field, msg string) {
	t.Helper()
	assertContains(t, what, out, `<p class="field-error" id="`+field+`-error">`+msg)
	re := regexp.MustCompile(`<(input|select)[^>]*id="` + regexp.QuoteMeta(field) + `"[^>]*aria-invalid="true"`)
	if !re.MatchString(out) {
		t.Errorf("%s: %s not marked aria-invalid", what, field)
	}
}

// assertNoPasswordValue checks that no password field is re-filled.
func assertNoPasswordValue(t *testing.T, what, out string) {
	t.Helper()
	if regexp.MustCompile(`type="password"[^>]*value=`).MatchString(out) {
		t.Errorf("%s: a password field has a value attribute", what)
	}
}

func TestRegisterPersonPage(t *testing.T) {
	out := render(t, "public/register_person", "layouts/base", Page{
		Title: "个人注册", Nav: "register_person", CSRFToken: token,
		Error:  "有 2 处填写内容需要修改，请按标红的提示修改后重新提交",
		Form:   map[string]string{"username": `li"si`, "name": "李四", "id_number": "440703199001010180", "phone": "13800138000"},
		Fields: map[string]string{"username": "登录账号应该以字母开始", "password_confirm": "两次输入的密码不一致"},
		Data:   registerPersonView{CodeNotice: "验证码已发送至 138****8000，5分钟内有效"},
	})
	assertContains(t, "register person", out,
		"<title>个人注册 - 广东人社统一认证系统</title>",
		`href="/register/person" aria-current="page">个人注册`,
		"实名信息注册", "用户名是个人账号，内容自定义填写，后续单位注册时用到。",
		`method="post" action="/register/person"`,
		`<input type="hidden" name="_csrf" value="`+token+`">`,
		"登录账号应为5-20位，可以使用大小写字母、数字和下划线，且应该以字母开始",
		`name="password"`, `name="password_confirm"`, `name="name"`, `name="id_number"`, `name="phone"`, `name="sms_code"`,
		`name="action" value="send_code"`, "获取验证码", `name="action" value="register"`,
		`value="li&#34;si"`, `value="李四"`, `value="440703199001010180"`, `value="13800138000"`,
		"验证码已发送至 138****8000，5分钟内有效",
		"有 2 处填写内容需要修改",
		"已有帐号？", `href="/login?kind=person"`,
		"操作指引", "个人注册、单位注册有什么区别？",
		"密码应为8-30位，且必须包含大写字母、小写字母、数字并至少3种，同时不能在键盘上连续超过4个字符",
		`<script src="/static/js/password-confirm.js" defer></script>`,
		`<script type="module" src="/static/js/sms-code.js"></script>`,
	)
	assertFieldError(t, "register person", out, "username", "登录账号应该以字母开始")
	assertFieldError(t, "register person", out, "password_confirm", "两次输入的密码不一致")
	assertNoPasswordValue(t, "register person", out)
	// The first submit button (what Enter presses) registers, not 获取验证码.
	first := regexp.MustCompile(`<button[^>]*type="submit"[^>]*>`).FindString(out)
	if !strings.Contains(first, `value="register"`) {
		t.Errorf("default button %s", first)
	}
}

func TestRegisterUnitSteps(t *testing.T) {
	out := render(t, "public/register_unit", "layouts/base", Page{
		Title: "单位注册", Nav: "register_unit", CSRFToken: token,
		Form:   map[string]string{"operator_username": "zhangsan"},
		Fields: map[string]string{"operator_password": "用户名或密码错误，再错误4次账号将被锁定1小时"},
		Data:   registerUnitView{Step: 1},
	})
	assertContains(t, "unit step 1", out,
		`href="/register/unit" aria-current="page">单位注册`,
		"实名认证注册", "单位所属实名人员信息", "填写注册并实名认证的个人账号",
		`<li class="current" aria-current="step"><span class="step-no">1</span>`,
		`method="post" action="/register/unit/operator"`, `value="zhangsan"`,
		"操作指引", "提示“证件号已存在”怎么办？",
	)
	assertFieldError(t, "unit step 1", out, "operator_password", "用户名或密码错误，再错误4次账号将被锁定1小时")
	assertNotContains(t, "unit step 1", out, "region-picker.js", `name="cert_number"`)

	regions := []regionGroup{
		{City: region{"4407", "江门市", 2}, Options: []region{{"440703", "蓬江区", 3}, {"440704", "江海区", 3}}},
		{City: region{"4419", "东莞市", 2}, Options: []region{{"4419", "东莞市", 2}}},
	}
	out = render(t, "public/register_unit", "layouts/base", Page{
		CSRFToken: token,
		Form:      map[string]string{"cert_type": "org_code", "cert_number": "12440", "unit_name": "江门市人才", "region_code": "440703", "username": "Unit_01"},
		Fields:    map[string]string{"cert_number": "单位证件号码已被使用[b3b2e342-cee0-49d5-a3af-52e7f29c327b]", "password": "密码应为8-30位\n密码不能包含用户名"},
		Data:      registerUnitView{Step: 2, Operator: "张*（zhangsan）", Regions: regions},
	})
	assertContains(t, "unit step 2", out,
		`<li class="done"><span class="step-no">1</span>`,
		`<li class="current" aria-current="step"><span class="step-no">2</span>`,
		"经办人：<strong>张*（zhangsan）</strong>",
		`method="post" action="/register/unit"`,
		`<option value="org_code" selected>组织机构代码</option>`,
		"这里填执照上的号码", "组织机构代码第九位“-”请省略", "这里填执照上的单位全称",
		`<span class="region-fixed" aria-hidden="true">广东省</span>`,
		`<select id="region_code" name="region_code"`,
		`<optgroup label="江门市">`, `<option value="440703" selected>蓬江区</option>`, `<option value="440704">江海区</option>`,
		`<optgroup label="东莞市">`, `<option value="4419">东莞市</option>`,
		`value="12440"`, `value="江门市人才"`, `value="Unit_01"`,
		`<script type="module" src="/static/js/region-picker.js"></script>`,
	)
	assertFieldError(t, "unit step 2", out, "cert_number", "单位证件号码已被使用[b3b2e342-cee0-49d5-a3af-52e7f29c327b]")
	assertFieldError(t, "unit step 2", out, "password", "密码应为8-30位\n密码不能包含用户名")
	assertNoPasswordValue(t, "unit step 2", out)

	out = render(t, "public/register_unit", "layouts/base", Page{Data: registerUnitView{Step: 3, Username: "Unit_01"}})
	assertContains(t, "unit step 3", out, "单位账号注册成功", "<strong>Unit_01</strong>", `href="/login?kind=unit&amp;username=Unit_01"`,
		`<li class="current done" aria-current="step"><span class="step-no">3</span>`)
	assertNotContains(t, "unit step 3", out, "<form class=\"form\"", "region-picker.js")
}

func TestLoginPage(t *testing.T) {
	for _, kind := range []string{"person", "unit"} {
		out := render(t, "public/login", "layouts/base", Page{
			Title: "用户登录", Nav: "login", CSRFToken: token, Flash: "注册成功，请登录",
			Error: "用户名或密码错误，再错误3次账号将被锁定1小时",
			Form:  map[string]string{"username": "zhangsan", "kind": kind},
			Data:  loginView{Kind: kind},
		})
		assertContains(t, "login "+kind, out,
			`href="/login?kind=`+kind+`" aria-current="page"`,
			"个人登录", "单位登录",
			`method="post" action="/login"`,
			`<input type="hidden" name="kind" value="`+kind+`">`,
			`placeholder="请输入登录账号"`, `placeholder="请输入密码"`, `value="zhangsan"`,
			"请谨慎输入用户名和密码，密码连续错误5次后账号将被锁定1小时!",
			`<a href="/recover">点击此处找回账号密码</a>`, `href="/account/recover">账号找回</a>`,
			"注册成功，请登录", "用户名或密码错误，再错误3次账号将被锁定1小时",
		)
		if n := strings.Count(out, `aria-current="page"`); n != 2 { // the tab and the 登录 nav item
			t.Errorf("login %s: %d items current", kind, n)
		}
		assertNoPasswordValue(t, "login", out)
	}
}

func TestAccountPage(t *testing.T) {
	out := render(t, "public/account", "layouts/base", Page{
		Title: "我的账号", CSRFToken: token,
		Data: accountView{Username: "Unit_01", Kind: "unit", KindLabel: "单位账号", LastLogin: "2026-03-15 09:30"},
	})
	assertContains(t, "account", out,
		"您好，Unit_01", "单位账号", "2026-03-15 09:30",
		`href="/password/change?kind=unit">修改密码</a>`,
		`method="post" action="/logout"`, `<input type="hidden" name="_csrf" value="`+token+`">`, "退出登录",
	)
}

func TestPasswordChangePage(t *testing.T) {
	out := render(t, "public/password_change", "layouts/base", Page{
		Title: "密码修改", Nav: "password_change", CSRFToken: token,
		Form:   map[string]string{"username": "zhangsan", "kind": "unit"},
		Fields: map[string]string{"new_password": "密码应为8-30位\n密码必须包含大写字母、小写字母、数字、符号中的至少3种"},
		Data:   passwordChangeView{Kind: "unit"},
	})
	assertContains(t, "password change", out,
		`method="post" action="/password/change"`,
		`name="kind" value="unit" checked`, `name="old_password"`, `name="new_password"`, `name="new_password_confirm"`,
		`value="zhangsan"`,
	)
	assertFieldError(t, "password change", out, "new_password", "密码应为8-30位\n密码必须包含大写字母、小写字母、数字、符号中的至少3种")
	assertNoPasswordValue(t, "password change", out)

	out = render(t, "public/password_change", "layouts/base", Page{Data: passwordChangeView{Kind: "person", Done: true}})
	assertContains(t, "password changed", out, "密码修改成功，请使用新密码登录", `href="/login?kind=person"`)
	assertNotContains(t, "password changed", out, `name="old_password"`)
}

func TestAccountRecoverPage(t *testing.T) {
	out := render(t, "public/account_recover", "layouts/base", Page{
		Title: "账号找回", Nav: "account_recover", CSRFToken: token,
		Form: map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": "9144", "unit_name": "江门市人才"},
		Data: accountRecoverView{Kind: "unit"},
	})
	assertContains(t, "account recover unit", out,
		`href="/account/recover?kind=unit" aria-current="page">单位`,
		`method="post" action="/account/recover"`, `<input type="hidden" name="kind" value="unit">`,
		`<option value="uscc" selected>统一社会信用代码</option>`, `value="9144"`, `value="江门市人才"`,
	)
	assertNotContains(t, "account recover unit", out, `name="id_number"`)

	out = render(t, "public/account_recover", "layouts/base", Page{Data: accountRecoverView{Kind: "person"}})
	assertContains(t, "account recover person", out, `name="name"`, `name="id_number"`, `href="/account/recover?kind=person" aria-current="page">个人`)
	assertNotContains(t, "account recover person", out, `name="cert_number"`)

	out = render(t, "public/account_recover", "layouts/base", Page{Data: accountRecoverView{Kind: "person", SentTo: "138****1234"}})
	assertContains(t, "account recover sent", out, "登录账号已通过短信发送至 138****1234")
	assertNotContains(t, "account recover sent", out, `<form class="form"`)
}

// TestLayoutsLinkEveryStylesheet keeps the split stylesheets honest: every
// file under static/css is linked by a layout, every link names a file, and
// base.css comes first (the others were cut from one file after it, and
// the cascade depends on that order).
func TestLayoutsLinkEveryStylesheet(t *testing.T) {
	link := regexp.MustCompile(`<link rel="stylesheet" href="/static/(css/[a-z-]+\.css)">`)
	linked := map[string]bool{}
	for _, layout := range []string{"layouts/base.html", "layouts/console.html"} {
		b, err := FS.ReadFile(layout)
		if err != nil {
			t.Fatal(err)
		}
		ms := link.FindAllStringSubmatch(string(b), -1)
		if len(ms) == 0 || ms[0][1] != "css/base.css" {
			t.Errorf("%s: base.css must be linked first, links %v", layout, ms)
		}
		for _, m := range ms {
			if _, err := FS.ReadFile("static/" + m[1]); err != nil {
				t.Errorf("%s links a missing %s", layout, m[1])
			}
			linked[m[1]] = true
		}
	}
	files, err := fs.Glob(FS, "static/css/*.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !linked[strings.TrimPrefix(f, "static/")] {
			t.Errorf("%s is linked by no layout", f)
		}
	}
}
