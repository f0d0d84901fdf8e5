package handlers_test

import (
	"context"
	"encoding/csv"
	"html"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

// auditMatrix are the role × route rows of the audit pages (TestRoleRouteMatrix).
func auditMatrix(t *testing.T, s *testServer, number string) []matrixRow {
	return []matrixRow{
		// Supervisors and administrators read the log; reviewers do not.
		{"GET", "/console/audit", "/console/audit", supervisorsAndAdmins(200), nil},
		{"GET", "/console/audit", "/console/audit?case=" + number, supervisorsAndAdmins(200), nil},
		// Only supervisors take the log out of the system.
		{"GET", "/console/audit/export.csv", "/console/audit/export.csv", want{"supervisor": 200, "admin": 403, "reviewer": 403, "outsider": 403, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/audit/verify", "/console/audit/verify", supervisorsAndAdmins(200), url.Values{}},
	}
}

// appendAudit records one entry in its own transaction, as the domain does.
func appendAudit(t testing.TB, s *testServer, e audit.Event) {
	t.Helper()
	ctx := context.Background()
	if err := s.db.InTx(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, e) }); err != nil {
		t.Fatal(err)
	}
}

func TestAuditPageFiltersByCaseStaffActionAndDateAndMasks(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	jm := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	jm.get(t, "/console/cases/"+number+"/evidence/id_front") // an entry under the case number
	appendAudit(t, s, audit.Event{ActorKind: audit.ActorApplicant, Actor: "13912345678", Action: "test.pii",
		ObjectType: "account", ObjectID: rules.CompleteIDNumber("44070319900101123"),
		Detail: map[string]any{"phone": "13912345678", "note": "单位 " + rules.CompleteUSCC("91440703MA4UKXXX0")}})

	// The case's entries: those under its uuid (created, submitted) and under its number.
	resp, body := sup.get(t, "/console/audit?case="+strings.ToLower(number))
	if resp.StatusCode != 200 {
		t.Fatalf("case filter: %d %.300s", resp.StatusCode, body)
	}
	rows := rowsOf(body)
	for _, want := range []string{"发起密码找回", "提交审核", "查看证件照", "jm_reviewer"} {
		if !strings.Contains(rows, want) {
			t.Errorf("case %s: page lacks %q", number, want)
		}
	}
	if strings.Contains(rows, "工作人员登录成功") || strings.Contains(rows, "test.pii") {
		t.Error("case filter shows entries of other objects")
	}

	// A staff user's entries, whatever case their username was typed in.
	_, body = sup.get(t, "/console/audit?staff=JM_Reviewer")
	if rows = rowsOf(body); !strings.Contains(rows, "工作人员登录成功") || !strings.Contains(rows, "查看证件照") || strings.Contains(rows, "发起密码找回") {
		t.Errorf("staff filter:\n%s", rows)
	}

	// An action prefix, and personal data masked in actor, object and detail.
	_, body = sup.get(t, "/console/audit?action=test.*")
	if !strings.Contains(body, `<option value="test.*" selected>`) {
		t.Error("the action filter is not shown as chosen")
	}
	id, uscc := rules.CompleteIDNumber("44070319900101123"), rules.CompleteUSCC("91440703MA4UKXXX0")
	for _, want := range []string{"139****5678", rules.MaskIDNumber(id), rules.MaskCertNumber(uscc)} {
		if !strings.Contains(body, want) {
			t.Errorf("masked page lacks %q", want)
		}
	}
	for _, leak := range []string{"13912345678", id, uscc} {
		if strings.Contains(body, leak) {
			t.Errorf("page shows %q unmasked", leak)
		}
	}
	if rows = rowsOf(body); strings.Contains(rows, "发起密码找回") || !strings.Contains(rows, "test.pii") {
		t.Errorf("action prefix:\n%s", rows)
	}

	// Dates are Shanghai days: everything happened today, nothing tomorrow.
	today := s.clock.Now().In(rules.Shanghai)
	_, body = sup.get(t, "/console/audit?from="+today.Format("2006-01-02")+"&to="+today.Format("2006-01-02"))
	if !strings.Contains(rowsOf(body), "发起密码找回") {
		t.Error("today's entries missing from today's range")
	}
	_, body = sup.get(t, "/console/audit?from="+today.AddDate(0, 0, 1).Format("2006-01-02"))
	if !strings.Contains(body, "没有符合条件的日志") || rowsOf(body) != "" {
		t.Errorf("tomorrow onwards:\n%s", rowsOf(body))
	}

	// A date that is not one is refused beside its field.
	resp, body = sup.get(t, "/console/audit?to=2026/03/15")
	if resp.StatusCode != 422 || !strings.Contains(body, `id="to-error"`) || !strings.Contains(body, "日期格式应为") {
		t.Fatalf("bad date: %d\n%.3000s", resp.StatusCode, body)
	}
}

// rowsOf is the table of the audit page ("" when it shows no entry): the
// filter's select names every action, so assertions look at the rows only.
func rowsOf(body string) string {
	i, j := strings.Index(body, "<tbody>"), strings.Index(body, "</tbody>")
	if i < 0 || j < i {
		return ""
	}
	return body[i:j]
}

var (
	tickDetail    = regexp.MustCompile(`<dt>n</dt><dd>(\d+)</dd>`)
	auditNextLink = regexp.MustCompile(`<a rel="next" href="([^"]+)">下一页</a>`)
)

func TestAuditPageNextLinksShowEveryEntryOnceNewestFirst(t *testing.T) {
	s := newTestServer(t)
	const n = 2*audit.PageSize + 7
	for i := range n {
		appendAudit(t, s, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "test.tick", Detail: map[string]any{"n": i}})
	}
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	var seen []int
	path, pages := "/console/audit?action=test.tick", 0
	for path != "" {
		resp, body := sup.get(t, path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		pages++
		for _, m := range tickDetail.FindAllStringSubmatch(body, -1) {
			v, _ := strconv.Atoi(m[1])
			seen = append(seen, v)
		}
		path = ""
		if m := auditNextLink.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
			if !strings.Contains(path, "action=test.tick") || !strings.Contains(path, "after=") {
				t.Fatalf("next link drops the filter or the cursor: %s", path)
			}
		}
	}
	want := make([]int, n)
	for i := range want {
		want[i] = n - 1 - i
	}
	if pages != 3 || !slices.Equal(seen, want) {
		t.Fatalf("%d pages, entries %v", pages, seen)
	}
}

func TestAuditExportIsCSVWithBOMMaskedAndItselfAudited(t *testing.T) {
	s := newTestServer(t)
	const n = 450 // more than one export batch of the handler's flushes
	for i := range n {
		appendAudit(t, s, audit.Event{ActorKind: audit.ActorApplicant, Actor: "13912345678", Action: "test.tick",
			ObjectType: "case", ObjectID: "ZH20260315000001", Detail: map[string]any{"n": i}, IP: "10.0.0.1", RequestID: "=HYPERLINK(1)"})
	}
	appendAudit(t, s, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "recovery.expired"})
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	_, page := sup.get(t, "/console/audit?action=test.tick")
	m := regexp.MustCompile(`href="(/console/audit/export\.csv[^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the supervisor's page has no export link")
	}
	resp, body := sup.get(t, html.UnescapeString(m[1]))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.HasPrefix(body, "\xEF\xBB\xBF") {
		t.Fatalf("no UTF-8 BOM: % x", body[:min(len(body), 8)])
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\xEF\xBB\xBF")))
	header, err := r.Read()
	if err != nil || !slices.Equal(header, []string{"编号", "链序号", "时间", "操作人类型", "操作人", "操作", "操作代码", "对象类型", "对象", "详情", "IP地址", "请求编号"}) {
		t.Fatalf("header %q %v", header, err)
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rec)
	}
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	first, last := rows[0], rows[n-1]
	if first[4] != "139****5678" || first[3] != "申请人" || first[6] != "test.tick" || first[7] != "案件" || first[8] != "ZH20260315000001" ||
		first[9] != "n："+strconv.Itoa(n-1) || first[10] != "10.0.0.1" {
		t.Fatalf("first row %q", first)
	}
	if last[9] != "n：0" || strings.Contains(body, "13912345678") {
		t.Fatalf("last row %q, or a phone unmasked", last)
	}
	// A value a spreadsheet would run as a formula is kept as text.
	if first[11] != "'=HYPERLINK(1)" {
		t.Fatalf("request id column %q", first[11])
	}
	// The export is on record with its filter and its row count.
	ctx := context.Background()
	ev := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("audit.exported")).OnlyX(ctx)
	if ev.Actor != "gd_super" || ev.Detail["action"] != "test.tick" || ev.Detail["rows"] != float64(n) {
		t.Fatalf("export entry %+v", ev)
	}
	// And it shows on the page under its label.
	if _, page = sup.get(t, "/console/audit?action=audit.exported"); !strings.Contains(rowsOf(page), "导出审计日志") || !strings.Contains(rowsOf(page), "<dt>条数</dt><dd>"+strconv.Itoa(n)+"</dd>") {
		t.Fatalf("export entry not shown:\n%s", rowsOf(page))
	}
}

func TestAuditAdminReadsButNeverExports(t *testing.T) {
	s := newTestServer(t)
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	resp, body := admin.get(t, "/console/audit")
	if resp.StatusCode != 200 || !strings.Contains(rowsOf(body), "工作人员登录成功") {
		t.Fatalf("admin audit page: %d", resp.StatusCode)
	}
	if strings.Contains(body, "export.csv") {
		t.Error("the admin's page offers an export they may not take")
	}
	if resp, _ := admin.get(t, "/console/audit/export.csv"); resp.StatusCode != 403 {
		t.Fatalf("admin export: %d", resp.StatusCode)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("audit.exported")).CountX(context.Background()); n != 0 {
		t.Fatalf("a refused export was recorded as done (%d)", n)
	}
}

func TestAuditVerifyShowsAnIntactChain(t *testing.T) {
	s := newTestServer(t)
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	_, body := sup.get(t, "/console/audit?staff=gd_super")
	if !strings.Contains(body, "日志完整性校验") || !strings.Contains(body, `action="/console/audit/verify"`) {
		t.Fatal("no chain check panel")
	}
	resp, body := sup.post(t, "/console/audit/verify", url.Values{"staff": {"gd_super"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "完整") || !strings.Contains(body, "哈希链完整") {
		t.Fatalf("verify: %d\n%.2000s", resp.StatusCode, body)
	}
	// The filter is kept along.
	if !strings.Contains(body, `name="staff" value="gd_super"`) {
		t.Error("the check forgot the filter")
	}
}

func TestAuditVerifyNamesTheFirstTamperedEntry(t *testing.T) {
	s := newTestServer(t)
	for i := range 5 {
		appendAudit(t, s, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "test.tick", Detail: map[string]any{"n": i}})
	}
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	if _, body := sup.post(t, "/console/audit/verify", url.Values{}); !strings.Contains(body, "哈希链完整") {
		t.Fatalf("untouched log not reported intact:\n%.3000s", body)
	}
	// The attacker rewrites the third entry with SQL (ent refuses updates).
	ctx := context.Background()
	victim := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("test.tick")).Order(auditevent.ByID()).AllX(ctx)[2]
	if _, err := s.db.SQL.Exec("UPDATE audit_events SET action = 'test.innocent' WHERE id = ?", victim.ID); err != nil {
		t.Fatal(err)
	}
	resp, body := sup.post(t, "/console/audit/verify", url.Values{})
	if resp.StatusCode != 200 || strings.Contains(body, "哈希链完整") || !strings.Contains(body, "发现异常") {
		t.Fatalf("tampered log: %d\n%.3000s", resp.StatusCode, body)
	}
	for _, want := range []string{
		"序号 " + strconv.FormatInt(*victim.Seq, 10) + "（编号 " + strconv.Itoa(victim.ID) + "）",
		"test.innocent",
		"记录内容与其哈希不符",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the check's result does not name %q", want)
		}
	}
	// An admin sees the same result.
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	admin.get(t, "/console/audit")
	if _, body := admin.post(t, "/console/audit/verify", url.Values{}); !strings.Contains(body, "记录内容与其哈希不符") {
		t.Error("the admin's check misses the tampered entry")
	}
}
