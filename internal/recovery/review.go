package recovery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// ClaimTTL is how long a claim holds a case for its reviewer; working on the
// case renews it, and a job releases expired claims.
const ClaimTTL = 30 * time.Minute

// SMS purposes of the review, as stored in sms_messages.purpose.
const (
	PurposePassword = string(vocab.PurposePassword)
	PurposeRejected = string(vocab.PurposeRejected)
	PurposeReturned = string(vocab.PurposeReturned)
	// PurposeSubmitted confirms a submission: the case number is then never
	// only on the screen.
	PurposeSubmitted = string(vocab.PurposeSubmitted)
)

// Review errors.
var (
	ErrStale        = apperr.New(apperr.Conflict, "stale_version", "该案件已被他人更新，请刷新后重试")
	ErrNotHolder    = apperr.New(apperr.Conflict, "not_claimed", "请先认领该案件（认领可能已过期或已被他人认领）")
	ErrClaimedOther = apperr.New(apperr.Conflict, "claimed_by_other", "该案件已被其他审核人员认领")
	ErrNotClaimable = apperr.New(apperr.Conflict, "not_claimable", "该案件当前状态不能认领")
	ErrBadDecision  = apperr.New(apperr.Invalid, "invalid_decision", "请选择审核结果")
	ErrNeedReasons  = apperr.New(apperr.Invalid, "reasons_required", "不通过时请至少选择一项原因")
	ErrNeedKinds    = apperr.New(apperr.Invalid, "return_kinds_required", "退回补正时请至少选择一项需重新上传的材料")
	ErrNeedMessage  = apperr.New(apperr.Invalid, "message_required", "选择“其他原因”或退回补正时，请填写给申请人的说明")
	ErrLongMessage  = apperr.New(apperr.Invalid, "message_too_long", fmt.Sprintf("给申请人的说明不能超过%d字", MessageMaxLen))
	// ErrTooManyReasons bounds what one decision may name: each reason is a
	// line of the applicant's SMS.
	ErrTooManyReasons = apperr.New(apperr.Invalid, "too_many_reasons", fmt.Sprintf("一次最多选择%d项原因", MaxReasons))
	// ErrReasonsTooLong is a set of reasons whose texts do not fit in one
	// SMS (sms.MaxTextLen).
	ErrReasonsTooLong = apperr.New(apperr.Invalid, "reasons_too_long",
		fmt.Sprintf("所选原因的说明合计过长，通知短信不能超过%d字，请减少所选原因", sms.MaxTextLen))
	// ErrNoteTooLong bounds a reviewer's note (decision or case history).
	ErrNoteTooLong = apperr.New(apperr.Invalid, "note_too_long", fmt.Sprintf("审核意见不能超过%d字", MaxNoteLen))
)

// Bounds of a decision's repeated and free-text fields.
const (
	// MaxReasons is the most distinct reasons one decision may name.
	MaxReasons = 5
	// MaxNoteLen is the most characters of a reviewer's note.
	MaxNoteLen = 1000
)

// Reviewer is who acts in the console: a staff user and the region
// prefixes in which they hold the permission the action needs.
type Reviewer struct {
	ID       int
	Username string
	Regions  []string
}

func (r Reviewer) covers(region string) bool {
	for _, p := range r.Regions {
		if rules.RegionCovers(p, region) {
			return true
		}
	}
	return false
}

func (r Reviewer) actor() string { return "staff:" + r.Username }

// CaseFor returns the submitted case with this number when it lies in the
// reviewer's regions. Outside them it does not exist, for them (404, not
// 403: its existence is not disclosed).
func (s *Service) CaseFor(ctx context.Context, rv Reviewer, number string) (*ent.RecoveryCase, error) {
	rc, err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(strings.ToUpper(number))).
		WithAccount().WithEvidence().Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !rv.covers(rc.RegionCode)) {
		return nil, ErrCaseNotFound
	}
	return rc, err
}

// Claim gives the reviewer the case for ClaimTTL, or renews their claim.
func (s *Service) Claim(ctx context.Context, rv Reviewer, number string) (*ent.RecoveryCase, error) {
	now := s.clock.Now()
	var out *ent.RecoveryCase
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, rv, number)
		if err != nil {
			return err
		}
		holder, held := ClaimHolder(rc, now)
		switch {
		case held && holder == rv.ID:
			// Already theirs (claimed or assigned): a no-op that renews a
			// lease about to end, and never shortens an assignment's.
			out = rc
			if rc.ClaimExpiresAt.Before(now.Add(ClaimTTL)) {
				out, err = tx.Ent.RecoveryCase.UpdateOne(rc).SetClaimExpiresAt(now.Add(ClaimTTL)).Save(ctx)
			}
			return err
		case held:
			return ErrClaimedOther
		case rc.Status != state.Submitted && rc.Status != state.InReview:
			return ErrNotClaimable
		}
		if err := s.claimLocked(ctx, tx, rv, rc); err != nil {
			return err
		}
		out, err = tx.Ent.RecoveryCase.Get(ctx, rc.ID)
		return err
	})
	return out, err
}

// claimLocked gives rc (read by lockedCase in tx, free to claim) to the
// reviewer for ClaimTTL, with its case event and audit entry.
func (s *Service) claimLocked(ctx context.Context, tx *db.Tx, rv Reviewer, rc *ent.RecoveryCase) error {
	now := s.clock.Now()
	if err := tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.InReview).SetClaimedBy(rv.ID).
		SetClaimExpiresAt(now.Add(ClaimTTL)).SetUpdatedAt(now).AddVersion(1).Exec(ctx); err != nil {
		return err
	}
	return s.record(ctx, tx, rc, now, rv.actor(), vocab.EventClaimed, map[string]any{"status": string(rc.Status)},
		map[string]any{"status": string(state.InReview), "claimed_by": rv.Username})
}

// RenewClaim extends the reviewer's claim on a case they hold to ClaimTTL
// from now; it does nothing for anyone else (and never claims), nor to a
// lease that already runs longer (an assignment's).
func (s *Service) RenewClaim(ctx context.Context, rv Reviewer, number string) error {
	now := s.clock.Now()
	_, err := s.db.Ent.RecoveryCase.Update().Where(recoverycase.CaseNumber(number), recoverycase.StatusEQ(state.InReview),
		recoverycase.ClaimedBy(rv.ID), recoverycase.ClaimExpiresAtGT(now), recoverycase.ClaimExpiresAtLT(now.Add(ClaimTTL))).
		SetClaimExpiresAt(now.Add(ClaimTTL)).Save(ctx)
	return err
}

// lockedCase reads a case inside tx, serialised against other changes to it.
func (s *Service) lockedCase(ctx context.Context, tx *db.Tx, rv Reviewer, number string) (*ent.RecoveryCase, error) {
	return s.lockedCaseWith(ctx, tx, rv, number, nil)
}

// lockedCaseWith is lockedCase for a caller that read the case's account
// already (acc, when not nil): the case is read alone and given acc, one
// statement less. The lock is the case's, not the account's, so the
// account read before the transaction is as current as one read in it.
func (s *Service) lockedCaseWith(ctx context.Context, tx *db.Tx, rv Reviewer, number string, acc *ent.Account) (*ent.RecoveryCase, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	if err := tx.LockKey(ctx, "case:"+number); err != nil {
		return nil, err
	}
	q := tx.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number))
	if acc == nil {
		q.WithAccount()
	}
	rc, err := q.Only(ctx)
	if ent.IsNotFound(err) || (err == nil && !rv.covers(rc.RegionCode)) {
		return nil, ErrCaseNotFound
	}
	if err == nil && acc != nil {
		rc.Edges.Account = acc
	}
	return rc, err
}

// lockedCaseAt is lockedCase for a change based on the case as it was at
// version: a case changed since answers ErrStale.
func (s *Service) lockedCaseAt(ctx context.Context, tx *db.Tx, rv Reviewer, number string, version int) (*ent.RecoveryCase, error) {
	return s.lockedCaseAtWith(ctx, tx, rv, number, version, nil)
}

// lockedCaseAtWith is lockedCaseAt with the case's account read already
// (lockedCaseWith).
func (s *Service) lockedCaseAtWith(ctx context.Context, tx *db.Tx, rv Reviewer, number string, version int, acc *ent.Account) (*ent.RecoveryCase, error) {
	rc, err := s.lockedCaseWith(ctx, tx, rv, number, acc)
	if err == nil && rc.Version != version {
		return nil, ErrStale
	}
	return rc, err
}

// ReleaseExpiredClaims puts cases whose claim ran out back in the queue.
func (s *Service) ReleaseExpiredClaims(ctx context.Context) (int, error) {
	now := s.clock.Now()
	expired, err := s.db.Ent.RecoveryCase.Query().
		Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimExpiresAtLT(now)).Limit(500).All(ctx)
	if err != nil {
		return 0, err
	}
	released := 0
	for _, rc := range expired {
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			// The version guard leaves a case alone that changed since it was
			// listed (renewed or decided meanwhile).
			err := tx.Ent.RecoveryCase.UpdateOneID(rc.ID).Where(recoverycase.Version(rc.Version)).SetStatus(state.Submitted).
				ClearClaimedBy().ClearClaimExpiresAt().AddVersion(1).SetUpdatedAt(now).Exec(ctx)
			if ent.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			released++
			return s.record(ctx, tx, rc, now, actorSystem, vocab.EventClaimExpired, map[string]any{"status": string(state.InReview)},
				map[string]any{"status": string(state.Submitted)})
		})
		if err != nil {
			return released, fmt.Errorf("release %s: %w", rc.ID, err)
		}
	}
	if released > 0 {
		// The released cases and the claims they freed go to whoever has
		// room now.
		if _, err := s.AssignWaiting(ctx); err != nil {
			return released, err
		}
	}
	return released, nil
}

// Decision is what a reviewer decides, based on the version they saw.
type Decision struct {
	Outcome     vocab.Outcome
	Reasons     []string // reject: catalog codes
	ReturnKinds []string // return: evidence kinds to upload again
	Note        string   // internal: staff only
	// Message is the reviewer's words to the applicant (MessageMaxLen
	// characters at most): the status page and the SMS show it. A rejection
	// naming ReasonOther and every return need one, because then the
	// catalog's text alone does not tell the applicant what to do.
	Message string
	Version int
}

// MessageMaxLen bounds Decision.Message, in characters: it goes into an SMS.
const MessageMaxLen = 200

// ReasonOther is the catalog's "其他原因" code, whose text defers to the
// reviewer's message.
const ReasonOther = "other"

// Decide records the claim holder's decision. Approval issues the new
// password in the same transaction: it is hashed as the account's pending
// password, and its SMS is queued (sealed; erased once sent). Its 4-hour
// clock starts when the SMS goes out. Rejection and return send an SMS too.
// An approval of a case with a risk flag issues nothing yet: the case awaits
// a supervisor's second approval (SecondApproval).
func (s *Service) Decide(ctx context.Context, rv Reviewer, number string, d Decision) error {
	// A code repeated is one reason: a form (or a script) sending the same
	// one 5 000 times names it once.
	d.Reasons, d.ReturnKinds = distinct(d.Reasons), distinct(d.ReturnKinds)
	if err := s.checkDecision(ctx, d); err != nil {
		return err
	}
	now := s.clock.Now()
	// The flags are found before the transaction (the duplicate search reads
	// many rows); the version check inside it makes sure they were found on
	// the case as decided.
	rc, err := s.CaseFor(ctx, rv, number)
	if err != nil {
		return err
	}
	if d.Outcome == vocab.OutcomeReject {
		// A case's kind never changes: checked once, outside the transaction.
		if err := checkReasonKinds(vocab.CaseKind(rc.Kind), d.Reasons); err != nil {
			return err
		}
	}
	// Hashing is slow; it is done before the transaction holds any lock,
	// and it runs while the flags are read: an approval's password is
	// hashed unless the case surely needs a second approval (then it
	// issues none), and dropped if a flag turns up after all.
	var hashed <-chan preparedPassword
	if d.Outcome == vocab.OutcomeApprove && !surelyFlagged(rc, now) {
		hashed = s.preparePasswordAsync(rc.Edges.Account)
	}
	items, err := s.evidenceItems(ctx, rv, rc)
	if err != nil {
		return err
	}
	flags, err := s.riskFlags(ctx, rc, items, now)
	if err != nil {
		return err
	}
	var pw issued
	if d.Outcome == vocab.OutcomeApprove && len(flags) == 0 {
		if hashed == nil { // not reached while surelyFlagged agrees with riskFlags
			hashed = s.preparePasswordAsync(rc.Edges.Account)
		}
		got := <-hashed
		if got.err != nil {
			return got.err
		}
		pw = got.pw
	}
	// The account was read with the case above (a case's account never
	// changes): the transaction reads the case alone.
	acc := rc.Edges.Account
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCaseAtWith(ctx, tx, rv, number, d.Version, acc)
		if err != nil {
			return err
		}
		if rc.Status != state.InReview || rc.ClaimedBy == nil || *rc.ClaimedBy != rv.ID || rc.ClaimExpiresAt == nil || !now.Before(*rc.ClaimExpiresAt) {
			return ErrNotHolder
		}
		if d.Outcome == vocab.OutcomeReturn {
			if err := checkKinds(string(rc.Kind), d.ReturnKinds); err != nil {
				return err
			}
		}
		// The decision frees the reviewer's claim: the next waiting case
		// of their regions is assigned in the same transaction.
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		if d.Outcome == vocab.OutcomeApprove && len(flags) > 0 {
			err = s.firstApproval(ctx, tx, rv, rc, d, now, flags)
		} else {
			err = s.applyDecision(ctx, tx, rv, rc, d, now, pw, flags)
		}
		if err != nil {
			return err
		}
		_, err = s.sweep(ctx, tx, now, rv.Regions, sweepOnFreed)
		return err
	})
	if err == nil && s.onDecided != nil {
		s.onDecided(d.Outcome)
	}
	return err
}

// issued is a reset password prepared for an approval: the clear text for
// its SMS and the hash stored as the account's pending password.
type issued struct{ password, hash string }

// preparedPassword is what preparePasswordAsync delivers.
type preparedPassword struct {
	pw  issued
	err error
}

// preparePasswordAsync runs preparePassword in the background; its channel
// delivers the result once (it is buffered: nobody has to read it).
func (s *Service) preparePasswordAsync(acc *ent.Account) <-chan preparedPassword {
	out := make(chan preparedPassword, 1)
	go func() {
		pw, err := s.preparePassword(acc)
		out <- preparedPassword{pw, err}
	}()
	return out
}

// preparePassword generates and hashes a reset password for acc.
func (s *Service) preparePassword(acc *ent.Account) (issued, error) {
	password, err := rules.GeneratePasswordFor(acc.Username)
	if err != nil {
		return issued{}, err
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return issued{}, err
	}
	return issued{password: password, hash: hash}, nil
}

func (s *Service) checkDecision(ctx context.Context, d Decision) error {
	switch d.Outcome {
	case vocab.OutcomeApprove:
	case vocab.OutcomeReject:
		if len(d.Reasons) == 0 {
			return ErrNeedReasons.WithField("reason")
		}
	case vocab.OutcomeReturn:
		if len(d.ReturnKinds) == 0 {
			return ErrNeedKinds.WithField("return_kind")
		}
	default:
		return ErrBadDecision.WithField("outcome")
	}
	// A return may name reasons too; they are stored, so they are checked.
	if d.Outcome != vocab.OutcomeApprove && len(d.Reasons) > 0 {
		if len(d.Reasons) > MaxReasons {
			return ErrTooManyReasons.WithField("reason")
		}
		if err := s.checkReasons(ctx, d.Reasons); err != nil {
			return err
		}
	}
	msg := strings.TrimSpace(d.Message)
	if utf8.RuneCountInString(msg) > MessageMaxLen {
		return ErrLongMessage.WithField("message")
	}
	if msg == "" && (d.Outcome == vocab.OutcomeReturn || d.Outcome == vocab.OutcomeReject && slices.Contains(d.Reasons, ReasonOther)) {
		return ErrNeedMessage.WithField("message")
	}
	if utf8.RuneCountInString(d.Note) > MaxNoteLen {
		return ErrNoteTooLong.WithField("note")
	}
	return nil
}

// distinct returns values without repeats, in their first order, trimmed,
// and without empty ones.
func distinct(values []string) []string {
	out := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func checkKinds(caseKind string, kinds []string) error {
	for _, k := range kinds {
		if !slices.Contains(RequiredEvidence(caseKind), k) {
			// The message names no typed value: it could be any length.
			return apperr.New(apperr.Invalid, "invalid_return_kind", "所选材料不属于该案件需要的材料，请刷新页面后重新选择").WithField("return_kind")
		}
	}
	return nil
}

// applyDecision writes the decision of rv (the decider), its side effects,
// its case event and its audit entry in tx, and draws it for QA when the
// case carried a risk flag or the random share picks it. It is the one home
// of a decision's effects, the approval's password included, whether the
// decision came straight from the reviewer or through a second approval.
func (s *Service) applyDecision(ctx context.Context, tx *db.Tx, rv Reviewer, rc *ent.RecoveryCase, d Decision, now time.Time, pw issued, flags []string) error {
	acc := rc.Edges.Account
	number := *rc.CaseNumber
	ref := "case:" + rc.ID.String()
	upd := tx.Ent.RecoveryCase.UpdateOne(rc).SetOutcome(recoverycase.Outcome(d.Outcome)).SetDecidedBy(rv.ID).
		SetDecidedAt(now).SetDecisionNote(strings.TrimSpace(d.Note)).SetDecisionMessage(strings.TrimSpace(d.Message)).ClearClaimExpiresAt().SetUpdatedAt(now).AddVersion(1).
		SetRiskFlags(append([]string{}, flags...))
	var to state.Status
	switch d.Outcome {
	case vocab.OutcomeApprove:
		to = state.Approved
		if pw.hash == "" {
			return fmt.Errorf("approve %s: no password was prepared", number)
		}
		if err := accounts.SetPendingPassword(ctx, tx, acc.ID, pw.hash, nil); err != nil {
			return err
		}
		if _, err := s.courier.QueueRef(ctx, tx, acc.Phone, ref, sms.Password(acc.Username, pw.password, accounts.PendingDelay)); err != nil {
			return err
		}
		upd.SetReasons([]string{}).SetReturnKinds([]string{})
	case vocab.OutcomeReject:
		to = state.Rejected
		texts, err := reasonTexts(ctx, tx.Ent, d.Reasons)
		if err != nil {
			return err
		}
		if !sms.RejectedReasonsFit(number, texts, s.hotline) {
			return ErrReasonsTooLong.WithField("reason")
		}
		if _, err := s.courier.QueueRef(ctx, tx, acc.Phone, ref, sms.Rejected(number, texts, strings.TrimSpace(d.Message), s.hotline)); err != nil {
			return err
		}
		upd.SetReasons(d.Reasons).SetReturnKinds([]string{})
	case vocab.OutcomeReturn:
		to = state.Returned
		labels := make([]string, len(d.ReturnKinds))
		for i, k := range d.ReturnKinds {
			labels[i] = vocab.EvidenceKind(k).Label()
		}
		if _, err := s.courier.QueueRef(ctx, tx, acc.Phone, ref, sms.Returned(number, labels, strings.TrimSpace(d.Message))); err != nil {
			return err
		}
		hashes, err := returnHashes(ctx, tx, rc, d.ReturnKinds)
		if err != nil {
			return err
		}
		// The SLA clock stops until the applicant resubmits.
		upd.SetReturnKinds(d.ReturnKinds).SetReturnHashes(hashes).SetReasons(d.Reasons).ClearDueBy()
	}
	if err := upd.SetStatus(to).Exec(ctx); err != nil {
		return err
	}
	if err := s.drawForQA(ctx, tx, rc, string(d.Outcome), rv.ID, now, flags); err != nil {
		return err
	}
	return s.record(ctx, tx, rc, now, rv.actor(), vocab.EventDecided,
		map[string]any{"status": string(rc.Status), "version": rc.Version},
		map[string]any{"status": string(to), "outcome": string(d.Outcome), "reasons": d.Reasons, "return_kinds": d.ReturnKinds})
}

// onPasswordSent starts the 4-hour clock of the pending password whose SMS
// just went out (registered with the courier).
func (s *Service) onPasswordSent(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error {
	id, ok := strings.CutPrefix(msg.Ref, "case:")
	if !ok {
		return nil
	}
	rc, err := tx.Ent.RecoveryCase.Query().Where(recoverycase.IDEQ(mustUUID(id))).WithAccount().Only(ctx)
	if err != nil {
		return fmt.Errorf("password sent for %s: %w", msg.Ref, err)
	}
	if rc.Status != state.Approved || rc.Edges.Account.PendingPasswordHash == "" {
		// A QA disagreement cancelled the password while its SMS was on
		// its way: there is no pending password to start.
		return s.record(ctx, tx, rc, sentAt, actorSystem, vocab.EventPasswordSMSSent, nil, map[string]any{"cancelled": true})
	}
	if err := accounts.StartPendingClock(ctx, tx, rc.Edges.Account.ID, sentAt); err != nil {
		return err
	}
	return s.record(ctx, tx, rc, sentAt, actorSystem, vocab.EventPasswordSMSSent, nil,
		map[string]any{"effective_at": sentAt.Add(accounts.PendingDelay).Format(time.RFC3339)})
}

// ErrUnknownReviewer is a reassignment to someone who cannot take the case.
var ErrUnknownReviewer = apperr.New(apperr.Invalid, "invalid_reviewer", "该人员不存在、已停用或无权审核此地区的案件")

// Reassign gives a case to another reviewer (a supervisor's move): it is
// claimed for them for ClaimTTL. canDecide says whether the target, by
// username key, may decide cases of a region.
func (s *Service) Reassign(ctx context.Context, sup Reviewer, number, to string, canDecide func(usernameKey, region string) bool) error {
	key := rules.NormalizeUsername(strings.TrimSpace(to))
	target, err := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey(key), staffuser.Disabled(false)).Only(ctx)
	if ent.IsNotFound(err) {
		return ErrUnknownReviewer.WithField("to")
	}
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, sup, number)
		if err != nil {
			return err
		}
		if !canDecide(key, rc.RegionCode) {
			return ErrUnknownReviewer.WithField("to")
		}
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		if rc.Status != state.Submitted && rc.Status != state.InReview {
			return ErrNotClaimable
		}
		if err := s.reassignLocked(ctx, tx, sup, rc, target); err != nil {
			return err
		}
		// The former holder's claim is free: a waiting case may take it.
		_, err = s.sweep(ctx, tx, s.clock.Now(), sup.Regions, sweepOnFreed)
		return err
	})
}

// reassignLocked gives rc (read by lockedCase in tx, open) to target for
// ClaimTTL, with its case event and audit entry: the one home of a
// reassignment, single or in bulk.
func (s *Service) reassignLocked(ctx context.Context, tx *db.Tx, sup Reviewer, rc *ent.RecoveryCase, target *ent.StaffUser) error {
	now := s.clock.Now()
	if err := tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.InReview).SetClaimedBy(target.ID).
		SetClaimExpiresAt(now.Add(ClaimTTL)).SetUpdatedAt(now).AddVersion(1).Exec(ctx); err != nil {
		return err
	}
	before := map[string]any{"status": string(rc.Status)}
	if rc.ClaimedBy != nil {
		before["claimed_by_id"] = *rc.ClaimedBy
	}
	return s.record(ctx, tx, rc, now, sup.actor(), vocab.EventReassigned, before,
		map[string]any{"status": string(state.InReview), "claimed_by": target.Username})
}
