package handlers_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// recoverPageHas fails for each string of wants that body lacks.
func recoverPageHas(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

// recoverPageShows gets path, which must answer 200, checks that the page
// holds every want (recoverPageHas), and returns it.
func recoverPageShows(t *testing.T, s *testServer, path string, wants ...string) string {
	t.Helper()
	resp, body := s.get(t, path)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	recoverPageHas(t, path, body, wants...)
	return body
}

func TestRecoverWizardPage(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/recover")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /recover: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	recoverPageHas(t, "recover (unit, the default)", body,
		"<title>密码找回 - 广东人社统一认证系统</title>",
		`href="/recover" aria-current="page">密码找回`,
		`<a href="/recover?kind=person">自然人找回密码</a>`,
		`<a href="/recover?kind=unit" aria-current="page">单位找回密码</a>`,
		// The live page's numbered intro, with the letter template link.
		"根据用户填写注册信息查询用户信息。",
		"短信验证：系统发送验证码到用户手机进行验证。",
		"证照上传：上传本人证件照正面、手持证件照、加盖单位公章单位证件照和单位授权函照片。",
		`href="/recover/letter-template"`, "单位授权函模板下载",
		"管理员审核用户信息（1-2个工作日），审核通过后，将重置密码以短信通知方式通知用户。",
		"注意：短信发送的密码会存在延时，接收短信 4 小时后新密码才生效。",
		// The steps and their panels.
		`<span class="step-label">填写信息</span>`, `<span class="step-label">身份验证</span>`,
		`<span class="step-label">上传证件照</span>`, `<span class="step-label">完成</span>`,
		`id="step-1" hidden`, `id="step-2" hidden`, `id="step-3" hidden`, `id="step-4" hidden`,
		// Step 1, unit.
		"按要求填写单位信息",
		`id="username"`, "用户名不确定的可以录入尽可能匹配的（此项不作为审核唯一标准）",
		`<option value="uscc" selected>统一社会信用代码</option>`, `<option value="org_code">组织机构代码</option>`,
		`id="cert_number"`, "组织机构代码第九位“-”请省略", `id="unit_name"`, `id="next"`,
		// Step 2: the masked phone comes from the API; no phone input.
		"验证码将发送至 <strong id=\"phone-masked\"", `id="send-code"`, "获取验证码", `id="sms_code"`,
		// Step 3: one tile per kind with the live labels, hint and example.
		"个人身份证正面照", "手持个人身份证正面照", "加盖单位公章的单位证件照", "单位授权函",
		"小于2M，格式为：*.png,*.jpg,*.jpeg的图片",
		`id="file-id_front"`, `id="progress-id_front"`, `id="preview-id_front"`, `accept=".png,.jpg,.jpeg,image/png,image/jpeg"`,
		`src="/static/img/examples/id_front.svg"`, `src="/static/img/examples/id_handheld.svg"`,
		`src="/static/img/examples/unit_license.svg"`, `src="/static/img/examples/authorization_letter.svg"`,
		"<figcaption>示例</figcaption>",
		`id="submit"`, "提交申请",
		// Step 4.
		"您的申请编号", "预计审核完成日期",
		"审核结果将以短信通知；审核通过后新密码将以短信发送至您的手机，接收短信 4 小时后新密码才生效（在此之前原密码仍可使用）",
		`href="/recover/status"`,
		// Without JavaScript: why, and whom to call.
		"<noscript>", "需要启用 JavaScript", `<a href="tel:&#43;867503873738">3873738</a>`, // the default hotline dials with its area code
		`<script type="module" src="/static/js/recover.js"></script>`,
	)
	if regexp.MustCompile(`name="phone"|id="phone"`).MatchString(body) {
		t.Error("the wizard asks for a phone number; the code goes only to the phone on record")
	}
	if strings.Contains(body, `name="name"`) || strings.Contains(body, `name="id_number"`) {
		t.Error("the unit form shows the person fields")
	}

	_, body = s.get(t, "/recover?kind=person")
	recoverPageHas(t, "recover (person)", body,
		`<a href="/recover?kind=person" aria-current="page">自然人找回密码</a>`,
		"按要求填写个人信息", `name="username"`, `name="name"`, `name="id_number"`, "身份证号码",
		"证照上传：上传本人证件照正面和手持证件照。",
	)
	if strings.Contains(body, `name="cert_number"`) {
		t.Error("the person form shows the unit fields")
	}
	// An unknown kind falls back to the unit tab, as the live page opens.
	_, body = s.get(t, "/recover?kind=robot")
	recoverPageHas(t, "recover (unknown kind)", body, `<a href="/recover?kind=unit" aria-current="page">`)
}

func TestRecoverAssetsAreServed(t *testing.T) {
	s := newTestServer(t)
	for _, p := range []string{
		"/static/js/recover.js", "/static/js/recover-status.js", "/static/js/lib.js",
		"/static/img/examples/id_front.svg", "/static/img/examples/id_handheld.svg",
		"/static/img/examples/unit_license.svg", "/static/img/examples/authorization_letter.svg",
	} {
		resp, body := s.get(t, p)
		if resp.StatusCode != 200 || len(body) < 500 {
			t.Errorf("GET %s: %d, %d bytes", p, resp.StatusCode, len(body))
		}
		// A browser runs an ES module only when it is served as JavaScript.
		if strings.HasSuffix(p, ".js") && !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s: Content-Type %q", p, resp.Header.Get("Content-Type"))
		}
		if strings.HasSuffix(p, ".svg") && !strings.Contains(resp.Header.Get("Content-Type"), "image/svg+xml") {
			t.Errorf("GET %s: Content-Type %q", p, resp.Header.Get("Content-Type"))
		}
	}
	// The examples are clearly fictional: placeholder name, marked 示例.
	_, svg := s.get(t, "/static/img/examples/id_front.svg")
	recoverPageHas(t, "id_front example", svg, "张三", "示例")
}

func TestRecoverStatusPage(t *testing.T) {
	s := newTestServer(t)
	recoverPageShows(t, s, "/recover/status",
		"<title>查询申请进度 - 广东人社统一认证系统</title>",
		`href="/recover" aria-current="page">密码找回`,
		"<h1 id=\"status-title\" class=\"card-title\">查询申请进度</h1>",
		`id="case_number"`, "申请编号", `id="lookup-send"`, "获取验证码", `id="lookup_code"`, `id="lookup-verify"`,
		`id="status-view" hidden`, `id="status-timeline"`, "审核结果", "预计审核完成日期",
		"<noscript>", "3873738",
		`<script type="module" src="/static/js/recover-status.js"></script>`,
	)
}

func TestLetterTemplate(t *testing.T) {
	s := newTestServer(t)
	body := recoverPageShows(t, s, "/recover/letter-template",
		"<title>单位授权函 - 广东人社统一认证系统</title>",
		`<h1 id="letter-title" class="letter-title">单位授权函</h1>`,
		"广东人社统一认证系统", "密码找回",
		"单位名称", "证件号码", "经办人姓名", "经办人身份证号码", "经办人联系电话",
		"法定代表人（负责人）签字", "单位公章", "日期：",
		// 打印 needs JavaScript, so it starts hidden and the script shows it.
		`<button type="button" id="print-letter" class="btn btn-primary" hidden>打印</button>`,
		`<script type="module" src="/static/js/recover.js"></script>`,
	)
	if strings.Contains(body, `id="letter-unit-name"`) {
		t.Error("blank letter shows a unit name")
	}

	q := url.Values{"unit_name": {"江门市人才发展公司"}, "cert_number": {unitA}}
	_, body = s.get(t, "/recover/letter-template?"+q.Encode())
	recoverPageHas(t, "prefilled letter", body,
		`<span class="filled" id="letter-unit-name">江门市人才发展公司</span>`,
		`<span class="filled mono" id="letter-cert-number">`+unitA+`</span>`,
	)

	// The query is the applicant's own typing, but a link can carry anything:
	// it is escaped, and cut to a sane length.
	q = url.Values{
		"unit_name":   {`<script>alert(1)</script>` + strings.Repeat("长", 200)},
		"cert_number": {`"><img src=x onerror=alert(2)>`},
	}
	_, body = s.get(t, "/recover/letter-template?"+q.Encode())
	recoverPageHas(t, "escaped letter", body,
		`id="letter-unit-name">&lt;script&gt;alert(1)&lt;/script&gt;`,
		`id="letter-cert-number">&#34;&gt;&lt;img src=x onerror</span>`,
	)
	for _, bad := range []string{"<script>alert(1)", "<img src=x", strings.Repeat("长", 100)} {
		if strings.Contains(body, bad) {
			t.Errorf("letter template contains %q unescaped or uncut", bad)
		}
	}
}
