package recovery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// codePurpose scopes an SMS code to one case.
func codePurpose(rc *ent.RecoveryCase) string { return "recovery:" + rc.ID.String() }

// phoneOnRecord is the phone the code goes to: always the account's, never
// one from the request.
func (s *Service) phoneOnRecord(ctx context.Context, rc *ent.RecoveryCase) (string, error) {
	acc, err := rc.QueryAccount().Only(ctx)
	if err != nil {
		return "", err
	}
	return acc.Phone, nil
}

// SendCode is step 2, 身份验证: a code to the phone on record.
func (s *Service) SendCode(ctx context.Context, rc *ent.RecoveryCase) (time.Duration, error) {
	if rc.Status != state.Draft || rc.PhoneVerifiedAt != nil {
		return 0, ErrWrongStep
	}
	phone, err := s.phoneOnRecord(ctx, rc)
	if err != nil {
		return 0, err
	}
	return s.codes.Send(ctx, phone, codePurpose(rc), vocab.PurposeRecoveryCode)
}

// VerifyCode checks the code and moves the case to the upload step.
func (s *Service) VerifyCode(ctx context.Context, rc *ent.RecoveryCase, code string) error {
	if rc.Status != state.Draft {
		return ErrWrongStep
	}
	if rc.PhoneVerifiedAt != nil {
		return nil
	}
	phone, err := s.phoneOnRecord(ctx, rc)
	if err != nil {
		return err
	}
	if err := s.codes.Verify(ctx, phone, codePurpose(rc), code); err != nil {
		if e, ok := apperr.As(err); ok {
			return e.WithField("code")
		}
		return err
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		// Only while still a draft: a new start may have replaced it since it
		// was read (an unverified draft may be replaced), and then its token
		// opens nothing.
		n, err := tx.Ent.RecoveryCase.Update().Where(recoverycase.ID(rc.ID), recoverycase.StatusEQ(state.Draft)).
			SetPhoneVerifiedAt(now).SetUpdatedAt(now).AddVersion(1).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrCaseNotFound
		}
		return s.record(ctx, tx, rc, now, actorApplicant, vocab.EventPhoneVerified, nil, map[string]any{"phone": rules.MaskPhone(phone)})
	})
}

// Submitted is the result of a submission.
type Submitted struct {
	CaseNumber  string
	Status      state.Status
	SubmittedAt time.Time
	DueBy       time.Time
}

// Submit puts a complete draft (or a returned case with its re-uploads) into
// the regional queue: it gets its case number at first submission and a due
// date, the 2nd working day after the submission date.
func (s *Service) Submit(ctx context.Context, rc *ent.RecoveryCase) (*Submitted, error) {
	if (rc.Status != state.Draft && rc.Status != state.Returned) || rc.PhoneVerifiedAt == nil {
		return nil, ErrWrongStep
	}
	have, err := rc.QueryEvidence().Select(evidence.FieldKind).Strings(ctx)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range RequiredEvidence(string(rc.Kind)) {
		if !slices.Contains(have, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, ErrMissingEvidence.With("missing", missing)
	}
	if rc.Status == state.Returned {
		pending, err := s.toReplace(ctx, rc)
		if err != nil {
			return nil, err
		}
		if len(pending) > 0 {
			return nil, ErrEvidenceUnchanged.With("kinds", pending)
		}
	}
	phone, err := s.phoneOnRecord(ctx, rc)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	due := s.calendar.DueBy(now)
	out := &Submitted{Status: state.Submitted, SubmittedAt: now, DueBy: due}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		upd := tx.Ent.RecoveryCase.UpdateOneID(rc.ID).Where(recoverycase.Version(rc.Version)).
			SetStatus(state.Submitted).SetSubmittedAt(now).SetDueBy(due).SetUpdatedAt(now).AddVersion(1)
		if rc.CaseNumber == nil {
			number, err := s.nextCaseNumber(ctx, tx, now)
			if err != nil {
				return err
			}
			upd.SetCaseNumber(number)
			out.CaseNumber = number
		} else {
			out.CaseNumber = *rc.CaseNumber
		}
		if err := upd.Exec(ctx); ent.IsNotFound(err) {
			return ErrWrongStep
		} else if err != nil {
			return err
		}
		// The confirmation is queued with the submission: both or neither.
		if _, err := s.courier.QueueRef(ctx, tx, phone, "case:"+rc.ID.String(),
			sms.Submitted(out.CaseNumber, due.In(rules.Shanghai))); err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, actorApplicant, vocab.EventSubmitted,
			map[string]any{"status": string(rc.Status)},
			map[string]any{"status": string(state.Submitted), "case_number": out.CaseNumber, "due_by": due.Format(time.DateOnly)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ErrEvidenceUnchanged refuses a resubmission after a return (补正) before
// every returned kind was replaced; its "kinds" name the ones still to do.
var ErrEvidenceUnchanged = apperr.New(apperr.Invalid, "evidence_unchanged",
	"请先重新上传审核人员要求补正的材料（上传与原来相同的图片不算重新上传）")

// returnHashes records, as a case is returned, the SHA-256 of the current
// image of each returned kind: what a replacement must differ from.
func returnHashes(ctx context.Context, tx *db.Tx, rc *ent.RecoveryCase, kinds []string) (map[string]string, error) {
	rows, err := tx.Ent.Evidence.Query().Where(evidence.CaseID(rc.ID)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(kinds))
	for _, e := range rows {
		if slices.Contains(kinds, string(e.Kind)) {
			out[string(e.Kind)] = e.Sha256
		}
	}
	return out, nil
}

// toReplace lists the returned kinds of a returned case not yet replaced:
// a kind is replaced by an image whose SHA-256 differs from the one it had
// at the return (a byte-identical re-upload is not a replacement). For a
// case returned before the hashes were kept, any image uploaded after the
// decision counts. It is the one home of the rule: Submit enforces it and
// the status view shows it as the applicant's to-do list.
func (s *Service) toReplace(ctx context.Context, rc *ent.RecoveryCase) ([]string, error) {
	if rc.Status != state.Returned || len(rc.ReturnKinds) == 0 {
		return []string{}, nil
	}
	rows, err := rc.QueryEvidence().All(ctx)
	if err != nil {
		return nil, err
	}
	pending := []string{}
	for _, k := range rc.ReturnKinds {
		replaced := false
		for _, e := range rows {
			if string(e.Kind) != k {
				continue
			}
			if old, ok := rc.ReturnHashes[k]; ok {
				replaced = e.Sha256 != old
			} else {
				replaced = rc.DecidedAt != nil && e.CreatedAt.After(*rc.DecidedAt)
			}
		}
		if !replaced {
			pending = append(pending, k)
		}
	}
	return pending, nil
}

// nextCaseNumber is ZH + the submission date + a 6-digit sequence of that
// day, taken under a lock so two submissions never share a number.
func (s *Service) nextCaseNumber(ctx context.Context, tx *db.Tx, now time.Time) (string, error) {
	prefix := "ZH" + now.In(rules.Shanghai).Format("20060102")
	if err := tx.LockKey(ctx, "case-number:"+prefix); err != nil {
		return "", err
	}
	last, err := tx.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumberHasPrefix(prefix)).
		Order(ent.Desc(recoverycase.FieldCaseNumber)).Select(recoverycase.FieldCaseNumber).Strings(ctx)
	if err != nil {
		return "", err
	}
	seq := 1
	if len(last) > 0 {
		if _, err := fmt.Sscanf(last[0][len(prefix):], "%06d", &seq); err != nil {
			return "", fmt.Errorf("parse case number %q: %w", last[0], err)
		}
		seq++
	}
	return fmt.Sprintf("%s%06d", prefix, seq), nil
}

// StatusView is what an applicant may see of a case: never the evidence or
// the personal data on record.
type StatusView struct {
	ID               string       `json:"id"`
	Kind             string       `json:"kind"`
	CaseNumber       *string      `json:"case_number"`
	Status           state.Status `json:"status"`
	StatusLabel      string       `json:"status_label"`
	SubmittedAt      *time.Time   `json:"submitted_at"`
	DueBy            *string      `json:"due_by"`
	PhoneVerified    bool         `json:"phone_verified"`
	RequiredEvidence []string     `json:"required_evidence"`
	Uploaded         []string     `json:"uploaded"`
	// ToReplace are the returned kinds of a returned case (补正) not yet
	// replaced by a different image: the re-upload page's to-do list.
	ToReplace []string      `json:"to_replace"`
	Decision  *DecisionView `json:"decision"`
	// PasswordEffectiveAt is when the new password of an approved case
	// takes effect: 4 hours after its SMS was accepted by the gateway, so it
	// is there only once that happened.
	PasswordEffectiveAt *time.Time  `json:"password_effective_at,omitempty"`
	Timeline            []EventView `json:"timeline"`
}

// DecisionView is a decision as the applicant sees it: the reasons with
// their catalog texts, the reviewer's message to the applicant (never the
// internal note) and, for a return (补正), the evidence kinds to upload again.
type DecisionView struct {
	Outcome     string       `json:"outcome"`
	Reasons     []ReasonView `json:"reasons"`
	Message     string       `json:"message"`
	ReturnKinds []string     `json:"return_kinds"`
	DecidedAt   time.Time    `json:"decided_at"`
}

// ReasonView is one reason of a decision: its code and the catalog's
// current text.
type ReasonView struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// EventView is one step of the applicant's timeline.
type EventView struct {
	Type  string    `json:"type"`
	Label string    `json:"label"`
	At    time.Time `json:"at"`
}

// ApplicantStatus is the status an applicant sees (CONTRACT §4 lists them):
// a case waiting for a supervisor's second approval is still in review.
func ApplicantStatus(s state.Status) state.Status {
	if s == state.AwaitingSecond {
		return state.InReview
	}
	return s
}

// Status returns the applicant's view of a case.
func (s *Service) Status(ctx context.Context, rc *ent.RecoveryCase) (*StatusView, error) {
	kinds, err := rc.QueryEvidence().Select(evidence.FieldKind).Strings(ctx)
	if err != nil {
		return nil, err
	}
	events, err := rc.QueryEvents().Order(ent.Asc("created_at"), ent.Asc("id")).All(ctx)
	if err != nil {
		return nil, err
	}
	shown := ApplicantStatus(rc.Status)
	v := &StatusView{ID: rc.ID.String(), Kind: string(rc.Kind), CaseNumber: rc.CaseNumber, Status: shown,
		StatusLabel: vocab.StatusLabel(shown), SubmittedAt: rc.SubmittedAt, PhoneVerified: rc.PhoneVerifiedAt != nil,
		RequiredEvidence: RequiredEvidence(string(rc.Kind)), Uploaded: kinds, Timeline: []EventView{}}
	if v.ToReplace, err = s.toReplace(ctx, rc); err != nil {
		return nil, err
	}
	if rc.DueBy != nil {
		d := rc.DueBy.In(rules.Shanghai).Format(time.DateOnly)
		v.DueBy = &d
	}
	if rc.Outcome != nil && rc.DecidedAt != nil {
		var all []Reason
		if len(rc.Reasons) > 0 {
			if all, err = reasonCatalog(ctx, s.db.Ent); err != nil {
				return nil, err
			}
		}
		reasons := make([]ReasonView, 0, len(rc.Reasons))
		for _, code := range rc.Reasons {
			if i := indexOfReason(all, code); i >= 0 {
				reasons = append(reasons, ReasonView{Code: code, Text: all[i].Text})
			}
		}
		v.Decision = &DecisionView{Outcome: string(*rc.Outcome), Reasons: reasons, Message: rc.DecisionMessage,
			ReturnKinds: append([]string{}, rc.ReturnKinds...), DecidedAt: *rc.DecidedAt}
	}
	for _, e := range events {
		// The latest password SMS of an approved case names when its
		// password takes effect (a cancelled one carries no time).
		if rc.Status == state.Approved && vocab.EventType(e.Type) == vocab.EventPasswordSMSSent {
			v.PasswordEffectiveAt = nil
			if at, ok := e.After["effective_at"].(string); ok {
				if t, err := time.Parse(time.RFC3339, at); err == nil {
					v.PasswordEffectiveAt = &t
				}
			}
		}
		if label, ok := vocab.EventType(e.Type).ApplicantLabel(); ok {
			v.Timeline = append(v.Timeline, EventView{Type: e.Type, Label: label, At: e.CreatedAt})
		}
	}
	return v, nil
}
