package recovery

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// Errors of the second approval and of quality review.
var (
	ErrNotAwaiting     = apperr.New(apperr.Conflict, "not_awaiting_second", "该案件当前不在待主管复核状态")
	ErrSameApprover    = apperr.New(apperr.Forbidden, "same_approver", "主管复核须由初审人以外的人员进行，不能复核本人的通过决定")
	ErrBadSecond       = apperr.New(apperr.Invalid, "invalid_verdict", "请选择复核通过或退回重审")
	ErrNeedNote        = apperr.New(apperr.Invalid, "note_required", "退回重审时请填写复核意见")
	ErrQANotFound      = apperr.New(apperr.NotFound, "not_found", "未找到该质检记录，或不在您的辖区")
	ErrQAClosed        = apperr.New(apperr.Conflict, "qa_review_closed", "该决定已完成质检，请刷新页面")
	ErrOwnDecision     = apperr.New(apperr.Forbidden, "own_decision", "不能对本人作出或复核通过的审核决定进行质检")
	ErrBadVerdict      = apperr.New(apperr.Invalid, "invalid_verdict", "请选择同意或不同意")
	ErrNeedComment     = apperr.New(apperr.Invalid, "comment_required", "不同意时请填写质检意见")
	ErrLongSecondNote  = apperr.New(apperr.Invalid, "note_too_long", fmt.Sprintf("复核意见不能超过%d字", MaxNoteLen))
	ErrLongQAComment   = apperr.New(apperr.Invalid, "comment_too_long", fmt.Sprintf("质检意见不能超过%d字", MaxNoteLen))
	ErrCannotCancel    = apperr.New(apperr.Conflict, "password_not_cancellable", "该决定发放的新密码已生效或已不在待生效状态，不能撤销；请取消勾选“撤销新密码”后再提交，案件将重新审核")
	errNoFirstApprover = fmt.Errorf("awaiting_second case without a first approver")
)

// drawForQA puts a decision into the supervisors' QA queue when the case
// carried a risk flag, or when the random share (QASamplePercent) picks it.
func (s *Service) drawForQA(ctx context.Context, tx *db.Tx, rc *ent.RecoveryCase, outcome string, decidedBy int, now time.Time, flags []string) error {
	var why qareview.Why
	switch {
	case len(flags) > 0:
		why = qareview.WhyFlagged
	case s.qaPercent > 0 && rand.IntN(100) < s.qaPercent:
		why = qareview.WhySampled
	default:
		return nil
	}
	return tx.Ent.QAReview.Create().SetCaseID(rc.ID).SetOutcome(qareview.Outcome(outcome)).SetDecidedBy(decidedBy).
		SetDecidedAt(now).SetRegionCode(rc.RegionCode).SetWhy(why).SetCreatedAt(now).Exec(ctx)
}

// firstApproval holds a flagged case's approval for a supervisor: no
// password yet, the flags and the first approver kept on the case.
func (s *Service) firstApproval(ctx context.Context, tx *db.Tx, rv Reviewer, rc *ent.RecoveryCase, d Decision, now time.Time, flags []string) error {
	err := tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.AwaitingSecond).SetRiskFlags(flags).
		SetFirstApprovedBy(rv.ID).SetFirstApprovedAt(now).SetDecisionNote(strings.TrimSpace(d.Note)).SetDecisionMessage(strings.TrimSpace(d.Message)).
		ClearClaimedBy().ClearClaimExpiresAt().SetUpdatedAt(now).AddVersion(1).Exec(ctx)
	if err != nil {
		return err
	}
	return s.record(ctx, tx, rc, now, rv.actor(), vocab.EventFirstApproved,
		map[string]any{"status": string(rc.Status), "version": rc.Version},
		map[string]any{"status": string(state.AwaitingSecond), "risk_flags": flags})
}

// SecondDecision is a supervisor's answer to a flagged approval.
type SecondDecision struct {
	Verdict vocab.SecondVerdict
	Note    string
	Version int
}

// SecondApproval records a supervisor's second approval of a flagged case
// (→ approved: the password is issued as Decide issues it) or its decline
// (→ submitted: back in the queue for a new review). The supervisor must
// hold the permission in the case's region and not be its first approver.
func (s *Service) SecondApproval(ctx context.Context, sup Reviewer, number string, d SecondDecision) error {
	d.Note = strings.TrimSpace(d.Note)
	switch {
	case d.Verdict != vocab.SecondApprove && d.Verdict != vocab.SecondDecline:
		return ErrBadSecond.WithField("verdict")
	case d.Verdict == vocab.SecondDecline && d.Note == "":
		return ErrNeedNote.WithField("note")
	case utf8.RuneCountInString(d.Note) > MaxNoteLen:
		return ErrLongSecondNote.WithField("note")
	}
	now := s.clock.Now()
	var pw issued
	if d.Verdict == vocab.SecondApprove {
		rc, err := s.CaseFor(ctx, sup, number)
		if err != nil {
			return err
		}
		if rc.Status != state.AwaitingSecond {
			return ErrNotAwaiting
		}
		if pw, err = s.preparePassword(rc.Edges.Account); err != nil {
			return err
		}
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCaseAt(ctx, tx, sup, number, d.Version)
		if err != nil {
			return err
		}
		if err := coSignRefusal(rc, sup); err != nil {
			return err
		}
		if d.Verdict == vocab.SecondDecline {
			if err := tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.Submitted).ClearFirstApprovedBy().ClearFirstApprovedAt().
				SetDecisionNote("").SetDecisionMessage("").ClearClaimedBy().ClearClaimExpiresAt().SetUpdatedAt(now).AddVersion(1).Exec(ctx); err != nil {
				return err
			}
			return s.recordNote(ctx, tx, rc, now, sup.actor(), vocab.EventSecondDeclined, d.Note,
				map[string]any{"status": string(rc.Status)}, map[string]any{"status": string(state.Submitted)})
		}
		first, err := tx.Ent.StaffUser.Get(ctx, *rc.FirstApprovedBy)
		if err != nil {
			return err
		}
		if err := s.recordNote(ctx, tx, rc, now, sup.actor(), vocab.EventSecondApproved, d.Note,
			map[string]any{"status": string(rc.Status)}, map[string]any{"risk_flags": rc.RiskFlags}); err != nil {
			return err
		}
		// The decision is the first approver's, co-signed: one home for
		// what an approval does.
		return s.applyDecision(ctx, tx, Reviewer{ID: first.ID, Username: first.Username}, rc,
			Decision{Outcome: vocab.OutcomeApprove, Note: rc.DecisionNote, Message: rc.DecisionMessage}, now, pw, rc.RiskFlags)
	})
}

// coSignRefusal is why sup may not give the case its second approval, nil
// when they may: the case awaits one, lies in sup's regions (sup is a
// Reviewer of the permission case:approve_second), and sup is not its first
// approver (four eyes).
func coSignRefusal(rc *ent.RecoveryCase, sup Reviewer) error {
	switch {
	case !sup.covers(rc.RegionCode):
		return ErrCaseNotFound
	case rc.Status != state.AwaitingSecond:
		return ErrNotAwaiting
	case rc.FirstApprovedBy == nil:
		return errNoFirstApprover
	case *rc.FirstApprovedBy == sup.ID:
		return ErrSameApprover
	}
	return nil
}

// MayCoSign reports whether sup, a Reviewer of the permission
// case:approve_second, may give the case its second approval now: the rule
// SecondApproval enforces, asked by the case page before it offers the form.
func MayCoSign(rc *ent.RecoveryCase, sup Reviewer) bool {
	return coSignRefusal(rc, sup) == nil
}

// AwaitingSecond lists the flagged approvals waiting for a second approval
// in the supervisor's regions, oldest first, personal data masked.
func (s *Service) AwaitingSecond(ctx context.Context, sup Reviewer, limit int) ([]QueueRow, error) {
	if len(sup.Regions) == 0 {
		return nil, nil
	}
	q := s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.AwaitingSecond))
	if !slices.Contains(sup.Regions, rules.ProvinceCode) {
		ps := make([]predicate.RecoveryCase, 0, len(sup.Regions))
		for _, r := range sup.Regions {
			ps = append(ps, regionPrefix(r))
		}
		q = q.Where(recoverycase.Or(ps...))
	}
	rows, err := q.WithAccount().Order(ent.Asc(recoverycase.FieldFirstApprovedAt), ent.Asc(recoverycase.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]QueueRow, 0, len(rows))
	for _, rc := range rows {
		out = append(out, s.row(rc, sup, now))
	}
	return out, nil
}

// QAItem is one open review of the QA queue, personal data masked.
type QAItem struct {
	ID        int
	Case      QueueRow
	Outcome   string
	DecidedBy string // the decider's name
	DecidedAt time.Time
	Why       string // sampled or flagged
	Flags     []RiskFlag
	// Cancellable says a disagreement may still cancel the approval's
	// password (it has not taken effect).
	Cancellable bool
	// Own marks a decision the viewer made or second-approved: they may
	// not review it.
	Own bool
}

// QAPage is one page of the QA queue.
type QAPage struct {
	Items []QAItem
	Next  int // the id to continue after, 0 at the end
}

// QAQueue lists the open reviews of decisions in the supervisor's regions,
// oldest first, one page after the review id after.
func (s *Service) QAQueue(ctx context.Context, sup Reviewer, after, limit int) (*QAPage, error) {
	page := &QAPage{}
	if len(sup.Regions) == 0 {
		return page, nil
	}
	q := s.db.Ent.QAReview.Query().Where(qareview.StatusEQ(qareview.StatusOpen), qareview.IDGT(after))
	if !slices.Contains(sup.Regions, rules.ProvinceCode) {
		ps := make([]predicate.QAReview, 0, len(sup.Regions))
		for _, r := range sup.Regions {
			ps = append(ps, qareview.RegionCodeHasPrefix(r))
		}
		q = q.Where(qareview.Or(ps...))
	}
	reviews, err := q.Order(ent.Asc(qareview.FieldID)).Limit(limit + 1).WithCase(func(cq *ent.RecoveryCaseQuery) {
		cq.WithAccount()
	}).All(ctx)
	if err != nil {
		return nil, err
	}
	if len(reviews) > limit {
		reviews = reviews[:limit]
		page.Next = reviews[len(reviews)-1].ID
	}
	ids := make([]int, 0, len(reviews))
	for _, r := range reviews {
		ids = append(ids, r.DecidedBy)
	}
	names := map[int]string{}
	users, err := s.db.Ent.StaffUser.Query().Where(staffuser.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		names[u.ID] = u.Name
	}
	now := s.clock.Now()
	caseIDs := make([]uuid.UUID, len(reviews))
	for i, r := range reviews {
		caseIDs[i] = r.CaseID
	}
	cosigned, err := cosignedBy(ctx, s.db.Ent, sup, caseIDs...)
	if err != nil {
		return nil, err
	}
	for _, r := range reviews {
		rc := r.Edges.Case
		item := QAItem{ID: r.ID, Case: s.row(rc, sup, now), Outcome: string(r.Outcome), DecidedBy: names[r.DecidedBy],
			DecidedAt: r.DecidedAt, Why: string(r.Why), Own: isOwn(sup, r, cosigned), Cancellable: cancellable(rc, rc.Edges.Account, r, now)}
		if standing(rc, r) {
			item.Flags = RiskFlags(rc.RiskFlags)
		}
		page.Items = append(page.Items, item)
	}
	return page, nil
}

// standing reports whether the case still stands on the decision under review.
func standing(rc *ent.RecoveryCase, r *ent.QAReview) bool {
	return rc.DecidedAt != nil && rc.DecidedAt.Equal(r.DecidedAt) && rc.DecidedBy != nil && *rc.DecidedBy == r.DecidedBy &&
		(rc.Status == state.Approved || rc.Status == state.Rejected || rc.Status == state.Returned)
}

// cancellable reports whether the approval under review issued a password
// that has not taken effect yet (the SMS may not even have gone out).
func cancellable(rc *ent.RecoveryCase, acc *ent.Account, r *ent.QAReview, now time.Time) bool {
	return r.Outcome == qareview.OutcomeApprove && standing(rc, r) && rc.Status == state.Approved && acc != nil &&
		acc.PendingPasswordHash != "" && (acc.PendingEffectiveAt == nil || now.Before(*acc.PendingEffectiveAt))
}

// ownDecision reports whether sup made the decision under review or
// second-approved it (the second approval is written with the decision, at
// the same moment).
func (s *Service) ownDecision(ctx context.Context, client *ent.Client, sup Reviewer, r *ent.QAReview) (bool, error) {
	cosigned, err := cosignedBy(ctx, client, sup, r.CaseID)
	return isOwn(sup, r, cosigned), err
}

// cosignedBy reads, in one query, when sup second-approved each of the cases.
func cosignedBy(ctx context.Context, client *ent.Client, sup Reviewer, caseIDs ...uuid.UUID) (map[uuid.UUID][]time.Time, error) {
	events, err := client.CaseEvent.Query().Where(caseevent.CaseIDIn(caseIDs...), caseevent.Type("second_approved"),
		caseevent.Actor(sup.actor())).All(ctx)
	if err != nil {
		return nil, err
	}
	at := map[uuid.UUID][]time.Time{}
	for _, e := range events {
		at[e.CaseID] = append(at[e.CaseID], e.CreatedAt)
	}
	return at, nil
}

// isOwn reports whether sup decided r, or co-signed it (the co-signature is
// written with the decision, at the same moment).
func isOwn(sup Reviewer, r *ent.QAReview, cosigned map[uuid.UUID][]time.Time) bool {
	if r.DecidedBy == sup.ID {
		return true
	}
	return r.Outcome == qareview.OutcomeApprove && slices.ContainsFunc(cosigned[r.CaseID], r.DecidedAt.Equal)
}

// QAVerdict is a supervisor's quality review of one decision.
type QAVerdict struct {
	Verdict        vocab.Verdict
	Comment        string // required to disagree
	CancelPassword bool   // disagree with a not yet effective approval: cancel its password
}

// Verdict records a supervisor's review of a decision drawn for QA, never
// on their own decision. A disagreement with an approval whose password has
// not taken effect may cancel that password (the applicant is told by SMS)
// and reopen the case; without that choice it is recorded only. A
// disagreement with a decision the case still stands on otherwise (the
// password already effective, a rejection, a return) reopens the case for a
// new review. It returns what the verdict did: none, cancel_password or reopen.
func (s *Service) Verdict(ctx context.Context, sup Reviewer, id int, v QAVerdict) (string, error) {
	v.Comment = strings.TrimSpace(v.Comment)
	switch {
	case v.Verdict != vocab.VerdictAgree && v.Verdict != vocab.VerdictDisagree:
		return "", ErrBadVerdict.WithField("verdict")
	case v.Verdict == vocab.VerdictDisagree && v.Comment == "":
		return "", ErrNeedComment.WithField("comment")
	case utf8.RuneCountInString(v.Comment) > MaxNoteLen:
		return "", ErrLongQAComment.WithField("comment")
	case v.Verdict == vocab.VerdictAgree && v.CancelPassword:
		return "", ErrCannotCancel.WithField("cancel_password")
	}
	r, err := s.db.Ent.QAReview.Query().Where(qareview.ID(id)).WithCase().Only(ctx)
	if ent.IsNotFound(err) || (err == nil && (!sup.covers(r.RegionCode) || r.Edges.Case.CaseNumber == nil)) {
		return "", ErrQANotFound
	}
	if err != nil {
		return "", err
	}
	number := *r.Edges.Case.CaseNumber
	now := s.clock.Now()
	action := qareview.ActionNone
	var stale []string
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, sup, number)
		if err != nil {
			return err
		}
		r, err := tx.Ent.QAReview.Get(ctx, id)
		if err != nil {
			return err
		}
		if r.Status != qareview.StatusOpen {
			return ErrQAClosed
		}
		if own, err := s.ownDecision(ctx, tx.Ent, sup, r); err != nil {
			return err
		} else if own {
			return ErrOwnDecision
		}
		if v.Verdict == vocab.VerdictDisagree {
			if action, stale, err = s.disagree(ctx, tx, sup, rc, r, v, now); err != nil {
				return err
			}
		}
		status := qareview.StatusAgreed
		if v.Verdict == vocab.VerdictDisagree {
			status = qareview.StatusDisagreed
		}
		if err := tx.Ent.QAReview.UpdateOne(r).SetStatus(status).SetReviewerID(sup.ID).SetComment(v.Comment).
			SetAction(action).SetReviewedAt(now).Exec(ctx); err != nil {
			return err
		}
		return s.recordNote(ctx, tx, rc, now, sup.actor(), vocab.EventQAReviewed, v.Comment, nil,
			map[string]any{"qa_review": r.ID, "verdict": v.Verdict, "outcome": string(r.Outcome), "action": string(action)})
	})
	if err != nil {
		return "", err
	}
	s.deleteObjects(ctx, stale)
	return string(action), nil
}

// disagree applies a disagreement to the case: cancel the pending password
// and reopen, reopen, or nothing (see Verdict). It returns the action and
// the object keys of a draft it expired, for deletion after commit.
func (s *Service) disagree(ctx context.Context, tx *db.Tx, sup Reviewer, rc *ent.RecoveryCase, r *ent.QAReview, v QAVerdict, now time.Time) (qareview.Action, []string, error) {
	acc := rc.Edges.Account
	if err := tx.LockKey(ctx, fmt.Sprintf("account:%d", acc.ID)); err != nil {
		return "", nil, err
	}
	acc, err := tx.Ent.Account.Get(ctx, acc.ID)
	if err != nil {
		return "", nil, err
	}
	canCancel := cancellable(rc, acc, r, now)
	switch {
	case v.CancelPassword && !canCancel:
		return "", nil, ErrCannotCancel.WithField("cancel_password")
	case canCancel && !v.CancelPassword:
		// The approval stands; the disagreement is on record.
		return qareview.ActionNone, nil, nil
	case !standing(rc, r):
		// The case has moved on (resubmitted, reopened, decided again).
		return qareview.ActionNone, nil, nil
	}
	stale, reopened, err := s.reopen(ctx, tx, sup, rc, now)
	if err != nil {
		return "", nil, err
	}
	if !canCancel {
		if !reopened {
			return qareview.ActionNone, stale, nil
		}
		// The applicant was told the earlier outcome; they hear that it
		// no longer stands.
		if _, err := s.courier.QueueRef(ctx, tx, acc.Phone, "case:"+rc.ID.String(), sms.Reopened(*rc.CaseNumber)); err != nil {
			return "", nil, err
		}
		return qareview.ActionReopen, stale, nil
	}
	// The password goes even when the case cannot be reopened (the
	// account has started another case meanwhile).
	if err := accounts.CancelPendingPassword(ctx, tx, acc.ID, sup.Username, now); err != nil {
		return "", nil, err
	}
	ref := "case:" + rc.ID.String()
	// A password SMS still waiting in the queue is never sent.
	if err := tx.Ent.SMSMessage.Update().Where(smsmessage.Ref(ref), smsmessage.Purpose(PurposePassword),
		smsmessage.StatusEQ(smsmessage.StatusQueued)).SetStatus(smsmessage.StatusFailed).
		SetLastError("新密码已被质检撤销，停止发送").Exec(ctx); err != nil {
		return "", nil, err
	}
	if _, err := s.courier.QueueRef(ctx, tx, acc.Phone, ref, sms.PasswordCancelled(*rc.CaseNumber)); err != nil {
		return "", nil, err
	}
	return qareview.ActionCancelPassword, stale, s.record(ctx, tx, rc, now, sup.actor(), vocab.EventPasswordCancelled, nil,
		map[string]any{"reopened": reopened})
}

// reopen puts a decided case back in the queue for a new review: due_by
// from the calendar as at a resubmission, the claim and the decision
// cleared (the history keeps them). It does nothing when the account has
// another case under way; a draft of the account is expired instead, its
// object keys returned for deletion after commit.
func (s *Service) reopen(ctx context.Context, tx *db.Tx, sup Reviewer, rc *ent.RecoveryCase, now time.Time) ([]string, bool, error) {
	others, err := tx.Ent.RecoveryCase.Query().Where(ofAccount(rc.Edges.Account.ID),
		recoverycase.IDNEQ(rc.ID), recoverycase.StatusIn(openStatuses()...)).All(ctx)
	if err != nil {
		return nil, false, err
	}
	for _, o := range others {
		if o.Status != state.Draft {
			return nil, false, nil
		}
	}
	var stale []string
	for _, o := range others {
		keys, err := s.expireDraft(ctx, tx, o, now, "replaced")
		if err != nil {
			return nil, false, err
		}
		stale = append(stale, keys...)
	}
	due := s.calendar.DueBy(now)
	err = tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.Submitted).SetDueBy(due).ClearClaimedBy().ClearClaimExpiresAt().
		ClearOutcome().ClearDecidedBy().ClearDecidedAt().SetReasons([]string{}).SetReturnKinds([]string{}).SetDecisionNote("").SetDecisionMessage("").
		SetRiskFlags([]string{}).ClearFirstApprovedBy().ClearFirstApprovedAt().SetUpdatedAt(now).AddVersion(1).Exec(ctx)
	if err != nil {
		return nil, false, err
	}
	before := map[string]any{"status": string(rc.Status)}
	if rc.Outcome != nil {
		before["outcome"] = string(*rc.Outcome)
	}
	return stale, true, s.record(ctx, tx, rc, now, sup.actor(), vocab.EventReopened, before,
		map[string]any{"status": string(state.Submitted), "due_by": due.In(rules.Shanghai).Format(time.DateOnly)})
}
