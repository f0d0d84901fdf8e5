package recovery_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
)

// review is the recovery service on a real database, as serve wires it,
// with cases put in place as the applicant API would leave them.
type review struct {
	d        *db.DB
	clock    *clock.Adjustable
	svc      *recovery.Service
	courier  *sms.Courier
	accounts *accounts.Service
	n        int
}

func newReview(t *testing.T, d *db.DB, qaPercent int) *review {
	t.Helper()
	return newReviewSending(t, d, qaPercent, nil)
}

// newReviewSending is newReview with a gateway of the test's (nil: the outbox).
func newReviewSending(t *testing.T, d *db.DB, qaPercent int, sender sms.Sender) *review {
	t.Helper()
	keys, err := secret.New(bytes.Repeat([]byte("r"), 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewAdjustable()
	clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai)) // a Monday
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing},
		QASamplePercent: qaPercent, Sender: sender})
	if err != nil {
		t.Fatal(err)
	}
	return &review{d: d, clock: clk, svc: svc.Recovery, courier: svc.Courier, accounts: svc.Accounts}
}

// submitted puts a person's verified case with its evidence in place in
// 江门市蓬江区 and submits it. A flagged case's typed name scores low
// against the record (a risk flag: four eyes); an unflagged one matches.
func (r *review) submitted(t *testing.T, flagged bool) (string, *ent.Account) {
	t.Helper()
	ctx := context.Background()
	r.n++
	acc := r.d.Ent.Account.Create().SetKind("person").SetUsername(fmt.Sprintf("user_%d", r.n)).
		SetUsernameKey(fmt.Sprintf("user_%d", r.n)).SetPasswordHash("x").SetName("张三").SetCertType("id_card").
		SetCertNumber(fmt.Sprintf("cert-%d", r.n)).SetPhone(fmt.Sprintf("1380000%04d", r.n)).SetRegionCode("440703").
		SetVerified(true).SaveX(ctx)
	similarity := 100
	if flagged {
		similarity = 10
	}
	rc := r.d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
		SetTypedCertNumber("x").SetTypedName("张三").SetNameSimilarity(similarity).SetTokenHash([]byte{byte(r.n)}).
		SetAccount(acc).SetPhoneVerifiedAt(r.clock.Now()).SaveX(ctx)
	for _, kind := range recovery.RequiredEvidence("person") {
		// Images of their own: no case looks like another (no duplicate flag).
		r.d.Ent.Evidence.Create().SetCaseID(rc.ID).SetObjectKey(rc.ID.String() + kind).
			SetSha256(fmt.Sprintf("%064x", rand.Uint64())).SetPhash(rand.Int64()).SetSize(1).SetWidth(1).SetHeight(1).
			SetContentType("image/png").SetKind(evidence.Kind(kind)).ExecX(ctx)
	}
	sub, err := r.svc.Submit(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	return sub.CaseNumber, acc
}

// staff adds a staff user and returns them as a reviewer of regions.
func (r *review) staff(t *testing.T, username string, regions ...string) recovery.Reviewer {
	t.Helper()
	u := r.d.Ent.StaffUser.Create().SetUsername(username).SetUsernameKey(username).SetName(username).
		SetPasswordHash("x").SaveX(context.Background())
	return recovery.Reviewer{ID: u.ID, Username: username, Regions: regions}
}

func (r *review) get(t *testing.T, number string) *ent.RecoveryCase {
	t.Helper()
	return r.d.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).WithAccount().OnlyX(context.Background())
}

// claimed has rv claim the case and returns the version to decide on.
func (r *review) claimed(t *testing.T, rv recovery.Reviewer, number string) int {
	t.Helper()
	if _, err := r.svc.Claim(context.Background(), rv, number); err != nil {
		t.Fatalf("claim %s: %v", number, err)
	}
	return r.get(t, number).Version
}

func (r *review) passwordSMS(t *testing.T, acc *ent.Account) int {
	t.Helper()
	return r.d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(r.d.Lookups(acc.Phone)...), smsmessage.Purpose(recovery.PurposePassword)).
		CountX(context.Background())
}

// errCode is the stable code of err ("" when it is not an apperr.Error).
func errCode(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Code
	}
	return ""
}

func TestSentinelsSharingACodeAreDifferentRefusals(t *testing.T) {
	for _, pair := range [][2]*apperr.Error{
		{recovery.ErrCaseNotFound, recovery.ErrQANotFound},
		{recovery.ErrBadSecond, recovery.ErrBadVerdict},
		{accounts.ErrLocked, staff.ErrLocked},
		{accounts.ErrBadCredentials, staff.ErrBadCredentials},
	} {
		a, b := pair[0], pair[1]
		if a.Code != b.Code || a.Kind != b.Kind {
			t.Fatalf("%v and %v no longer share a code: pick another pair", a, b)
		}
		if errors.Is(a, b) || errors.Is(fmt.Errorf("x: %w", a.WithField("f")), b) || errors.Is(b.With("k", 1), a) {
			t.Errorf("%v matches another sentinel with its code", a)
		}
		if !errors.Is(fmt.Errorf("x: %w", a.WithField("f").With("k", 1)), a) {
			t.Errorf("%v no longer matches its own copies", a)
		}
	}
}

func TestADecisionNeedsTheClaimAndTheCurrentVersionAndApproveRejectReturnActAsSaid(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newReview(t, d, 0)
		ctx := context.Background()
		jm := r.staff(t, "jm_reviewer", "4407")
		other := r.staff(t, "jm_other", "4407")
		gz := r.staff(t, "gz_reviewer", "4401")

		number, acc := r.submitted(t, false)
		if _, err := r.svc.Claim(ctx, gz, number); !errors.Is(err, recovery.ErrCaseNotFound) {
			t.Fatalf("a claim outside the region: %v", err)
		}
		v := r.claimed(t, jm, number)
		if _, err := r.svc.Claim(ctx, other, number); !errors.Is(err, recovery.ErrClaimedOther) {
			t.Fatalf("a claim on a held case: %v", err)
		}
		approve := recovery.Decision{Outcome: "approve", Version: v}
		if err := r.svc.Decide(ctx, other, number, approve); !errors.Is(err, recovery.ErrNotHolder) {
			t.Fatalf("a decision by another reviewer: %v", err)
		}
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "approve", Version: v - 1}); !errors.Is(err, recovery.ErrStale) {
			t.Fatalf("a decision on an old version: %v", err)
		}
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "reject", Version: v}); !errors.Is(err, recovery.ErrNeedReasons) {
			t.Fatalf("a rejection without reasons: %v", err)
		}
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "maybe", Version: v}); !errors.Is(err, recovery.ErrBadDecision) {
			t.Fatalf("an unknown outcome: %v", err)
		}
		if n := r.passwordSMS(t, acc); n != 0 {
			t.Fatalf("%d password SMS before any approval", n)
		}
		if err := r.svc.Decide(ctx, jm, number, approve); err != nil {
			t.Fatal(err)
		}
		rc := r.get(t, number)
		a := rc.Edges.Account
		if rc.Status != state.Approved || rc.DecidedBy == nil || *rc.DecidedBy != jm.ID || rc.Version != v+1 {
			t.Fatalf("approved case: %s by %v, version %d", rc.Status, rc.DecidedBy, rc.Version)
		}
		// The password is pending, its 4-hour clock waiting for its SMS.
		if a.PendingPasswordHash == "" || a.PendingEffectiveAt != nil || r.passwordSMS(t, acc) != 1 {
			t.Fatalf("after approval: pending %t, effective %v, %d SMS", a.PendingPasswordHash != "", a.PendingEffectiveAt, r.passwordSMS(t, acc))
		}

		number, acc = r.submitted(t, false)
		v = r.claimed(t, jm, number)
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "reject", Reasons: []string{"unclear_image"}, Version: v}); err != nil {
			t.Fatal(err)
		}
		if rc := r.get(t, number); rc.Status != state.Rejected || len(rc.Reasons) != 1 || rc.Reasons[0] != "unclear_image" ||
			rc.Edges.Account.PendingPasswordHash != "" || r.passwordSMS(t, acc) != 0 {
			t.Fatalf("rejected case: %s %v", rc.Status, rc.Reasons)
		}

		number, _ = r.submitted(t, false)
		v = r.claimed(t, jm, number)
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "return", ReturnKinds: []string{"unit_license"}, Message: "请重新拍摄", Version: v}); errCode(err) != "invalid_return_kind" {
			t.Fatalf("a person's case returned for a unit's document: %v", err)
		}
		// The applicant must be told what to fix: a return needs a message
		// to them, and so does the reason "other"; 200 characters at most.
		for _, c := range []struct {
			d    recovery.Decision
			code string
		}{
			{recovery.Decision{Outcome: "return", ReturnKinds: []string{"id_front"}, Note: "内部意见", Message: "  "}, "message_required"},
			{recovery.Decision{Outcome: "reject", Reasons: []string{"unclear_image", "other"}, Note: "内部意见"}, "message_required"},
			{recovery.Decision{Outcome: "return", ReturnKinds: []string{"id_front"}, Message: strings.Repeat("字", 201)}, "message_too_long"},
		} {
			c.d.Version = v
			if err := r.svc.Decide(ctx, jm, number, c.d); errCode(err) != c.code {
				t.Fatalf("%+v: got %v, want %s", c.d, err, c.code)
			}
		}
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "return", ReturnKinds: []string{"id_front"}, Note: "内部：疑似翻拍",
			Message: strings.Repeat("字", 198) + "清晰", Version: v}); err != nil {
			t.Fatal(err)
		}
		if rc := r.get(t, number); rc.Status != state.Returned || len(rc.ReturnKinds) != 1 || rc.ReturnKinds[0] != "id_front" ||
			rc.DecisionMessage != strings.Repeat("字", 198)+"清晰" || rc.DecisionNote != "内部：疑似翻拍" {
			t.Fatalf("returned case: %s %v %q", rc.Status, rc.ReturnKinds, rc.DecisionMessage)
		}
	})
}

func TestAFlaggedApprovalWaitsForASecondApproverWhoIsNotTheFirst(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newReview(t, d, 0)
		ctx := context.Background()
		jm := r.staff(t, "jm_reviewer", "4407")
		sup := r.staff(t, "gd_super", "44")
		gzSup := r.staff(t, "gz_super", "4401")

		number, acc := r.submitted(t, true)
		v := r.claimed(t, jm, number)
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "approve", Note: "证件清晰", Version: v}); err != nil {
			t.Fatal(err)
		}
		rc := r.get(t, number)
		if rc.Status != state.AwaitingSecond || rc.FirstApprovedBy == nil || *rc.FirstApprovedBy != jm.ID ||
			rc.Edges.Account.PendingPasswordHash != "" || r.passwordSMS(t, acc) != 0 {
			t.Fatalf("a flagged approval issued something: %s, pending %t", rc.Status, rc.Edges.Account.PendingPasswordHash != "")
		}
		// Who may co-sign: not the first approver, not outside the region.
		jmAsSup := recovery.Reviewer{ID: jm.ID, Username: jm.Username, Regions: []string{"4407"}}
		if recovery.MayCoSign(rc, jmAsSup) || recovery.MayCoSign(rc, gzSup) || !recovery.MayCoSign(rc, sup) {
			t.Fatalf("MayCoSign: first approver %t, other region %t, supervisor %t",
				recovery.MayCoSign(rc, jmAsSup), recovery.MayCoSign(rc, gzSup), recovery.MayCoSign(rc, sup))
		}
		approve := recovery.SecondDecision{Verdict: "approve", Version: rc.Version}
		if err := r.svc.SecondApproval(ctx, jmAsSup, number, approve); !errors.Is(err, recovery.ErrSameApprover) {
			t.Fatalf("the first approver co-signing: %v", err)
		}
		if err := r.svc.SecondApproval(ctx, gzSup, number, approve); !errors.Is(err, recovery.ErrCaseNotFound) {
			t.Fatalf("a supervisor of another region: %v", err)
		}
		err := r.svc.SecondApproval(ctx, sup, number, recovery.SecondDecision{Verdict: "agree", Version: rc.Version})
		if !errors.Is(err, recovery.ErrBadSecond) || errors.Is(err, recovery.ErrBadVerdict) {
			t.Fatalf("a QA verdict word on a second approval: %v", err)
		}
		if err := r.svc.SecondApproval(ctx, sup, number, approve); err != nil {
			t.Fatal(err)
		}
		rc = r.get(t, number)
		// The approval stays the first approver's, co-signed.
		if rc.Status != state.Approved || rc.DecidedBy == nil || *rc.DecidedBy != jm.ID || rc.DecisionNote != "证件清晰" ||
			rc.Edges.Account.PendingPasswordHash == "" || r.passwordSMS(t, acc) != 1 {
			t.Fatalf("co-signed case: %s by %v, note %q", rc.Status, rc.DecidedBy, rc.DecisionNote)
		}
		if recovery.MayCoSign(rc, sup) {
			t.Fatal("an approved case may be co-signed again")
		}

		// A decline needs the supervisor's words and puts the case back in the queue.
		number, acc = r.submitted(t, true)
		v = r.claimed(t, jm, number)
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "approve", Version: v}); err != nil {
			t.Fatal(err)
		}
		v = r.get(t, number).Version
		if err := r.svc.SecondApproval(ctx, sup, number, recovery.SecondDecision{Verdict: "decline", Version: v}); !errors.Is(err, recovery.ErrNeedNote) {
			t.Fatalf("a decline without a note: %v", err)
		}
		long := strings.Repeat("注", recovery.MaxNoteLen+1)
		if err := r.svc.SecondApproval(ctx, sup, number, recovery.SecondDecision{Verdict: "decline", Note: long, Version: v}); !errors.Is(err, recovery.ErrLongSecondNote) {
			t.Fatalf("a decline with a note over the bound: %v", err)
		}
		if err := r.svc.SecondApproval(ctx, sup, number, recovery.SecondDecision{Verdict: "decline", Note: "姓名不符", Version: v}); err != nil {
			t.Fatal(err)
		}
		if rc := r.get(t, number); rc.Status != state.Submitted || rc.FirstApprovedBy != nil || r.passwordSMS(t, acc) != 0 {
			t.Fatalf("declined case: %s, first approver %v", rc.Status, rc.FirstApprovedBy)
		}
	})
}

func TestQAVerdictsAreNeverOnOnesOwnDecisionAndADisagreementCanCancelAPendingPassword(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		r := newReview(t, d, 100) // every decision is drawn for QA
		ctx := context.Background()
		jm := r.staff(t, "jm_reviewer", "4407")
		sup := r.staff(t, "gd_super", "44")
		gzSup := r.staff(t, "gz_super", "4401")

		approved, _ := r.submitted(t, false)
		v := r.claimed(t, jm, approved)
		if err := r.svc.Decide(ctx, jm, approved, recovery.Decision{Outcome: "approve", Version: v}); err != nil {
			t.Fatal(err)
		}
		rejected, _ := r.submitted(t, false)
		v = r.claimed(t, jm, rejected)
		if err := r.svc.Decide(ctx, jm, rejected, recovery.Decision{Outcome: "reject", Reasons: []string{"unclear_image"}, Version: v}); err != nil {
			t.Fatal(err)
		}
		page, err := r.svc.QAQueue(ctx, sup, 0, 50)
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("QA queue: %+v %v", page, err)
		}
		if other, _ := r.svc.QAQueue(ctx, gzSup, 0, 50); len(other.Items) != 0 {
			t.Fatalf("another region's supervisor sees %d reviews", len(other.Items))
		}
		ofApproval, ofRejection := page.Items[0], page.Items[1]
		if ofApproval.Case.CaseNumber != approved || !ofApproval.Cancellable || ofRejection.Cancellable {
			t.Fatalf("items: %+v / %+v", ofApproval, ofRejection)
		}

		jmAsSup := recovery.Reviewer{ID: jm.ID, Username: jm.Username, Regions: []string{"4407"}}
		agree := recovery.QAVerdict{Verdict: vocab.VerdictAgree}
		if _, err := r.svc.Verdict(ctx, jmAsSup, ofApproval.ID, agree); !errors.Is(err, recovery.ErrOwnDecision) {
			t.Fatalf("a verdict on one's own decision: %v", err)
		}
		if _, err := r.svc.Verdict(ctx, gzSup, ofApproval.ID, agree); !errors.Is(err, recovery.ErrQANotFound) || errors.Is(err, recovery.ErrCaseNotFound) {
			t.Fatalf("a verdict outside the region: %v", err)
		}
		if _, err := r.svc.Verdict(ctx, sup, ofApproval.ID, recovery.QAVerdict{Verdict: "approve"}); !errors.Is(err, recovery.ErrBadVerdict) || errors.Is(err, recovery.ErrBadSecond) {
			t.Fatalf("a second-approval word as a QA verdict: %v", err)
		}
		if _, err := r.svc.Verdict(ctx, sup, ofApproval.ID, recovery.QAVerdict{Verdict: vocab.VerdictDisagree}); !errors.Is(err, recovery.ErrNeedComment) {
			t.Fatalf("a disagreement without a comment: %v", err)
		}
		if _, err := r.svc.Verdict(ctx, sup, ofApproval.ID, recovery.QAVerdict{Verdict: vocab.VerdictDisagree, Comment: strings.Repeat("评", recovery.MaxNoteLen+1)}); !errors.Is(err, recovery.ErrLongQAComment) {
			t.Fatalf("a comment over the bound: %v", err)
		}

		// Disagreeing with the approval before its password took effect cancels it.
		action, err := r.svc.Verdict(ctx, sup, ofApproval.ID, recovery.QAVerdict{Verdict: vocab.VerdictDisagree,
			Comment: "手持照片与证件不符", CancelPassword: true})
		if err != nil || action != string(qareview.ActionCancelPassword) {
			t.Fatalf("disagree and cancel: %q %v", action, err)
		}
		rc := r.get(t, approved)
		if rc.Edges.Account.PendingPasswordHash != "" || rc.Status != state.Submitted {
			t.Fatalf("after the cancellation: %s, pending %t", rc.Status, rc.Edges.Account.PendingPasswordHash != "")
		}
		if _, err := r.svc.Verdict(ctx, sup, ofApproval.ID, agree); !errors.Is(err, recovery.ErrQAClosed) {
			t.Fatalf("a second verdict on one review: %v", err)
		}

		// Agreeing changes nothing but the review.
		if action, err := r.svc.Verdict(ctx, sup, ofRejection.ID, agree); err != nil || action != string(qareview.ActionNone) {
			t.Fatalf("agree: %q %v", action, err)
		}
		if rc := r.get(t, rejected); rc.Status != state.Rejected {
			t.Fatalf("an agreed rejection moved to %s", rc.Status)
		}
		if q := d.Ent.QAReview.GetX(ctx, ofRejection.ID); q.Status != qareview.StatusAgreed || q.ReviewerID == nil || *q.ReviewerID != sup.ID {
			t.Fatalf("the agreed review: %+v", q)
		}
	})
}

// TestDecisionFieldsAreDeduplicatedAndBounded: a repeated reason or kind
// counts once; more than MaxReasons reasons, reason texts too long for one
// SMS, a note over MaxNoteLen (decision or case history) and an unknown
// code of any length are refused with a stable code and a Chinese message
// that echoes nothing of the input, and leave the case as it was.
func TestDecisionFieldsAreDeduplicatedAndBounded(t *testing.T) {
	d := testenv.SQLite(t)
	r := newReview(t, d, 0)
	ctx := context.Background()
	jm := r.staff(t, "jm_reviewer", "4407")
	refused := func(what string, err error, code string) {
		t.Helper()
		e, ok := apperr.As(err)
		if !ok || e.Code != code || e.Kind != apperr.Invalid || e.Message == "" || len(e.Message) > 300 {
			t.Fatalf("%s: %v, want %s", what, err, code)
		}
	}

	number, _ := r.submitted(t, false)
	v := r.claimed(t, jm, number)
	kinds := make([]string, 0, 2000)
	for range 1000 {
		kinds = append(kinds, "id_front", " id_handheld ")
	}
	if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "return", ReturnKinds: kinds,
		Reasons: []string{"unclear_image", "unclear_image"}, Message: "请重新拍摄证件照", Version: v}); err != nil {
		t.Fatal(err)
	}
	if rc := r.get(t, number); strings.Join(rc.ReturnKinds, ",") != "id_front,id_handheld" || strings.Join(rc.Reasons, ",") != "unclear_image" {
		t.Fatalf("stored kinds %v reasons %v", rc.ReturnKinds, rc.Reasons)
	}

	number, _ = r.submitted(t, false)
	v = r.claimed(t, jm, number)
	all, err := r.svc.Reasons(ctx)
	if err != nil || len(all) <= recovery.MaxReasons {
		t.Fatalf("the catalog has %d reasons: %v", len(all), err)
	}
	var codes, personCodes []string // six codes; the ones a person's case may be given
	for _, reason := range all[:recovery.MaxReasons+1] {
		codes = append(codes, reason.Code)
		if reason.AppliesTo(vocab.KindPerson) {
			personCodes = append(personCodes, reason.Code)
		}
	}
	if len(personCodes) < 3 {
		t.Fatalf("the catalog has %d reasons for a person's case", len(personCodes))
	}
	reject := func(reasons []string, note string) error {
		return r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "reject", Reasons: reasons, Note: note,
			Message: "请按说明重新办理", Version: v})
	}
	refused("six reasons", reject(codes, ""), "too_many_reasons")
	refused("an unknown code", reject([]string{strings.Repeat("x", 5000)}, ""), "invalid_reason")
	refused("a long note", reject(personCodes[:1], strings.Repeat("注", recovery.MaxNoteLen+1)), "note_too_long")
	if err := r.svc.AddNote(ctx, jm, number, strings.Repeat("注", recovery.MaxNoteLen+1)); err == nil {
		t.Fatal("a case note over the bound was accepted")
	} else {
		refused("a long case note", err, "note_too_long")
	}
	// Reasons whose texts together do not fit in one SMS.
	for _, code := range personCodes {
		if err := r.svc.EditReason(ctx, "gd_admin", code, strings.Repeat("长", recovery.ReasonTextMaxLen)); err != nil {
			t.Fatal(err)
		}
	}
	refused("reasons too long for one SMS", reject(personCodes, ""), "reasons_too_long")
	if rc := r.get(t, number); rc.Status != state.InReview || rc.Version != v {
		t.Fatalf("the refusals changed the case: %s version %d", rc.Status, rc.Version)
	}
	if n := r.d.Ent.SMSMessage.Query().Where(smsmessage.PurposeIn(recovery.PurposeRejected, recovery.PurposeReturned)).CountX(ctx); n != 1 {
		t.Fatalf("%d decision SMS, want the return's alone", n)
	}
	// Two long reasons fit.
	if err := reject(personCodes[:2], ""); err != nil {
		t.Fatal(err)
	}
}
