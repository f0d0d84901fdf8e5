package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/ent/account"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

// submittedCase walks the recovery API for the fixture's unit jm_talent
// (region 440703, 江门市蓬江区) and returns the case number.
func submittedCase(t testing.TB, s *testServer) string {
	t.Helper()
	_, number := submittedCaseOf(t, s)
	return number
}

// submittedCaseOf is submittedCase that also returns the applicant.
func submittedCaseOf(t testing.TB, s *testServer) (*applicant, string) {
	t.Helper()
	a := startUnit(t, s, nil)
	return a, a.submitDrawn(t, "13800006666", []string{"id_front", "id_handheld", "unit_license", "authorization_letter"}, photo, 10)
}

// staffClient signs a new staff user in and returns their browser.
func staffClient(t testing.TB, s *testServer, username, role, region string) *pagesClient {
	t.Helper()
	s.staffUser(t, username, "Staff#2468go", username, role, region)
	pc := newPagesClient(t, s)
	if status, _, body := consoleSignIn(t, pc, username, "Staff#2468go", ""); status != 303 {
		t.Fatalf("sign in %s: %d %s", username, status, body)
	}
	return pc
}

func caseVersion(t testing.TB, s *testServer, number string) int {
	t.Helper()
	return s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background()).Version
}

func TestRoleRouteMatrix(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	actors := map[string]*pagesClient{
		"anonymous":  newPagesClient(t, s),
		"applicant":  newPagesClient(t, s),
		"reviewer":   staffClient(t, s, "jm_reviewer", "reviewer", "4407"),
		"outsider":   staffClient(t, s, "gz_reviewer", "reviewer", "4401"),
		"supervisor": staffClient(t, s, "gd_super", "supervisor", "44"),
		"admin":      staffClient(t, s, "gd_admin", "admin", "44"),
	}
	// The applicant holds an applicant session, which opens nothing here.
	app := actors["applicant"]
	app.get(t, "/login?kind=person")
	s.person(t, "zhang_san", "Abcd2468!x", "张三", liID, "13800001234")
	if resp, body := app.post(t, "/login", url.Values{"kind": {"person"}, "username": {"zhang_san"}, "password": {"Abcd2468!x"}}); resp.StatusCode != 303 {
		t.Fatalf("applicant sign-in: %d %.300s", resp.StatusCode, body)
	}

	rows := slices.Concat(reviewMatrix(number), auditMatrix(t, s, number), qaMatrix(t, s, number),
		dashboardMatrix(t, s, number), adminMatrix(t, s, number))
	// Signing out comes last: it ends each actor's session.
	matrix := append(rows, matrixRow{"POST", "/console/logout", "/console/logout", want{"*": 303, "anonymous": 303, "applicant": 303}, nil})
	covered := map[string]bool{}
	for _, m := range matrix {
		covered[m.method+" "+m.route] = true
	}
	// Every console route must be in the matrix: a new route without an
	// expectation (and so without a decided policy) fails here.
	for _, r := range s.app.GetRoutes(true) {
		if strings.HasPrefix(r.Path, "/console") && (r.Method == "GET" || r.Method == "POST") && !covered[r.Method+" "+r.Path] {
			t.Errorf("console route %s %s has no row in the role × route matrix", r.Method, r.Path)
		}
	}
	order := []string{"anonymous", "applicant", "outsider", "admin", "supervisor", "reviewer"}
	for _, m := range matrix {
		for _, who := range order {
			expected, ok := m.want[who]
			if !ok {
				expected = m.want["*"]
			}
			pc := actors[who]
			var resp *http.Response
			var body string
			if m.method == "GET" {
				resp, body = pc.get(t, m.path)
			} else {
				form := url.Values{"outcome": {"approve"}, "version": {"1"}, "note": {"matrix"}, "username": {"x"}, "password": {"y"}}
				if m.form != nil {
					form = m.form
				}
				if pc.csrf == "" {
					pc.get(t, "/console/login")
				}
				resp, body = pc.post(t, m.path, form)
			}
			if resp.StatusCode != expected {
				t.Errorf("%s %s as %s: %d, want %d\n%.300s", m.method, m.path, who, resp.StatusCode, expected, body)
			}
		}
	}
}

// want maps an actor of TestRoleRouteMatrix to the status it must get; "*"
// stands for every staff actor not listed.
type want map[string]int

// supervisorsAndAdmins is the want of a page for supervisors and
// administrators: status for them, 403 for the other staff, and the sign-in
// redirect for everyone not signed in to the console.
func supervisorsAndAdmins(status int) want {
	return want{"supervisor": status, "admin": status, "reviewer": 403, "outsider": 403, "anonymous": 303, "applicant": 303}
}

// matrixRow is one route of the role × route matrix: the route as
// registered, the path requested, the expected statuses, and the form to post
// (nil: a default form that satisfies no handler's validation by accident).
type matrixRow struct {
	method, route, path string
	want                want
	form                url.Values
}

// reviewMatrix are the rows of the sign-in and review routes, for the
// submitted case number (in 江门, 4407).
func reviewMatrix(number string) []matrixRow {
	c := "/console/cases/" + number
	return []matrixRow{
		{"GET", "/console/login", "/console/login", want{"*": 200, "anonymous": 200, "applicant": 200}, nil},
		// Every actor posts the unknown username "x": it is counted like a real
		// one, so the 5th failure (the supervisor's) locks it for everyone.
		{"POST", "/console/login", "/console/login", want{"*": 401, "anonymous": 401, "applicant": 401, "supervisor": 423, "reviewer": 423}, nil},
		{"GET", "/console", "/console", want{"*": 303, "anonymous": 303, "applicant": 303}, nil},
		{"GET", "/console/totp", "/console/totp", want{"*": 200, "anonymous": 303, "applicant": 303}, nil},
		// Staff opened the enrolment page above; an empty code is refused.
		{"POST", "/console/totp", "/console/totp", want{"*": 422, "anonymous": 303, "applicant": 303}, nil},
		// Anyone signed in may set their own password; the default form has no
		// new password, so it is refused before the current one is checked.
		{"GET", "/console/password", "/console/password", want{"*": 200, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/password", "/console/password", want{"*": 422, "anonymous": 303, "applicant": 303}, nil},
		{"GET", "/console/cases", "/console/cases", want{"*": 200, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"GET", "/console/cases/next", "/console/cases/next", want{"*": 303, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"GET", "/console/cases/:number", c, want{"*": 200, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// An administrator never sees evidence (separation of duties).
		{"GET", "/console/cases/:number/evidence/:kind", c + "/evidence/id_front", want{"*": 200, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/cases/:number/notes", c + "/notes", want{"*": 303, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// Only supervisors reassign; the form names nobody valid here, so even they get 422.
		{"POST", "/console/cases/:number/reassign", c + "/reassign", want{"supervisor": 422, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/cases/:number/decision", c + "/decision", want{"*": 409, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// The supervisor comes first in the order below and claims it; then it is taken.
		// Only supervisors resend a failed SMS; the case has none, so even they get 404.
		{"POST", "/console/cases/:number/sms/resend", c + "/sms/resend", want{"supervisor": 404, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, url.Values{"message_id": {"1"}}},
		// Only supervisors place and lift a legal hold (保全): placed, then lifted.
		{"POST", "/console/cases/:number/hold", c + "/hold", want{"supervisor": 303, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, url.Values{"hold_reason": {"涉诉"}}},
		{"POST", "/console/cases/:number/hold/lift", c + "/hold/lift", want{"supervisor": 303, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"GET", "/console/sms/failed", "/console/sms/failed", want{"supervisor": 200, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/cases/:number/claim", c + "/claim", want{"supervisor": 303, "reviewer": 409, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// Whoever may claim cases toggles their own 暂停接单; the default form resumes (no change).
		{"POST", "/console/duty", "/console/duty", want{"*": 303, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// Only supervisors see the reviewers' workload and set caps (jm_reviewer is a reviewer of 4407).
		{"GET", "/console/workload", "/console/workload", want{"supervisor": 200, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		{"POST", "/console/workload/:username/cap", "/console/workload/jm_reviewer/cap", want{"supervisor": 303, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, url.Values{"cap": {"5"}}},
		// Opening from 待审核: the supervisor holds it now (shown again), the
		// reviewer only sees it, the outsider does not.
		{"POST", "/console/cases/:number/open", c + "/open", want{"*": 303, "outsider": 404, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// Only supervisors act in bulk; the default form selects no case, so even they get 422.
		{"POST", "/console/cases/bulk", "/console/cases/bulk", want{"supervisor": 422, "reviewer": 403, "outsider": 403, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
		// 下一件 claims by POST only (the GET above claims nothing).
		{"POST", "/console/cases/next", "/console/cases/next", want{"*": 303, "admin": 403, "anonymous": 303, "applicant": 303}, nil},
	}
}

func TestReviewApproveThenPasswordTakesEffectFourHoursAfterItsSMS(t *testing.T) {
	s, _, number, pc, v := claimedUnitCase(t)
	// A decision based on an older version is refused with 409 and changes nothing.
	resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {fmt.Sprint(v - 1)}})
	if resp.StatusCode != 409 || !strings.Contains(body, "该案件已被他人更新") {
		t.Fatalf("stale decision: %d", resp.StatusCode)
	}
	pc.get(t, "/console/cases/"+number)
	text := s.newSMS(t, "13800006666", func() {
		resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {fmt.Sprint(v)}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/cases?decided="+number {
			t.Fatalf("approve: %d %s", resp.StatusCode, body)
		}
	})
	m := regexp.MustCompile(`新密码为：(\S+) 。`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("SMS without a password: %q", text)
	}
	password := m[1]
	ctx := context.Background()
	// The queue row no longer holds the password once sent.
	deadline := time.Now().Add(5 * time.Second)
	var acc = s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(ctx)
	for acc.PendingEffectiveAt == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		acc = s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(ctx)
	}
	row := s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose("password")).OnlyX(ctx)
	if acc.PendingEffectiveAt == nil || row.SentAt == nil || acc.PendingEffectiveAt.Sub(*row.SentAt) != 4*time.Hour {
		t.Fatalf("effective_at %v, sent_at %v", acc.PendingEffectiveAt, row.SentAt)
	}
	if resp, e := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 403 || e["code"] != "password_not_effective" {
		t.Fatalf("new password right away: %d %v", resp.StatusCode, e)
	}
	if resp, _ := login(t, s, "unit", "jm_talent", "Unit#Pass2468"); resp.StatusCode != 200 {
		t.Fatalf("old password before effective_at: %d", resp.StatusCode)
	}
	s.clock.Advance(4*time.Hour + time.Second)
	if resp, e := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 200 {
		t.Fatalf("new password 4 hours later: %d %v", resp.StatusCode, e)
	}
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx); rc.Status != state.Approved {
		t.Fatalf("status %s", rc.Status)
	}
}

func TestTwoReviewersDecidingAtOnceMakeOneDecision(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	a := staffClient(t, s, "jm_rev_a", "reviewer", "4407")
	b := staffClient(t, s, "jm_rev_b", "reviewer", "4407")
	a.get(t, "/console/cases/"+number)
	b.get(t, "/console/cases/"+number)
	// Both try to claim at once: one holds it.
	var wg sync.WaitGroup
	claims := make([]int, 2)
	for i, pc := range []*pagesClient{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := pc.post(t, "/console/cases/"+number+"/claim", url.Values{})
			claims[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	if !(claims[0] == 303 && claims[1] == 409 || claims[0] == 409 && claims[1] == 303) {
		t.Fatalf("claims %v", claims)
	}
	v := caseVersion(t, s, number)
	decisions := make([]int, 2)
	for i, pc := range []*pagesClient{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {fmt.Sprint(v)}})
			decisions[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range decisions {
		if st == 303 {
			ok++
		}
	}
	ctx := context.Background()
	if ok != 1 || s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose("password")).CountX(ctx) != 1 {
		t.Fatalf("decisions %v, password SMS %d", decisions, s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose("password")).CountX(ctx))
	}
	if acc := s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(ctx); acc.PendingPasswordHash == "" {
		t.Fatal("no pending password")
	}
}

func TestRejectAndReturnTellTheApplicant(t *testing.T) {
	s, _, number, pc, v := claimedUnitCase(t)
	resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)}})
	if resp.StatusCode != 422 || !strings.Contains(body, "请至少选择一项原因") {
		t.Fatalf("reject without reasons: %d", resp.StatusCode)
	}
	text := decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"return"}, "return_kind": {"unit_license"}, "note": {"内部：已电话核实经办人"}, "message": {"单位证件照上的公章不清晰，请重新拍摄"}})
	if !strings.Contains(text, "请重新上传：加盖单位公章的单位证件照") || !strings.Contains(text, "单位证件照上的公章不清晰，请重新拍摄") ||
		strings.Contains(text, "电话核实") {
		t.Fatalf("return SMS %q", text)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
	if rc.Status != state.Returned || rc.DueBy != nil || len(rc.ReturnKinds) != 1 {
		t.Fatalf("returned case: %s due %v kinds %v", rc.Status, rc.DueBy, rc.ReturnKinds)
	}
}

func TestRejectWithAReasonTellsTheApplicant(t *testing.T) {
	s, a, number, pc, v := claimedUnitCase(t)
	pc.get(t, "/console/cases/"+number)
	text := decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"reject"}, "reason": {"unclear_image"}})
	reason := reasonText(t, s, "unclear_image")
	if reason == "" {
		t.Fatal("unclear_image has no text")
	}
	if !strings.Contains(text, "未通过审核") || !strings.Contains(text, reason) || !strings.Contains(text, number) {
		t.Fatalf("reject SMS %q", text)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
	if rc.Status != state.Rejected {
		t.Fatalf("rejected case: %s", rc.Status)
	}
	// The applicant's status page says so, with the reason's text.
	resp, body := a.req(t, http.MethodGet, "", "", nil)
	var st struct {
		Status   string
		Decision *struct {
			Outcome string
			Reasons []struct{ Code, Text string }
		}
	}
	mustJSON(t, body, &st)
	if resp.StatusCode != 200 || st.Status != string(state.Rejected) || st.Decision == nil || st.Decision.Outcome != "reject" ||
		len(st.Decision.Reasons) != 1 || st.Decision.Reasons[0].Code != "unclear_image" || st.Decision.Reasons[0].Text != reason {
		t.Fatalf("applicant status: %d %s", resp.StatusCode, body)
	}
}

func TestExpiredClaimsGoBackToTheQueue(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	mustClaim(t, pc, number)
	s.clock.Advance(31 * time.Minute)
	n, err := s.recovery.ReleaseExpiredClaims(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("released %d %v", n, err)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
	if rc.Status != state.Submitted || rc.ClaimedBy != nil {
		t.Fatalf("after release: %s %v", rc.Status, rc.ClaimedBy)
	}
}

var caseLink = regexp.MustCompile(`<a[^>]+href="/console/cases/(ZH\d{14})"`)

func TestQueueShowsExactlyTheReviewersRegionInKeysetPages(t *testing.T) {
	s := recoveryFixture(t)
	seedQueue(t, s, 6000)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	seen := map[string]bool{}
	path := "/console/cases?tab=pending"
	pages := 0
	for ; ; pages++ {
		resp, body := pc.get(t, path)
		if resp.StatusCode != 200 || pages > 50 {
			t.Fatalf("page %d: %d", pages, resp.StatusCode)
		}
		for _, m := range caseLink.FindAllStringSubmatch(body, -1) {
			if seen[m[1]] {
				t.Fatalf("case %s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		m := nextLink.FindStringSubmatch(body)
		if m == nil {
			break
		}
		path = "/console/cases?tab=pending&after=" + url.QueryEscape(m[1])
	}
	want := s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted), recoverycase.RegionCodeHasPrefix("4407")).
		Select(recoverycase.FieldCaseNumber).StringsX(context.Background())
	if len(want) <= 50 || pages < 1 || len(seen) != len(want) {
		t.Fatalf("listed %d cases on %d pages, the region holds %d", len(seen), pages+1, len(want))
	}
	for _, n := range want {
		if !seen[n] {
			t.Fatalf("case %s of the region is missing", n)
		}
	}
}

func TestSupervisorReassignsToAReviewerOfTheRegion(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	a := staffClient(t, s, "jm_rev_a", "reviewer", "4407")
	staffClient(t, s, "jm_rev_b", "reviewer", "4407")
	staffClient(t, s, "gz_rev", "reviewer", "4401")
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	mustClaim(t, a, number)
	ctx := context.Background()
	aUser := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey("jm_rev_a")).OnlyX(ctx)
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx); rc.ClaimedBy == nil || *rc.ClaimedBy != aUser.ID {
		t.Fatalf("after a's claim: claimed by %v, want %v", rc.ClaimedBy, aUser.ID)
	}
	_, page := sup.get(t, "/console/cases/"+number)
	if !strings.Contains(page, `action="/console/cases/`+number+`/reassign"`) {
		t.Fatal("the supervisor sees no reassignment form")
	}
	if resp, body := sup.post(t, "/console/cases/"+number+"/reassign", url.Values{"to": {"gz_rev"}}); resp.StatusCode != 422 || !strings.Contains(body, "无权审核此地区") {
		t.Fatalf("to a reviewer of another region: %d", resp.StatusCode)
	}
	if resp, body := sup.post(t, "/console/cases/"+number+"/reassign", url.Values{"to": {"jm_rev_b"}}); resp.StatusCode != 303 {
		t.Fatalf("reassign: %d %s", resp.StatusCode, body)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
	b := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey("jm_rev_b")).OnlyX(ctx)
	if rc.Status != state.InReview || rc.ClaimedBy == nil || *rc.ClaimedBy != b.ID {
		t.Fatalf("after reassignment: %s %v", rc.Status, rc.ClaimedBy)
	}
	// The first reviewer no longer holds it: their decision is refused.
	a.get(t, "/console/cases/"+number)
	if resp, _ := a.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {fmt.Sprint(rc.Version)}}); resp.StatusCode != 409 {
		t.Fatalf("the former holder decided: %d", resp.StatusCode)
	}
}

func TestCasePageFlagsEvidenceUsedByAnotherAccount(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		s := newTestServerOn(t, d)
		s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
		if resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent"))); resp.StatusCode != 201 {
			t.Fatalf("unit: %s", body)
		}
		first := submittedCase(t, s) // its id_front is jpegBytes(photo(400, 300, 10))
		// Another account: a person in 广州 who sends the very same ID photo,
		// and a handheld photo that is the unit's, re-encoded.
		s.person(t, "li_si", "Abcd2468!x", "李四", liID, "13800007777")
		a := startPerson(t, s, "李四", liID)
		a.verifyPhone(t, "13800007777")
		if resp, body := a.upload(t, "id_front", jpegBytes(t, photo(400, 300, 10))); resp.StatusCode != 201 {
			t.Fatalf("upload id_front: %d %s", resp.StatusCode, body)
		}
		handheld, _, err := image.Decode(bytes.NewReader(jpegBytes(t, photo(400, 300, 11))))
		if err != nil {
			t.Fatal(err)
		}
		var reencoded bytes.Buffer
		if err := jpeg.Encode(&reencoded, handheld, &jpeg.Options{Quality: 70}); err != nil {
			t.Fatal(err)
		}
		if resp, body := a.upload(t, "id_handheld", reencoded.Bytes()); resp.StatusCode != 201 {
			t.Fatalf("upload id_handheld: %d %s", resp.StatusCode, body)
		}
		second := a.submit(t)

		sup := staffClient(t, s, "gd_super", "supervisor", "44")
		_, page := sup.get(t, "/console/cases/"+second)
		if !strings.Contains(page, `href="/console/cases/`+first+`">`+first+`</a> 的材料相同`) {
			t.Fatalf("no exact-duplicate flag for %s on %s", first, second)
		}
		if !regexp.MustCompile(first + `</a> 的材料相似（差异 \d）`).MatchString(page) {
			t.Fatal("no near-duplicate flag for the re-encoded photo")
		}
		// A reviewer of 广州 alone sees the number but gets no link into 江门.
		gz := staffClient(t, s, "gz_reviewer", "reviewer", "4401")
		_, page = gz.get(t, "/console/cases/"+second)
		if !strings.Contains(page, first+`</span>（不在您的辖区）`) || strings.Contains(page, `href="/console/cases/`+first+`"`) {
			t.Fatal("a duplicate outside the viewer's regions must not be linked")
		}
	})
}
