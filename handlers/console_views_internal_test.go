package handlers

// Template tests of the review console's queue and case workspace. They live
// in package handlers because the view structs (queueView, caseView) are
// unexported: the templates are rendered through views.Engine() with exactly
// the values the handlers build.

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/views"
)

const viewToken = "tok-console_7Qx"

// renderConsole renders one console page in the console layout and checks
// what the CSP would otherwise break silently.
func renderConsole(t *testing.T, name string, p Page) string {
	t.Helper()
	e := views.Engine()
	if err := e.Load(); err != nil {
		t.Fatalf("load templates: %v", err)
	}
	p.CSRFToken = viewToken
	p.Staff = &StaffView{Username: "jm_reviewer", Name: "李审核", Roles: []string{"reviewer"}}
	var buf bytes.Buffer
	if err := e.Render(&buf, name, p, layoutConsole); err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	out := buf.String()
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)<style[\s>]`),
		regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:|https?://`),
	} {
		if loc := bad.FindStringIndex(out); loc != nil {
			t.Errorf("%s: %s at %q", name, bad, out[max(0, loc[0]-40):min(len(out), loc[1]+40)])
		}
	}
	for _, bad := range []string{"<nil>", "<no value>", "%!", "ZgotmplZ", "0x"} {
		if i := strings.Index(out, bad); i >= 0 {
			t.Errorf("%s: unexpected %q at %q", name, bad, out[max(0, i-60):min(len(out), i+40)])
		}
	}
	return out
}

func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

func wantNone(t *testing.T, what, out string, bads ...string) {
	t.Helper()
	for _, b := range bads {
		if strings.Contains(out, b) {
			t.Errorf("%s: unexpected %q", what, b)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// cst builds a moment given in Asia/Shanghai and returns it in UTC, as the
// database hands times back.
func cstTime(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, rules.Shanghai).UTC()
}

func sampleQueue() queueView {
	f := recovery.QueueFilter{Tab: recovery.TabPending, Kind: "unit", City: "4407", SLA: recovery.SLAOverdue, Search: "江门"}
	v := queueView{Tab: f.Tab, Filter: f, Next: "MTc1OXwxNzU5fGFi", Cities: rules.Cities(), Decided: "已通过 ZH20250929000002，新密码短信已排队"}
	counts := map[string]string{recovery.TabPending: "12", recovery.TabMine: "1", recovery.TabReturned: "3", recovery.TabDone: "999+"}
	for _, tab := range recovery.Tabs {
		v.Tabs = append(v.Tabs, queueTab{Key: tab, Label: tabLabels[tab], Count: counts[tab], Active: tab == f.Tab})
	}
	v.Rows = []recovery.QueueRow{
		{CaseNumber: "ZH20250926000001", Kind: "unit", Name: "江门市人才发展有限公司", Cert: "9144********0K3X",
			Region: "广东省 / 江门市 / 蓬江区", Status: state.InReview, SubmittedAt: cstTime(2025, 9, 26, 9, 5),
			DueBy: ptr(cstTime(2025, 9, 30, 0, 0)), SLA: recovery.SLAOverdue, ClaimedByMe: true},
		{CaseNumber: "ZH20250929000004", Kind: "person", Name: "张*", Cert: "4407**********0180",
			Region: "广东省 / 江门市 / 江海区", Status: state.Submitted, SubmittedAt: cstTime(2025, 9, 29, 23, 50),
			DueBy: ptr(cstTime(2025, 10, 1, 0, 0)), SLA: recovery.SLADueToday},
		{CaseNumber: "ZH20250930000009", Kind: "unit", Name: "江门市<测试>公司", Cert: "9144********1234",
			Region: "广东省 / 江门市", Status: state.Submitted, SubmittedAt: cstTime(2025, 9, 30, 10, 0),
			DueBy: ptr(cstTime(2025, 10, 10, 0, 0)), SLA: recovery.SLAOk},
	}
	return v
}

func TestConsoleQueueTemplate(t *testing.T) {
	out := renderConsole(t, "console/cases", Page{Title: "审核队列", Nav: "cases", Data: sampleQueue()})
	wantAll(t, "queue", out,
		"<title>审核队列 - 密码找回审核台 - 广东人社统一认证系统</title>",
		"<h1>审核队列</h1>",
		// 开始处理下一件 claims: a POST with the token, never a link
		`<form method="post" action="/console/cases/next" class="inline-form">`, `id="open-case-form" method="post"`,
		// the notice after a decision
		`<div class="alert alert-success" role="status" id="decided-notice"><p>已通过 ZH20250929000002，新密码短信已排队</p></div>`,
		// tabs with counts, keeping the filters, the current one marked
		`href="/console/cases?tab=pending&amp;kind=unit&amp;city=4407&amp;sla=overdue&amp;q=%e6%b1%9f%e9%97%a8" aria-current="page">待审核<span class="tab-count">12</span>`,
		`href="/console/cases?tab=mine&amp;kind=unit&amp;city=4407&amp;sla=overdue&amp;q=%e6%b1%9f%e9%97%a8">我的<span class="tab-count">1</span>`,
		`已退回<span class="tab-count">3</span>`, `已完成<span class="tab-count">999&#43;</span>`,
		// the filter form: a GET that keeps the tab
		`method="get" action="/console/cases"`, `<input type="hidden" name="tab" value="pending">`,
		`<option value="unit" selected>单位</option>`, `<option value="person">个人</option>`,
		`<option value="4407" selected>江门市</option>`, `<option value="4401">广州市</option>`,
		`name="district"`, `pattern="[0-9]{6}"`,
		`<option value="overdue" selected>已超期</option>`, `<option value="due_today">今日到期</option>`,
		`name="q" type="search" value="江门" placeholder="案件编号、单位名称或证件号码"`,
		">筛选</button>", ">清除筛选</a>",
		// the table
		"<th scope=\"col\">案件编号</th>", "申请人/单位", "证件号码", "所在地区", "提交时间", "截止日期", "时限", "状态",
		`<tr class="is-overdue is-mine">`, `<tr class="is-due-today">`,
		`<a href="/console/cases/ZH20250926000001" data-open-claim="/console/cases/ZH20250926000001/open">ZH20250926000001</a>`, "我认领",
		"江门市人才发展有限公司", "9144********0K3X", "张*", "4407**********0180", "<td class=\"wrap\">江门市 / 蓬江区</td>", "<td class=\"wrap\">江门市</td>",
		"2025-09-26 09:05", "2025-09-29 23:50", "2025-09-30", "2025-10-10",
		`<span class="badge sla-overdue">已超期</span>`, `<span class="badge sla-due-today">今日到期</span>`, `<span class="badge sla-ok">正常</span>`,
		`<span class="badge status-in_review">审核中</span>`, `<span class="badge status-submitted">待审核</span>`,
		// names are escaped even when they look like markup
		"江门市&lt;测试&gt;公司",
		// keyset paging: next page with the filters, no page numbers
		`rel="next" href="/console/cases?tab=pending&amp;kind=unit&amp;city=4407&amp;sla=overdue&amp;q=%E6%B1%9F%E9%97%A8&amp;after=MTc1OXwxNzU5fGFi">下一页</a>`,
		`<script type="module" src="/static/js/console-queue.js"></script>`,
	)
	wantNone(t, "queue", out, "当前没有待审核的案件", "回到第一页", "广东省 /")
	if n := strings.Count(out, `<tr class=`); n != 3 {
		t.Errorf("%d rows, want 3", n)
	}

	// Empty: the pending tab without filters, and a filtered empty result.
	empty := sampleQueue()
	empty.Rows, empty.Next, empty.Decided, empty.Filter = nil, "", "", recovery.QueueFilter{Tab: recovery.TabPending}
	out = renderConsole(t, "console/cases", Page{Nav: "cases", Data: empty})
	wantAll(t, "empty queue", out, "当前没有待审核的案件", `href="/console/cases?tab=mine">我的`)
	wantNone(t, "empty queue", out, "<table", "下一页", `id="decided-notice"`, "清除筛选")

	empty.Filter.SLA = recovery.SLAOverdue
	out = renderConsole(t, "console/cases", Page{Nav: "cases", Data: empty})
	wantAll(t, "empty filtered queue", out, "没有符合筛选条件的案件", `<option value="overdue" selected>已超期</option>`)

	// A later page links back to the first.
	later := sampleQueue()
	later.Filter = recovery.QueueFilter{Tab: recovery.TabDone, After: "abc"}
	later.Tab, later.Next = recovery.TabDone, ""
	out = renderConsole(t, "console/cases", Page{Nav: "cases", Data: later})
	wantAll(t, "later page", out, `<a href="/console/cases?tab=done">回到第一页</a>`)
	wantNone(t, "later page", out, "下一页")
}

const sampleNumber = "ZH20250930000007"

func sampleCase() caseView {
	rc := &ent.RecoveryCase{
		CaseNumber: ptr(sampleNumber), Kind: recoverycase.KindUnit, Status: state.InReview, Version: 7,
		RegionCode: "440703", TypedUsername: "jm_talnet", TypedName: "江门市人才发展公司", TypedCertType: "uscc",
		TypedCertNumber: "91440703MA4UJ0K3X8", UsernameSimilarity: 88, NameSimilarity: 62,
		SubmittedAt: ptr(cstTime(2025, 9, 30, 10, 0)), DueBy: ptr(cstTime(2025, 10, 10, 0, 0)),
		ClaimedBy: ptr(3), ClaimExpiresAt: ptr(cstTime(2025, 10, 9, 10, 30)),
	}
	acc := &ent.Account{
		Kind: account.KindUnit, Username: "jm_talent", Name: "江门市人才发展有限公司", CertType: "uscc",
		CertNumber: "91440703MA4UJ0K3X8", Phone: "13800006666", CreatedAt: cstTime(2024, 5, 6, 14, 20),
		LastLoginAt: ptr(cstTime(2025, 9, 1, 8, 30)), LockedUntil: ptr(cstTime(2025, 9, 30, 9, 45)), FailedLogins: 5,
	}
	w := &recovery.Workspace{
		Case: rc, Account: acc, SLA: recovery.SLADueToday, ClaimedBy: "李审核", ClaimedByMe: true, CertMatch: true, AccountLocked: true,
		Evidence: []recovery.EvidenceItem{
			{Kind: "id_front", Label: "个人身份证正面照", Width: 640, Height: 480, Size: 48213,
				Duplicates: []recovery.Duplicate{{CaseNumber: "ZH20250901000003", Exact: true, Visible: true},
					{CaseNumber: "ZH20250915000011", Distance: 5, Visible: true}, {CaseNumber: "ZH20250920000042", Distance: 3}}},
			{Kind: "id_handheld", Label: "手持个人身份证正面照", Width: 480, Height: 640},
			{Kind: "unit_license", Label: "加盖单位公章的单位证件照", Width: 1200, Height: 900},
			{Kind: "authorization_letter", Label: "单位授权函", Width: 900, Height: 1273},
		},
		Earlier: []*ent.RecoveryCase{{CaseNumber: ptr("ZH20250612000002"), Status: state.Rejected, SubmittedAt: ptr(cstTime(2025, 6, 12, 15, 0))}},
		SMS: []*ent.SMSMessage{{Purpose: recovery.PurposeRejected, Status: smsmessage.StatusQueued, SendCount: 2,
			LastError: "gateway timeout", CreatedAt: cstTime(2025, 6, 20, 9, 0)}},
	}
	v := caseView{W: w, Number: sampleNumber, StatusLabel: "审核中", RegionName: "广东省 / 江门市 / 蓬江区",
		Reasons: recovery.DefaultReasons(), ReasonTexts: reasonTexts(recovery.DefaultReasons()), CanDecide: true, SMSFailing: true,
		EvidenceBase: "/console/cases/" + sampleNumber + "/evidence/"}
	for _, k := range recovery.RequiredEvidence("unit") {
		v.Required = append(v.Required, evidenceKind{k, vocab.EvidenceKind(k).Label()})
	}
	// Payloads as they come back from the database: JSON numbers and arrays.
	v.Events = []eventView{
		{At: cstTime(2025, 9, 30, 9, 40), Type: "created", Actor: "applicant", After: map[string]any{"kind": "unit"}},
		{At: cstTime(2025, 9, 30, 9, 42), Type: "phone_verified", Actor: "applicant", After: map[string]any{"phone": "138****6666"}},
		{At: cstTime(2025, 9, 30, 9, 50), Type: "evidence_uploaded", Actor: "applicant",
			Before: map[string]any{"sha256": "ab12"}, After: map[string]any{"kind": "unit_license", "sha256": "cd34", "size": float64(48213)}},
		{At: cstTime(2025, 9, 30, 10, 0), Type: "submitted", Actor: "applicant", Before: map[string]any{"status": "draft"},
			After: map[string]any{"status": "submitted", "case_number": sampleNumber, "due_by": "2025-10-10"}},
		{At: cstTime(2025, 10, 9, 10, 0), Type: "claimed", Actor: "staff:jm_reviewer", Before: map[string]any{"status": "submitted"},
			After: map[string]any{"status": "in_review", "claimed_by": "jm_reviewer"}},
		{At: cstTime(2025, 10, 9, 10, 5), Type: "note", Actor: "staff:jm_reviewer", Note: "已电话联系经办人<王>核实"},
		{At: cstTime(2025, 10, 9, 10, 6), Type: "decided", Actor: "staff:jm_reviewer", Before: map[string]any{"status": "in_review", "version": float64(4)},
			After: map[string]any{"status": "returned", "outcome": "return", "reasons": []any{"unclear_image", "other"}, "return_kinds": []any{"id_handheld"}}},
		{At: cstTime(2025, 10, 9, 10, 7), Type: "password_sms_sent", Actor: "system", After: map[string]any{"effective_at": "2025-10-09T06:07:00Z"}},
	}
	return v
}

func TestConsoleCaseTemplate(t *testing.T) {
	out := renderConsole(t, "console/case", Page{Title: "案件 " + sampleNumber, Nav: "cases", Data: sampleCase()})
	base := "/console/cases/" + sampleNumber
	wantAll(t, "case", out,
		"<title>案件 "+sampleNumber+" - 密码找回审核台",
		`<h1>案件 <span class="mono">`+sampleNumber+`</span></h1>`,
		`<span class="badge status-in_review">审核中</span>`, `<span class="badge sla-due-today">今日到期</span>`,
		"广东省 / 江门市 / 蓬江区", "2025-09-30 10:00", "2025-10-10",
		"由 李审核（我）认领，2025-10-09 10:30 前有效", `action="`+base+`/claim"`, "延长认领",
		// 申请信息核对
		"申请信息核对", "填写内容", "注册信息", "91440703MA4UJ0K3X8", "统一社会信用代码",
		`<span class="cw-match cw-match-yes">✓ 一致</span>`,
		"单位名称", "江门市人才发展公司", "江门市人才发展有限公司",
		`<span class="cw-sim cw-sim-mid"><meter min="0" max="100" low="50" high="80" optimum="100" value="62">`, "相似度 62%（中）",
		`<span class="cw-sim cw-sim-high"><meter min="0" max="100" low="50" high="80" optimum="100" value="88">`, "相似度 88%（高）",
		"jm_talnet", "jm_talent",
		// 账号信息
		"账号信息", "138****6666", "注册时间</dt><dd>2024-05-06 14:20", "最近登录</dt><dd>2025-09-01 08:30",
		"已锁定至 2025-09-30 09:45", `<span class="mono">ZH20250920000042</span>（不在您的辖区）`, "连续输错密码 5 次",
		`<a class="mono" href="/console/cases/ZH20250612000002">ZH20250612000002</a> <span class="badge status-rejected">未通过</span> <span class="muted">2025-06-12</span>`,
		// 证件材料
		`src="`+base+`/evidence/id_front" alt="个人身份证正面照" loading="lazy"`, `width="640" height="480"`,
		`src="`+base+`/evidence/authorization_letter"`,
		`⚠ 与案件 <a class="mono" href="/console/cases/ZH20250901000003">ZH20250901000003</a> 的材料相同`,
		`<a class="mono" href="/console/cases/ZH20250915000011">ZH20250915000011</a> 的材料相似（差异 5）`,
		`<a class="cw-original" href="`+base+`/evidence/id_front" target="_blank" rel="noopener">查看原图</a>`,
		"证件清晰完整", "公章清晰", "签字盖章齐全", "人像清晰",
		`data-action="zoom-in"`, `data-action="rotate"`, `data-action="fullscreen"`,
		// 处理记录
		`id="history"`, "处理记录",
		"创建申请", "类型：单位", "手机验证通过", "上传材料", "材料：加盖单位公章的单位证件照（替换原材料）",
		"提交申请", "状态：草稿 → 待审核", "截止日期：2025-10-10", "案件编号："+sampleNumber,
		"认领", "状态：待审核 → 审核中", "认领人：jm_reviewer", `<span class="cw-event-actor">jm_reviewer</span>`,
		"已电话联系经办人&lt;王&gt;核实",
		"结果：退回补正", "原因：清晰度不足，请重新拍摄清晰、完整的照片；其他原因，详见审核意见", "补正材料：手持个人身份证正面照",
		"新密码短信已发送", "新密码生效时间：2025-10-09 14:07", `<span class="cw-event-actor">系统</span>`,
		`action="`+base+`/notes"`, `name="note" rows="2"`, "添加备注",
		// SMS trouble
		"短信发送失败，正在重试", "gateway timeout", "审核未通过短信",
		// the decision form
		`<form id="decision-form" class="form cw-decision-form" method="post" action="`+base+`/decision">`,
		`<input type="hidden" name="version" value="7">`,
		`name="outcome" value="approve"`, `name="outcome" value="reject"`, `name="outcome" value="return"`,
		">通过<", ">不通过<", ">退回补正<",
		`name="reason" value="unclear_image"`, `name="reason" value="license_no_seal"`, `name="reason" value="other"`,
		"授权函不规范，请使用授权函模板并签字盖章",
		`name="return_kind" value="id_front"`, `name="return_kind" value="authorization_letter"`, "单位授权函",
		`<label for="decision-note">审核意见</label>`, `name="note" rows="3" maxlength="1000"`,
		`>提交</button>`, `name="next" value="1">提交并处理下一件</button>`,
		`<dialog class="cw-dialog" id="approve-dialog"`, "确认通过", "新密码在短信发出 4 小时后生效",
		// shortcuts
		"快捷键", "<kbd>A</kbd>", "<kbd>N</kbd>", "下一件",
		`<script src="/static/js/console-case.js" defer></script>`,
	)
	// Every form carries the CSRF token: renew claim, decision, note, 下一件.
	if n := strings.Count(out, `<input type="hidden" name="_csrf" value="`+viewToken+`">`); n != 5 { // + sign-out
		t.Errorf("%d _csrf fields, want 5", n)
	}
	// The phone on record is shown masked only.
	wantNone(t, "case", out, "13800006666", "sha256", "cd34", "请先认领", ">认领</button>")
	if n := strings.Count(out, `<img src="/console/cases/`); n != 4 {
		t.Errorf("%d evidence images, want 4", n)
	}
}

func TestConsoleCaseTemplateStates(t *testing.T) {
	// A stale version: the error and a way back to the current case.
	v := sampleCase()
	out := renderConsole(t, "console/case", Page{Nav: "cases", Error: "该案件已被他人更新，请刷新后重试", Data: func() caseView { v.Stale = true; return v }()})
	wantAll(t, "stale", out, `<div class="alert alert-error" role="alert">`, "该案件已被他人更新，请刷新后重试",
		`<a href="/console/cases/`+sampleNumber+`">重新加载本案件</a>`)

	// A refused decision: the outcome comes back chosen, the problem beside it.
	v = sampleCase()
	out = renderConsole(t, "console/case", Page{Nav: "cases", Data: v, Fields: map[string]string{"reason": "不通过时请至少选择一项原因"},
		Form: map[string]string{"note": "照片<模糊>"}})
	wantAll(t, "refused decision", out, "审核决定未提交，请按提示修改后重新提交",
		`value="reject" id="outcome-reject" checked`, `<p class="field-error" id="reason-error">不通过时请至少选择一项原因</p>`,
		`aria-describedby="reason-error"`, ">照片&lt;模糊&gt;</textarea>")
	wantNone(t, "refused decision", out, `id="outcome-approve" required checked`)

	// Not claimed yet: a claim button instead of the form.
	v = sampleCase()
	v.W.Case.Status, v.W.Case.ClaimedBy, v.W.Case.ClaimExpiresAt = state.Submitted, nil, nil
	v.W.ClaimedBy, v.W.ClaimedByMe, v.CanDecide, v.StatusLabel, v.SMSFailing = "", false, false, "待审核", false
	v.W.SMS = nil
	v.W.Case.TypedUsername = ""
	out = renderConsole(t, "console/case", Page{Nav: "cases", Data: v})
	wantAll(t, "unclaimed", out, "未认领", `<button type="submit" class="btn btn-primary" id="claim-button">认领</button>`,
		"请先认领", "认领本案件", `action="/console/cases/`+sampleNumber+`/claim"`, "未填写")
	wantNone(t, "unclaimed", out, `name="version"`, "decision-form", "短信发送失败", "延长认领", "相似度 88%")

	// Claimed by someone else: neither form nor claim button.
	v = sampleCase()
	v.W.ClaimedBy, v.W.ClaimedByMe, v.CanDecide = "王审核", false, false
	out = renderConsole(t, "console/case", Page{Nav: "cases", Data: v})
	wantAll(t, "claimed by other", out, "由 王审核 认领", "该案件由 王审核 认领处理中")
	wantNone(t, "claimed by other", out, "decision-form", "claim-button", "认领本案件")

	// Decided: the result instead of the form.
	v = sampleCase()
	v.W.Case.Status, v.W.Case.Reasons, v.W.Case.DecisionNote = state.Rejected, []string{"handheld_mismatch", "info_mismatch"}, "证件照与本人不符"
	v.W.Case.DecidedAt, v.W.Case.ClaimedBy = ptr(cstTime(2025, 10, 9, 10, 6)), nil
	v.W.Case.Outcome = ptr(recoverycase.OutcomeReject)
	v.W.SLA, v.W.ClaimedBy, v.W.ClaimedByMe, v.CanDecide, v.StatusLabel = "", "", false, false, "未通过"
	out = renderConsole(t, "console/case", Page{Nav: "cases", Data: v})
	wantAll(t, "decided", out, `<span class="badge status-rejected">未通过</span>`, "审核结果</dt><dd>不通过",
		"手持证件照与证件不符", "填写信息与注册信息不符", "证件照与本人不符", "审核时间</dt><dd>2025-10-09 10:06")
	wantNone(t, "decided", out, "decision-form", "claim-button", "sla-", "请先认领")
}

// reasonTexts names each reason code, as showCase does from the catalog.
func reasonTexts(rs []recovery.Reason) map[string]string {
	m := map[string]string{}
	for _, r := range rs {
		m[r.Code] = r.Text
	}
	return m
}
