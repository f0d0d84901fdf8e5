package views

import (
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
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
}

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
		`<link rel="stylesheet" href="/static/css/app.css">`,
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
		Staff:     &StaffView{Username: "lihua", Name: "李华", Roles: []string{"reviewer", "supervisor"}},
	})
	assertContains(t, "console frame", out,
		"李华", "lihua", "审核员", "主管",
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
