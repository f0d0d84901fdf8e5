package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
)

// qaMatrix are the role × route rows of the qa pages (TestRoleRouteMatrix).
func qaMatrix(t *testing.T, s *testServer, number string) []matrixRow {
	ctx := context.Background()
	// A decision of jm_reviewer's drawn for QA, on the matrix's case.
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
	rev := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey("jm_reviewer")).OnlyX(ctx)
	r := s.db.Ent.QAReview.Create().SetCaseID(rc.ID).SetOutcome(qareview.OutcomeReject).SetDecidedBy(rev.ID).
		SetDecidedAt(s.clock.Now()).SetRegionCode(rc.RegionCode).SetWhy(qareview.WhySampled).SaveX(ctx)
	staffOnly := want{"anonymous": 303, "applicant": 303}
	with := func(w want) want {
		for k, v := range staffOnly {
			w[k] = v
		}
		return w
	}
	return []matrixRow{
		// Only supervisors review decisions; admins neither decide nor judge them.
		{"GET", "/console/qa", "/console/qa", with(want{"*": 403, "supervisor": 200}), nil},
		// The supervisor comes before the reviewer: they agree; the reviewer is refused by policy.
		{"POST", "/console/qa/:id", fmt.Sprintf("/console/qa/%d", r.ID), with(want{"*": 403, "supervisor": 303}),
			url.Values{"verdict": {"agree"}, "comment": {"matrix"}}},
		// The case is in review, not awaiting a second approval: even a supervisor gets 409.
		{"POST", "/console/cases/:number/second-approval", "/console/cases/" + number + "/second-approval",
			with(want{"*": 403, "supervisor": 409}), url.Values{"verdict": {"approve"}, "version": {"1"}}},
	}
}

// qaFixture is recoveryFixture with server options (the QA share).
func qaFixture(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	s := newTestServer(t, opts...)
	s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
	if resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent"))); resp.StatusCode != 201 {
		t.Fatalf("unit: %s", body)
	}
	return s
}

// unitCase walks the recovery API for jm_talent with extra start fields and
// images drawn from seed, and returns the applicant and the case number.
func unitCase(t *testing.T, s *testServer, extra map[string]string, seed uint64) (*applicant, string) {
	t.Helper()
	a := startUnit(t, s, extra)
	return a, a.submitDrawn(t, "13800006666", recoverEvidenceKinds, photo, seed)
}

// claim claims a case for pc and returns its case page after the claim.
func claim(t *testing.T, pc *pagesClient, number string) string {
	t.Helper()
	pc.get(t, "/console/cases/"+number)
	resp, body := pc.post(t, "/console/cases/"+number+"/claim", url.Values{})
	return pc.follow(t, resp, body, "/console/cases/"+number)
}

// decide posts a decision on the case's current version.
func decide(t *testing.T, s *testServer, pc *pagesClient, number string, form url.Values) (*http.Response, string) {
	t.Helper()
	form.Set("version", fmt.Sprint(caseVersion(t, s, number)))
	return pc.post(t, "/console/cases/"+number+"/decision", form)
}

func caseRow(t *testing.T, s *testServer, number string) *ent.RecoveryCase {
	t.Helper()
	return s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).WithAccount().OnlyX(context.Background())
}

func staffID(t *testing.T, s *testServer, username string) int {
	t.Helper()
	return s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey(username)).OnlyX(context.Background()).ID
}

var passwordInSMS = regexp.MustCompile(`新密码为：(\S+) 。`)

const fourEyesNotice = "此案件需主管复核后方可发放新密码"

func TestQASamplingTakesTheConfiguredShare(t *testing.T) {
	for _, tc := range []struct {
		percent int
		sampled bool
	}{{100, true}, {0, false}} {
		t.Run(fmt.Sprintf("percent_%d", tc.percent), func(t *testing.T) {
			s := qaFixture(t, qaSample(tc.percent))
			number := submittedCase(t, s)
			rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
			if page := claim(t, rev, number); strings.Contains(page, fourEyesNotice) {
				t.Fatal("the fixture's case carries a risk flag; this test needs a plain one")
			}
			if resp, body := decide(t, s, rev, number, url.Values{"outcome": {"approve"}}); resp.StatusCode != 303 {
				t.Fatalf("approve: %d %.300s", resp.StatusCode, body)
			}
			ctx := context.Background()
			reviews := s.db.Ent.QAReview.Query().AllX(ctx)
			sup := staffClient(t, s, "gd_super", "supervisor", "44")
			_, page := sup.get(t, "/console/qa")
			listed := strings.Contains(page, `href="/console/cases/`+number+`"`)
			if !tc.sampled {
				if len(reviews) != 0 || listed {
					t.Fatalf("at 0%%: %d reviews, listed %v", len(reviews), listed)
				}
				return
			}
			if len(reviews) != 1 {
				t.Fatalf("at 100%%: %d reviews", len(reviews))
			}
			r := reviews[0]
			if r.Why != qareview.WhySampled || r.Outcome != qareview.OutcomeApprove || r.Status != qareview.StatusOpen ||
				r.DecidedBy != staffID(t, s, "jm_reviewer") || r.RegionCode != "440703" {
				t.Fatalf("review %+v", r)
			}
			// The queue shows the decision, its decider and the masked certificate.
			if !listed || !strings.Contains(page, "随机抽样") || !strings.Contains(page, "jm_reviewer") ||
				strings.Contains(page, unitA) || !strings.Contains(page, "新密码尚未生效") {
				t.Fatalf("QA page lacks the sampled decision or shows the full certificate number:\n%s", page)
			}
		})
	}
}

func TestRiskFlagsAreDetectedAndShownBeforeTheDecision(t *testing.T) {
	cases := []struct {
		flag  vocab.Flag
		setup func(t *testing.T, s *testServer) string // returns the case number
	}{
		{vocab.FlagDuplicateEvidence, func(t *testing.T, s *testServer) string {
			// Another account's case used the very same ID photo first.
			s.person(t, "li_si", "Abcd2468!x", "李四", liID, "13800007777")
			other := startPerson(t, s, "李四", liID)
			other.verifyPhone(t, "13800007777")
			other.upload(t, "id_front", jpegBytes(t, photo(400, 300, 10)))
			other.upload(t, "id_handheld", jpegBytes(t, photo(400, 300, 90)))
			other.req(t, http.MethodPost, "/submit", "", nil)
			_, number := unitCase(t, s, nil, 10)
			return number
		}},
		{vocab.FlagLowSimilarity, func(t *testing.T, s *testServer) string {
			_, number := unitCase(t, s, map[string]string{"unit_name": "佛山市顺德区美的电器"}, 10)
			return number
		}},
		{vocab.FlagRecentlyLocked, func(t *testing.T, s *testServer) string {
			for range 5 {
				login(t, s, "unit", "jm_talent", "Wrong#Pass2468")
			}
			if resp, e := login(t, s, "unit", "jm_talent", "Unit#Pass2468"); resp.StatusCode != 423 {
				t.Fatalf("not locked: %d %v", resp.StatusCode, e)
			}
			// The lock ran out and a sign-in cleared it; it still counts for 7 days.
			s.clock.Advance(3 * 24 * time.Hour)
			if resp, _ := login(t, s, "unit", "jm_talent", "Unit#Pass2468"); resp.StatusCode != 200 {
				t.Fatalf("sign-in after the lock: %d", resp.StatusCode)
			}
			_, number := unitCase(t, s, nil, 10)
			return number
		}},
		{vocab.FlagRecentlyRejected, func(t *testing.T, s *testServer) string {
			_, first := unitCase(t, s, nil, 10)
			rev := staffClient(t, s, "jm_other", "reviewer", "4407")
			claim(t, rev, first)
			if resp, body := decide(t, s, rev, first, url.Values{"outcome": {"reject"}, "reason": {"unclear_image"}}); resp.StatusCode != 303 {
				t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
			}
			s.waitSMS(t, "13800006666", "未通过审核")
			s.clock.Advance(20 * 24 * time.Hour)
			_, number := unitCase(t, s, nil, 20)
			return number
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.flag), func(t *testing.T) {
			s := qaFixture(t, qaSample(0))
			number := tc.setup(t, s)
			rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
			page := claim(t, rev, number)
			label := tc.flag.Label()
			if !strings.Contains(page, fourEyesNotice) || !strings.Contains(page, label) {
				t.Fatalf("the case page does not explain the flag %q before the decision", label)
			}
			for _, other := range vocab.Flags {
				if other != tc.flag && strings.Contains(page, other.Label()) {
					t.Errorf("the page also shows %s", other)
				}
			}
			if resp, body := decide(t, s, rev, number, url.Values{"outcome": {"approve"}}); resp.StatusCode != 303 {
				t.Fatalf("approve: %d %.300s", resp.StatusCode, body)
			}
			rc := caseRow(t, s, number)
			if rc.Status != state.AwaitingSecond || !slices.Equal(rc.RiskFlags, []string{string(tc.flag)}) {
				t.Fatalf("after approval: %s, flags %v", rc.Status, rc.RiskFlags)
			}
		})
	}
}

func TestFourEyesApprovalOfAFlaggedCase(t *testing.T) {
	s := qaFixture(t, qaSample(0))
	a, number := unitCase(t, s, map[string]string{"unit_name": "佛山市顺德区美的电器"}, 10)
	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	sup1 := staffClient(t, s, "gd_super", "supervisor", "44")
	sup2 := staffClient(t, s, "jm_super", "supervisor", "4407")
	sup3 := staffClient(t, s, "gd_super3", "supervisor", "44")
	ctx := context.Background()
	passwordSMS := func() int {
		return s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose(recovery.PurposePassword)).CountX(ctx)
	}

	// The reviewer approves: the case waits for a supervisor, no password yet.
	claim(t, rev, number)
	if resp, body := decide(t, s, rev, number, url.Values{"outcome": {"approve"}, "note": {"材料齐全"}}); resp.StatusCode != 303 {
		t.Fatalf("approve: %d %.300s", resp.StatusCode, body)
	}
	rc := caseRow(t, s, number)
	if rc.Status != state.AwaitingSecond || rc.FirstApprovedBy == nil || *rc.FirstApprovedBy != staffID(t, s, "jm_reviewer") ||
		rc.FirstApprovedAt == nil || rc.Outcome != nil || rc.Edges.Account.PendingPasswordHash != "" || passwordSMS() != 0 {
		t.Fatalf("after the first approval: %s by %v, outcome %v, pending %v, password SMS %d",
			rc.Status, rc.FirstApprovedBy, rc.Outcome, rc.Edges.Account.PendingPasswordHash != "", passwordSMS())
	}
	// The applicant sees it in review; the reviewer sees it waiting.
	if _, body := a.req(t, http.MethodGet, "", "", nil); !strings.Contains(body, `"status":"in_review"`) || !strings.Contains(body, `"decision":null`) {
		t.Fatalf("applicant status: %s", body)
	}
	if _, page := rev.get(t, "/console/cases/"+number); !strings.Contains(page, "您的通过决定正在等待主管复核") || strings.Contains(page, "second-approval-form") {
		t.Fatal("the reviewer's page does not say the approval awaits a supervisor")
	}
	if resp, _ := rev.post(t, "/console/cases/"+number+"/second-approval", url.Values{"verdict": {"approve"}, "version": {fmt.Sprint(rc.Version)}}); resp.StatusCode != 403 {
		t.Fatalf("a reviewer co-signed: %d", resp.StatusCode)
	}
	// The supervisor finds it on the QA page, and declines: a note is required.
	if _, page := sup1.get(t, "/console/qa"); !strings.Contains(page, `id="awaiting-table"`) || !strings.Contains(page, number) {
		t.Fatal("the QA page does not list the case awaiting a second approval")
	}
	_, page := sup1.get(t, "/console/cases/"+number)
	if !strings.Contains(page, `id="second-approval-form"`) || !strings.Contains(page, vocab.FlagLowSimilarity.Label()) {
		t.Fatal("the supervisor sees no second-approval form or no flag")
	}
	if resp, body := sup1.post(t, "/console/cases/"+number+"/second-approval", url.Values{"verdict": {"decline"}, "version": {fmt.Sprint(rc.Version)}}); resp.StatusCode != 422 || !strings.Contains(body, "退回重审时请填写复核意见") {
		t.Fatalf("decline without a note: %d", resp.StatusCode)
	}
	resp, body := sup1.post(t, "/console/cases/"+number+"/second-approval", url.Values{"verdict": {"decline"}, "note": {"请核实单位名称"}, "version": {fmt.Sprint(rc.Version)}})
	if resp.StatusCode != 303 {
		t.Fatalf("decline: %d %.300s", resp.StatusCode, body)
	}
	if rc = caseRow(t, s, number); rc.Status != state.Submitted || rc.FirstApprovedBy != nil || passwordSMS() != 0 {
		t.Fatalf("after the decline: %s, first approver %v", rc.Status, rc.FirstApprovedBy)
	}
	if n := s.db.Ent.CaseEvent.Query().Where(caseevent.Type("second_declined"), caseevent.Note("请核实单位名称")).CountX(ctx); n != 1 {
		t.Fatalf("second_declined events %d", n)
	}

	// The supervisor then approves it themselves: they cannot co-sign their own approval.
	claim(t, sup1, number)
	if resp, body := decide(t, s, sup1, number, url.Values{"outcome": {"approve"}}); resp.StatusCode != 303 {
		t.Fatalf("supervisor approve: %d %.300s", resp.StatusCode, body)
	}
	v := fmt.Sprint(caseVersion(t, s, number))
	sup1.get(t, "/console/cases/"+number)
	if resp, body := sup1.post(t, "/console/cases/"+number+"/second-approval", url.Values{"verdict": {"approve"}, "version": {v}}); resp.StatusCode != 403 || !strings.Contains(body, "不能复核本人的通过决定") {
		t.Fatalf("co-signing one's own approval: %d", resp.StatusCode)
	}
	// Another supervisor of the region co-signs: the password goes out.
	sup2.get(t, "/console/cases/"+number)
	// The co-signature has the approval's confirmation dialog (A, Enter).
	if _, page := sup2.get(t, "/console/cases/"+number); !strings.Contains(page, `id="second-approve-dialog"`) {
		t.Fatal("no confirmation dialog for the co-signature")
	}
	text := s.newSMS(t, "13800006666", func() {
		resp, body := sup2.post(t, "/console/cases/"+number+"/second-approval", url.Values{"verdict": {"approve"}, "version": {v}})
		// The case page confirms what was done.
		page := sup2.follow(t, resp, body, "/console/cases/"+number+"?decided="+number)
		if !strings.Contains(page, "已通过 "+number+"，新密码短信已排队") {
			t.Fatal("no confirmation after the co-signature")
		}
	})
	if passwordInSMS.FindStringSubmatch(text) == nil {
		t.Fatalf("no password in %q", text)
	}
	rc = caseRow(t, s, number)
	if rc.Status != state.Approved || rc.DecidedBy == nil || *rc.DecidedBy != staffID(t, s, "gd_super") || rc.Edges.Account.PendingPasswordHash == "" {
		t.Fatalf("after the co-sign: %s decided by %v", rc.Status, rc.DecidedBy)
	}
	// A flagged decision is always drawn for QA (the share is 0 here)…
	r := s.db.Ent.QAReview.Query().OnlyX(ctx)
	if r.Why != qareview.WhyFlagged || r.DecidedBy != staffID(t, s, "gd_super") {
		t.Fatalf("QA review %+v", r)
	}
	// …and neither its decider nor its co-signer may review it.
	qa := fmt.Sprintf("/console/qa/%d", r.ID)
	for who, pc := range map[string]*pagesClient{"decider": sup1, "co-signer": sup2} {
		_, page := pc.get(t, "/console/qa")
		if !strings.Contains(page, "本人作出或复核的决定，不能质检") {
			t.Errorf("the %s is offered a verdict form", who)
		}
		if resp, body := pc.post(t, qa, url.Values{"verdict": {"agree"}}); resp.StatusCode != 403 || !strings.Contains(body, "不能对本人作出或复核通过的审核决定进行质检") {
			t.Errorf("the %s reviewed their own decision: %d", who, resp.StatusCode)
		}
	}
	sup3.get(t, "/console/qa")
	if resp, body := sup3.post(t, qa, url.Values{"verdict": {"agree"}, "comment": {"同意"}}); resp.StatusCode != 303 {
		t.Fatalf("a third supervisor: %d %.300s", resp.StatusCode, body)
	}
	if r = s.db.Ent.QAReview.GetX(ctx, r.ID); r.Status != qareview.StatusAgreed || r.ReviewerID == nil || *r.ReviewerID != staffID(t, s, "gd_super3") {
		t.Fatalf("after the verdict: %+v", r)
	}
	if resp, _ := sup3.post(t, qa, url.Values{"verdict": {"agree"}}); resp.StatusCode != 409 {
		t.Fatalf("a second verdict: %d", resp.StatusCode)
	}
}

func TestQADisagreementReopensTheCase(t *testing.T) {
	s := qaFixture(t, qaSample(100))
	// Submitted on Monday 2 March 2026: due Wednesday the 4th.
	s.clock.Set(time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	a, number := unitCase(t, s, nil, 10)
	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	claim(t, rev, number)
	phone := caseRow(t, s, number).QueryAccount().OnlyX(context.Background()).Phone
	s.newSMS(t, phone, func() {
		if resp, body := decide(t, s, rev, number, url.Values{"outcome": {"reject"}, "reason": {"unclear_image"}}); resp.StatusCode != 303 {
			t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
		}
	})
	// Reviewed on Wednesday: the new review is due Friday the 6th.
	s.clock.Advance(48 * time.Hour)
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	ctx := context.Background()
	r := s.db.Ent.QAReview.Query().OnlyX(ctx)
	qa := fmt.Sprintf("/console/qa/%d", r.ID)
	_, page := sup.get(t, "/console/qa")
	if !strings.Contains(page, `action="`+qa+`"`) || strings.Contains(page, `id="qa-`+fmt.Sprint(r.ID)+`-cancel"`) {
		t.Fatal("the QA page lacks the verdict form, or offers to cancel a password a rejection never issued")
	}
	if resp, body := sup.post(t, qa, url.Values{"verdict": {"disagree"}}); resp.StatusCode != 422 || !strings.Contains(body, "不同意时请填写质检意见") {
		t.Fatalf("disagree without a comment: %d", resp.StatusCode)
	}
	var resp *http.Response
	var body string
	text := s.newSMS(t, phone, func() {
		resp, body = sup.post(t, qa, url.Values{"verdict": {"disagree"}, "comment": {"照片清晰，不应拒绝"}})
	})
	if !strings.Contains(text, number) || !strings.Contains(text, "经复核将重新审核") {
		t.Fatalf("the applicant's SMS about the reopening: %q", text)
	}
	page = sup.follow(t, resp, body, "/console/qa?done=reopen")
	if !strings.Contains(page, "案件重新进入待审核队列") {
		t.Fatal("no notice of the reopening")
	}
	rc := caseRow(t, s, number)
	if rc.Status != state.Submitted || rc.Outcome != nil || rc.DecidedBy != nil || rc.ClaimedBy != nil || len(rc.Reasons) != 0 ||
		rc.DueBy == nil || rc.DueBy.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly) != "2026-03-06" {
		t.Fatalf("reopened case: %s outcome %v decided by %v claimed %v reasons %v due %v", rc.Status, rc.Outcome, rc.DecidedBy, rc.ClaimedBy, rc.Reasons, rc.DueBy)
	}
	if r = s.db.Ent.QAReview.GetX(ctx, r.ID); r.Status != qareview.StatusDisagreed || r.Action == nil || *r.Action != qareview.ActionReopen || r.Comment != "照片清晰，不应拒绝" {
		t.Fatalf("review %+v", r)
	}
	// It is back in the reviewers' queue, and the applicant sees it waiting again.
	rev = staffClient(t, s, "jm_reviewer2", "reviewer", "4407")
	if _, q := rev.get(t, "/console/cases?tab=pending"); !strings.Contains(q, `href="/console/cases/`+number+`"`) {
		t.Fatal("the reopened case is not in the pending queue")
	}
	if _, st := a.req(t, http.MethodGet, "", "", nil); !strings.Contains(st, `"status":"submitted"`) || !strings.Contains(st, `"decision":null`) {
		t.Fatalf("applicant status %s", st)
	}
	// The verdict and the reopening are audited under the case number, as the supervisor's.
	for _, action := range []string{"recovery.qa_reviewed", "recovery.reopened"} {
		n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action(action), auditevent.ObjectID(number),
			auditevent.ActorKind("staff"), auditevent.Actor("gd_super")).CountX(ctx)
		if n != 1 {
			t.Errorf("%s audit entries: %d", action, n)
		}
	}
}
