package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// dashboardMatrix are the role × route rows of the dashboard pages (TestRoleRouteMatrix).
func dashboardMatrix(t *testing.T, s *testServer, number string) []matrixRow {
	return []matrixRow{
		// Supervisors and administrators read the dashboard; reviewers do not.
		{"GET", "/console/dashboard", "/console/dashboard", supervisorsAndAdmins(200), nil},
		// A refused filter shows the form again with the problem.
		{"GET", "/console/dashboard", "/console/dashboard?from=2026-05-02&to=2026-05-01", supervisorsAndAdmins(422), nil},
	}
}

// backlogRow reads a city's row of the backlog table: 待审核, 审核中, 待主管复核,
// 已退回补正, 合计; nil when the city has no row.
func backlogRow(t *testing.T, body, city string) []string {
	t.Helper()
	m := regexp.MustCompile(`<tr><th scope="row">` + city + `</th>` + strings.Repeat(`<td class="num">(\d+)</td>`, 5) + `</tr>`).FindStringSubmatch(body)
	if m == nil {
		return nil
	}
	return m[1:]
}

// section is the part of the page from the element with id to the next </table>.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no %s on the page", id)
	}
	j := strings.Index(body[i:], "</table>")
	return body[i : i+j]
}

func TestDashboardPageShowsTheFiguresAndChartsOfRealDecisions(t *testing.T) {
	s := recoveryFixture(t)
	// Monday 2026-05-11 10:00: a case of 江门 is submitted, due Wednesday
	// 05-13; the reviewer rejects it at 11:30, 1.5 working hours later.
	s.clock.Set(time.Date(2026, 5, 11, 10, 0, 0, 0, rules.Shanghai))
	number := submittedCase(t, s)
	s.clock.Set(time.Date(2026, 5, 11, 11, 30, 0, 0, rules.Shanghai))
	rv := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	mustClaim(t, rv, number)
	if resp, body := rv.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "reason": {"unclear_image"},
		"version": {fmt.Sprint(caseVersion(t, s, number))}}); resp.StatusCode != 303 {
		t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
	}
	if st := s.db.Ent.RecoveryCase.Query().OnlyX(context.Background()).Status; st != "rejected" {
		t.Fatalf("status %s", st)
	}
	// The unit, told of the rejection, applies again: one case of 江门 waits.
	s.waitSMS(t, "13800006666", number+"未通过审核")
	submittedCase(t, s)

	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	resp, body := sup.get(t, "/console/dashboard")
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard: %d %.300s", resp.StatusCode, body)
	}
	// The default range is this week and the 7 before: from Monday 03-23.
	if !strings.Contains(body, "统计范围：2026-03-23 至 2026-05-11") {
		t.Errorf("default range not shown")
	}
	if got := backlogRow(t, body, "江门市"); strings.Join(got, " ") != "1 0 0 0 1" {
		t.Errorf("江门 backlog %v, want 1 submitted", got)
	}
	if got := backlogRow(t, body, "广州市"); strings.Join(got, " ") != "0 0 0 0 0" {
		t.Errorf("广州 backlog %v, want a row of zeros", got)
	}
	if n := strings.Count(strings.Split(section(t, body, "table-backlog"), "<tfoot>")[0], `<tr><th scope="row">`); n != 21 {
		t.Errorf("backlog rows: %d, want the 21 cities", n)
	}
	// Decided 05-11, due 05-13: on time, 1 of 1, in the week of 05-11.
	sla := section(t, body, "table-sla")
	if !strings.Contains(sla, `2026-05-11 至 2026-05-17</th><td class="num">1</td><td class="num">1</td><td class="num">100.0%</td>`) ||
		!strings.Contains(sla, `2026-03-23 至 2026-03-29</th><td class="num">0</td><td class="num">0</td><td class="num">—</td>`) {
		t.Errorf("SLA table:\n%s", sla)
	}
	if !strings.Contains(body, `id="stat-sla">100.0%`) || !strings.Contains(body, `id="stat-median">1.5<span class="dash-unit">工作小时`) {
		t.Errorf("headline figures missing")
	}
	// The reviewer's rejection, from the case history: 1 decision, 0 of 1 approved.
	if !regexp.MustCompile(`jm_reviewer</span></th><td class="num">1</td><td class="num">0</td><td class="num">1</td><td class="num">0</td><td class="num">0.0%</td>`).MatchString(body) {
		t.Errorf("reviewer table:\n%s", section(t, body, "table-reviewers"))
	}
	// Three charts, drawn as SVG without style attributes or scripts (CSP).
	if n := strings.Count(body, `<svg class="chart"`); n != 3 {
		t.Errorf("%d charts, want 3", n)
	}
	for _, bad := range []string{" style=", "<script"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The backlog chart draws 江门's one waiting case as a bar, labelled.
	if !regexp.MustCompile(`<rect class="seg-submitted" [^>]*><title>江门市 待审核</title></rect><text class="chart-value" [^>]*>1</text>`).MatchString(body) {
		t.Errorf("backlog chart has no bar for 江门")
	}
	if !regexp.MustCompile(`<rect class="seg-sla" x="\d+" y="\d+" width="\d+" height="180"><title>05-11 当周 100.0%</title>`).MatchString(body) {
		t.Errorf("SLA chart has no full column for the week of 05-11")
	}
	if resp, css := sup.get(t, "/static/css/dashboard.css"); resp.StatusCode != 200 || !strings.Contains(css, ".seg-submitted") {
		t.Errorf("dashboard.css: %d", resp.StatusCode)
	}

	// Filtered to 广州: no backlog there, no decisions.
	_, body = sup.get(t, "/console/dashboard?from=2026-05-01&to=2026-05-11&city=4401")
	if backlogRow(t, body, "江门市") != nil || strings.Join(backlogRow(t, body, "广州市"), " ") != "0 0 0 0 0" ||
		!strings.Contains(body, "统计范围内没有审核决定") || !strings.Contains(body, `id="stat-sla">—`) ||
		!strings.Contains(body, `<option value="4401" selected>广州市</option>`) {
		t.Errorf("广州 filter:\n%s", section(t, body, "table-backlog"))
	}
	// A range that ends before the decision shows none.
	_, body = sup.get(t, "/console/dashboard?from=2026-05-01&to=2026-05-10")
	if !strings.Contains(body, "统计范围内没有审核决定") || strings.Join(backlogRow(t, body, "江门市"), " ") != "1 0 0 0 1" {
		t.Errorf("range before the decision: reviewers or backlog wrong")
	}

	// A refused filter: 422, the message beside the field, default figures.
	resp, body = sup.get(t, "/console/dashboard?from=2026-05-12&to=2026-05-01")
	if resp.StatusCode != 422 || !strings.Contains(body, "开始日期不能晚于结束日期") || !strings.Contains(body, "以下为默认范围（最近 8 周）的统计") ||
		!strings.Contains(body, `value="2026-05-12"`) {
		t.Errorf("bad range: %d", resp.StatusCode)
	}
	if resp, body = sup.get(t, "/console/dashboard?city=9999"); resp.StatusCode != 422 || !strings.Contains(body, "请选择广东省的地级市") {
		t.Errorf("bad city: %d", resp.StatusCode)
	}

	// A supervisor of 广州 sees 广州 only: not 江门's case or its reviewer.
	gz := staffClient(t, s, "gz_super", "supervisor", "4401")
	_, body = gz.get(t, "/console/dashboard")
	if backlogRow(t, body, "江门市") != nil || backlogRow(t, body, "广州市") == nil || strings.Contains(body, "jm_reviewer") {
		t.Errorf("广州 supervisor sees beyond 广州")
	}
}
