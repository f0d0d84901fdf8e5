package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/account"
	"recoverydesk/ent/smsmessage"
)

// mustClaim opens a case for pc and claims it with the form's button; the
// claim must be granted (303).
func mustClaim(t testing.TB, pc *pagesClient, number string) {
	t.Helper()
	pc.get(t, "/console/cases/"+number)
	if resp, body := pc.post(t, "/console/cases/"+number+"/claim", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("claim %s: %d %.300s", number, resp.StatusCode, body)
	}
}

// claimedUnitCase is recoveryFixture with the unit's case submitted and
// claimed by jm_reviewer, a reviewer of 江门, signed in: the server, the
// applicant, the case number, the reviewer's browser and the version to
// decide on.
func claimedUnitCase(t testing.TB) (s *testServer, a *applicant, number string, pc *pagesClient, v int) {
	t.Helper()
	s = recoveryFixture(t)
	a, number = submittedCaseOf(t, s)
	pc = staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	return s, a, number, pc, claimed(t, s, pc, number)
}

// decisionSMS posts pc's decision on number, based on version v, which must
// be accepted (303), and returns the SMS it sends to the phone on record
// (13800006666).
func decisionSMS(t testing.TB, s *testServer, pc *pagesClient, number string, v int, form url.Values) string {
	t.Helper()
	form.Set("version", fmt.Sprint(v))
	return s.newSMS(t, "13800006666", func() {
		if resp, body := pc.post(t, "/console/cases/"+number+"/decision", form); resp.StatusCode != 303 {
			t.Fatalf("%s: %d %.300s", form.Get("outcome"), resp.StatusCode, body)
		}
	})
}

// claimed opens and claims a case for pc, opens it again as the claim's
// redirect does, and returns the version to decide on.
func claimed(t testing.TB, s *testServer, pc *pagesClient, number string) int {
	t.Helper()
	mustClaim(t, pc, number)
	pc.get(t, "/console/cases/"+number)
	return caseVersion(t, s, number)
}

// applicantView is the part of GET /api/v1/recoveries/{id} the applicant's
// loop reads.
type applicantView struct {
	Status   string
	Decision *struct {
		Outcome     string
		Reasons     []struct{ Code, Text string }
		Message     string
		ReturnKinds []string `json:"return_kinds"`
	}
	PasswordEffectiveAt *time.Time `json:"password_effective_at"`
}

func (a *applicant) view(t testing.TB) (applicantView, string) {
	t.Helper()
	resp, body := a.req(t, http.MethodGet, "", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	var v applicantView
	mustJSON(t, body, &v)
	return v, body
}

func TestARejectionForOtherReasonsTellsTheApplicantTheReviewersWordsButNotTheInternalNote(t *testing.T) {
	s, a, number, pc, v := claimedUnitCase(t)
	// "Other" without words for the applicant is refused on the form, which
	// keeps what was typed.
	resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)},
		"reason": {"other"}, "note": {"内部：疑似代办"}})
	if resp.StatusCode != 422 || !strings.Contains(body, `id="message-error"`) || !strings.Contains(body, "请填写给申请人的说明") ||
		!strings.Contains(body, "内部：疑似代办</textarea>") {
		t.Fatalf("other without a message: %d %.2000s", resp.StatusCode, body)
	}
	words := "手持照片中证件被手指遮挡，请重新拍摄"
	text := decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"reject"}, "reason": {"other"}, "note": {"内部：疑似代办"}, "message": {words}})
	if !strings.Contains(text, number) || !strings.Contains(text, "审核意见："+words) || strings.Contains(text, "疑似代办") {
		t.Fatalf("rejection SMS %q", text)
	}
	// The case page shows both, each under its name.
	if _, page := pc.get(t, "/console/cases/"+number); !strings.Contains(page, "<dt>给申请人的说明</dt><dd>"+words+"</dd>") ||
		!strings.Contains(page, "<dt>审核意见</dt><dd>内部：疑似代办</dd>") {
		t.Errorf("decided case page lacks the message or the note")
	}
	st, body := a.view(t)
	if st.Status != "rejected" || st.Decision == nil || st.Decision.Message != words || len(st.Decision.Reasons) != 1 ||
		st.Decision.Reasons[0].Code != "other" || st.Decision.Reasons[0].Text != "其他原因，详见审核意见" ||
		strings.Contains(body, "疑似代办") || st.PasswordEffectiveAt != nil {
		t.Fatalf("applicant status %s", body)
	}
}

func TestAReturnNamesTheMaterialsAndTheWordsForTheApplicant(t *testing.T) {
	s, a, number, pc, v := claimedUnitCase(t)
	resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"return"}, "version": {fmt.Sprint(v)},
		"return_kind": {"id_front", "authorization_letter"}})
	if resp.StatusCode != 422 || !strings.Contains(body, `id="message-error"`) {
		t.Fatalf("return without a message: %d", resp.StatusCode)
	}
	resp, _ = pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"return"}, "version": {fmt.Sprint(v)},
		"return_kind": {"id_front"}, "message": {strings.Repeat("长", 201)}})
	if resp.StatusCode != 422 {
		t.Fatalf("a 201-character message: %d", resp.StatusCode)
	}
	words := "授权函缺少法定代表人签字，人像面反光"
	text := decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"return"}, "return_kind": {"id_front", "authorization_letter"}, "message": {words}})
	if !strings.Contains(text, "请重新上传：个人身份证正面照、单位授权函") || !strings.Contains(text, words) {
		t.Fatalf("return SMS %q", text)
	}
	st, body := a.view(t)
	if st.Status != "returned" || st.Decision == nil || st.Decision.Message != words ||
		strings.Join(st.Decision.ReturnKinds, ",") != "id_front,authorization_letter" {
		t.Fatalf("applicant status %s", body)
	}
}

func TestAfterApprovalTheStatusSaysWhenTheNewPasswordTakesEffect(t *testing.T) {
	s, a, number, pc, v := claimedUnitCase(t)
	decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"approve"}})
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	acc := s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(ctx)
	for acc.PendingEffectiveAt == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		acc = s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(ctx)
	}
	st, body := a.view(t)
	if st.Status != "approved" || st.PasswordEffectiveAt == nil || acc.PendingEffectiveAt == nil ||
		!st.PasswordEffectiveAt.Equal(acc.PendingEffectiveAt.Truncate(time.Second)) {
		t.Fatalf("applicant status %s, account effective at %v", body, acc.PendingEffectiveAt)
	}
}

func TestAReturnIsAToDoListThatAnUnchangedResubmissionDoesNotClear(t *testing.T) {
	s, a, number, pc, v := claimedUnitCase(t)
	decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"return"}, "return_kind": {"id_front", "authorization_letter"}, "message": {"人像面反光，授权函未盖章"}})
	toReplace := func() string {
		t.Helper()
		_, body := a.req(t, http.MethodGet, "", "", nil)
		var v struct {
			ToReplace []string `json:"to_replace"`
		}
		mustJSON(t, body, &v)
		return strings.Join(v.ToReplace, ",")
	}
	submit := func(wantStatus int, wantKinds string) {
		t.Helper()
		resp, body := a.req(t, http.MethodPost, "/submit", "", nil)
		if resp.StatusCode != wantStatus {
			t.Fatalf("submit: %d %s, want %d", resp.StatusCode, body, wantStatus)
		}
		if wantStatus == 422 {
			e := decodeError(t, body)
			kinds := errorExtra(t, body)["kinds"]
			if e.Error.Code != "evidence_unchanged" || fmt.Sprint(kinds) != "["+strings.ReplaceAll(wantKinds, ",", " ")+"]" {
				t.Fatalf("unchanged resubmission: %s", body)
			}
		}
	}
	if got := toReplace(); got != "id_front,authorization_letter" {
		t.Fatalf("to_replace %q", got)
	}
	submit(422, "id_front,authorization_letter")
	// Each upload, then what is left to replace and what a submission says.
	for _, step := range []struct {
		what, kind string
		seed       uint64
		left       string
	}{
		// The very same bytes again are not a replacement (submittedCaseOf
		// uploaded photo seed 10 as id_front).
		{"a byte-identical id_front", "id_front", 10, "id_front,authorization_letter"},
		{"a new id_front", "id_front", 99, "authorization_letter"},
		{"a new letter", "authorization_letter", 98, ""},
	} {
		if resp, body := a.upload(t, step.kind, jpegBytes(t, photo(400, 300, step.seed))); resp.StatusCode != 201 {
			t.Fatalf("upload of %s: %d %s", step.what, resp.StatusCode, body)
		}
		if got := toReplace(); got != step.left {
			t.Fatalf("to_replace after %s %q, want %q", step.what, got, step.left)
		}
		if step.left != "" {
			submit(422, step.left)
		} else {
			submit(200, "")
		}
	}
	if st, body := a.view(t); st.Status != "submitted" {
		t.Fatalf("resubmitted: %s", body)
	}
}

func TestSubmittingSendsTheCaseNumberAndTheDueDateBySMS(t *testing.T) {
	s, a := unitAtUpload(t)
	for i, kind := range []string{"id_front", "id_handheld", "unit_license", "authorization_letter"} {
		if resp, body := a.upload(t, kind, jpegBytes(t, photo(400, 300, uint64(40+i)))); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	var sub struct {
		CaseNumber string `json:"case_number"`
		DueBy      string `json:"due_by"`
	}
	text := s.newSMS(t, "13800006666", func() {
		resp, body := a.req(t, http.MethodPost, "/submit", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("submit: %d %s", resp.StatusCode, body)
		}
		mustJSON(t, body, &sub)
	})
	due, err := time.Parse(time.DateOnly, sub.DueBy)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "申请编号"+sub.CaseNumber) || !strings.Contains(text, due.Format("2006年1月2日")) {
		t.Fatalf("submission SMS %q for %+v", text, sub)
	}
	if n := s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose("submitted"), smsmessage.Ref("case:"+a.id)).CountX(context.Background()); n != 1 {
		t.Fatalf("%d submission messages", n)
	}
}

func TestTheWrongLoginTabNamesTheRightOneOnlyForTheRightPassword(t *testing.T) {
	s := recoveryFixture(t) // the person jingban (Abcd2468!x), the unit jm_talent (Unit#Pass2468)
	resp, e := login(t, s, "person", "jm_talent", "Unit#Pass2468")
	if resp.StatusCode != 409 || e["code"] != "wrong_account_kind" || e["message"] != "该账号为单位账号，请在“单位登录”中登录" || e["kind"] != "unit" {
		t.Fatalf("unit on the person tab: %d %v", resp.StatusCode, e)
	}
	resp, e = login(t, s, "unit", "JINGBAN", "Abcd2468!x")
	if resp.StatusCode != 409 || e["message"] != "该账号为个人账号，请在“个人登录”中登录" {
		t.Fatalf("person on the unit tab: %d %v", resp.StatusCode, e)
	}
	// A wrong password gets the tab's generic answer, as an unknown
	// username would, and counts toward the account's lockout: the hint is
	// no way around it.
	_, unknown := login(t, s, "person", "nobody_here", "Wrong#Pass1")
	for i := 0; i < 4; i++ {
		resp, e = login(t, s, "person", "jm_talent", "Wrong#Pass1")
		if resp.StatusCode != 401 || e["message"] != unknown["message"] || e["attempts_left"] != nil {
			t.Fatalf("wrong password on the wrong tab: %d %v (unknown username: %v)", resp.StatusCode, e, unknown)
		}
	}
	if resp, e = login(t, s, "unit", "jm_talent", "Wrong#Pass1"); resp.StatusCode != 423 {
		t.Fatalf("fifth failure: %d %v", resp.StatusCode, e)
	}
	if resp, e = login(t, s, "person", "jm_talent", "Unit#Pass2468"); resp.StatusCode != 423 {
		t.Fatalf("the right password while locked, on the wrong tab: %d %v", resp.StatusCode, e)
	}
}

func TestTheHotlineComesFromConfiguration(t *testing.T) {
	s := recoveryFixture(t, hotline("0750-12333|+8675012333"))
	for _, path := range []string{"/", "/login", "/recover", "/recover/status", "/account/recover", "/no-such-page"} {
		_, body := s.get(t, path)
		body = html.UnescapeString(body) // "+" in an attribute is &#43;
		if !strings.Contains(body, `<a href="tel:+8675012333">0750-12333</a>`) || strings.Contains(body, "3873738") {
			t.Errorf("%s: the configured hotline is not the one shown", path)
		}
	}
	_, body := s.get(t, "/recover/status")
	if !strings.Contains(body, "如有疑问请致电 0750-12333 咨询") {
		t.Errorf("status page's rejection line lacks the hotline")
	}
	_, number := submittedCaseOf(t, s)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	v := claimed(t, s, pc, number)
	text := decisionSMS(t, s, pc, number, v, url.Values{"outcome": {"reject"}, "reason": {"unclear_image"}})
	if !strings.Contains(text, "如有疑问请致电0750-12333") || strings.Contains(text, "3873738") {
		t.Fatalf("rejection SMS %q", text)
	}
}
