package handlers_test

import (
	"image"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// personKinds are the evidence kinds of a person case.
var personKinds = []string{"id_front", "id_handheld"}

// startPerson starts the recovery of a person's account (name and ID number
// as the applicant types them).
func startPerson(t testing.TB, s *testServer, name, id string) *applicant {
	t.Helper()
	resp, body := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, map[string]string{"kind": "person", "name": name, "id_number": id}))
	if resp.StatusCode != 201 {
		t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	var st struct{ ID, Token string }
	mustJSON(t, body, &st)
	return &applicant{s: s, id: st.ID, token: st.Token}
}

// submitDrawn verifies the phone on record, uploads each kind as an image
// draw makes from seed (seed+1 for the next kind …), and submits: the case
// number.
func (a *applicant) submitDrawn(t testing.TB, phone string, kinds []string, draw func(w, h int, seed uint64) *image.RGBA, seed uint64) string {
	t.Helper()
	a.verifyPhone(t, phone)
	for i, kind := range kinds {
		if resp, body := a.upload(t, kind, jpegBytes(t, draw(400, 300, seed+uint64(i)))); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	return a.submit(t)
}

// submit submits a's case and returns its case number.
func (a *applicant) submit(t testing.TB) string {
	t.Helper()
	resp, body := a.req(t, http.MethodPost, "/submit", "", nil)
	number := regexp.MustCompile(`ZH\d{14}`).FindString(body)
	if resp.StatusCode != 200 || number == "" {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	return number
}

// personCaseOf walks the recovery API for a registered person (name, ID
// number, phone on record) and returns the case number.
func personCaseOf(t testing.TB, s *testServer, name, id, phone string, seed uint64) string {
	t.Helper()
	s.clock.Advance(61 * time.Second) // the phone's SMS rate limit
	return startPerson(t, s, name, id).submitDrawn(t, phone, personKinds, photo, seed)
}

// linkedRows are the case numbers of the page's 关联案件 table, in order,
// each with its row's text.
func linkedRows(page string) map[string]string {
	out := map[string]string{}
	table := regexp.MustCompile(`(?s)<table class="table cw-linked".*?</table>`).FindString(page)
	for _, m := range regexp.MustCompile(`(?s)<tr data-case="(ZH\d{14})">(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
		out[m[1]] = regexp.MustCompile(`<[^>]+>`).ReplaceAllString(m[2], " ")
	}
	return out
}

// gzUnitCase registers a second unit of the operator 王经办, in 广州 (its
// phone on record is the operator's), and walks the recovery API for it.
func gzUnitCase(t *testing.T, s *testServer) string {
	t.Helper()
	cert := uscc("91440106MA4UGHAB1")
	body := unitBody("jingban", "Abcd2468!x", cert, "gz_talent")
	body["region_code"], body["unit_name"] = "440106", "广州市天河人才服务中心"
	if resp, out := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, body)); resp.StatusCode != 201 {
		t.Fatalf("register the 广州 unit: %d %s", resp.StatusCode, out)
	}
	s.clock.Advance(61 * time.Second)
	resp, out := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, map[string]string{"kind": "unit", "username": "gz_talent",
		"cert_type": "uscc", "cert_number": cert, "unit_name": "广州市天河人才服务中心"}))
	if resp.StatusCode != 201 {
		t.Fatalf("start: %d %s", resp.StatusCode, out)
	}
	var st struct{ ID, Token string }
	mustJSON(t, out, &st)
	return (&applicant{s: s, id: st.ID, token: st.Token}).submitDrawn(t, "13800006666", recoverEvidenceKinds, photo, 300)
}

// TestLinkedCasesShareAValueAndStayInTheRegion: three cases share the phone
// 13800006666 across three accounts — the unit jm_talent (江门), its
// operator 王经办 (江门; also the unit's operator ID number) and a second
// unit of the operator in 广州 — and a fourth case of 江门 shares nothing.
// On the unit's case a 江门 reviewer sees exactly the operator's case, with
// what it shares, its status and outcome; the 广州 case is only counted. A
// province-wide supervisor sees both.
func TestLinkedCasesShareAValueAndStayInTheRegion(t *testing.T) {
	testenv.ForEachDB(t, linkedInRegion)
}

func linkedInRegion(t *testing.T, d *db.DB) {
	s := recoveryFixtureOn(t, d)
	unit := submittedCase(t, s)
	operator := personCaseOf(t, s, "王经办", zhangID, "13800006666", 60)
	guangzhou := gzUnitCase(t, s)
	s.person(t, "jm_other", "Abcd2468!x", "赵无关", idNumber("44070319900101555"), "13900000555")
	unrelated := personCaseOf(t, s, "赵无关", idNumber("44070319900101555"), "13900000555", 80)

	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	// Decide the operator's case first: the list shows its outcome.
	claim(t, rev, operator)
	if resp, body := decide(t, s, rev, operator, map[string][]string{"outcome": {"reject"}, "reason": {"unclear_image"}}); resp.StatusCode != 303 {
		t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
	}
	_, page := rev.get(t, "/console/cases/"+unit)
	rows := linkedRows(page)
	if len(rows) != 1 || rows[operator] == "" {
		t.Fatalf("linked cases of %s for a 江门 reviewer: %v, want exactly %s", unit, rows, operator)
	}
	for _, want := range []string{"身份证号码相同", "注册手机相同", "不通过", "个人"} {
		if !strings.Contains(rows[operator], want) {
			t.Errorf("the linked row of %s lacks %q: %q", operator, want, rows[operator])
		}
	}
	linked := regexp.MustCompile(`(?s)id="linked-title".*?</section>`).FindString(page)
	for _, n := range []string{guangzhou, unrelated} {
		if strings.Contains(linked, n) {
			t.Errorf("关联案件 names %s (outside the region, or sharing nothing)", n)
		}
	}
	if !strings.Contains(linked, "另有 1 件关联案件不在您的辖区") {
		t.Error("the case outside the region is not counted")
	}

	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	_, page = sup.get(t, "/console/cases/"+unit)
	rows = linkedRows(page)
	if len(rows) != 2 || rows[operator] == "" || !strings.Contains(rows[guangzhou], "注册手机相同") || strings.Contains(rows[guangzhou], "身份证") {
		t.Fatalf("linked cases for a province-wide supervisor: %v", rows)
	}
	if strings.Contains(page, `id="linked-outside"`) {
		t.Error("a province-wide supervisor is told of cases outside their regions")
	}
}
