package recovery

import (
	"context"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/verify"
	"recoverydesk/internal/vocab"
)

// lookupPurpose scopes a status-lookup code to one case number.
func lookupPurpose(number string) string { return "status:" + number }

// byNumber finds a submitted case by its number.
func (s *Service) byNumber(ctx context.Context, number string) (*ent.RecoveryCase, string, error) {
	number = strings.ToUpper(strings.TrimSpace(number))
	rc, err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).WithAccount().Only(ctx)
	if ent.IsNotFound(err) {
		return nil, "", ErrCaseNotFound.WithMessage("未找到该申请编号，请核对后重试").WithField("case_number")
	}
	if err != nil {
		return nil, "", err
	}
	return rc, rc.Edges.Account.Phone, nil
}

// StartLookup sends a code to the phone on record of a case, so its status
// can be read in a browser that does not hold the case's token.
func (s *Service) StartLookup(ctx context.Context, number string) (phoneMasked string, resendAfter time.Duration, err error) {
	rc, phone, err := s.byNumber(ctx, number)
	if err != nil {
		return "", 0, err
	}
	wait, err := s.codes.Send(ctx, phone, lookupPurpose(*rc.CaseNumber), vocab.PurposeStatusCode)
	if err != nil {
		return "", 0, err
	}
	return rules.MaskPhone(phone), wait, nil
}

// FinishLookup checks the code and issues a fresh token for the case, which
// replaces the old one: the newest browser that proved the phone holds it.
func (s *Service) FinishLookup(ctx context.Context, number, code string) (id, token string, err error) {
	rc, phone, err := s.byNumber(ctx, number)
	if err != nil {
		return "", "", err
	}
	if err := s.codes.Verify(ctx, phone, lookupPurpose(*rc.CaseNumber), strings.TrimSpace(code)); err != nil {
		if e, ok := apperr.As(err); ok {
			return "", "", e.WithField("code")
		}
		return "", "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return "", "", err
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Ent.RecoveryCase.UpdateOneID(rc.ID).SetTokenHash(hash).Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, actorApplicant, vocab.EventStatusUnlocked, nil, nil)
	})
	if err != nil {
		return "", "", err
	}
	return rc.ID.String(), token, nil
}

// SendCaseNumber is 忘记申请编号: the applicant identifies the account as in
// step 1 (the same lookup, findAccount), and the number of its latest
// submitted case goes by SMS to the phone on record — or, when it has none,
// a message saying so. The answer is the masked phone either way, which step
// 1 already shows for the same input, so the page tells nothing step 1 does
// not; the number itself reaches only the phone. The send counts toward the
// phone's SMS quota (verify.CheckQuota) and is audited in its transaction.
func (s *Service) SendCaseNumber(ctx context.Context, in StartInput) (phoneMasked string, err error) {
	acc, _, _, _, err := s.findAccount(ctx, in)
	if err != nil {
		return "", err
	}
	latest, err := s.db.Ent.RecoveryCase.Query().
		Where(ofAccount(acc.ID), recoverycase.CaseNumberNotNil()).
		Order(ent.Desc(recoverycase.FieldSubmittedAt), ent.Desc(recoverycase.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return "", err
	}
	content, detail := sms.CaseNumber("", ""), map[string]any{}
	if latest != nil {
		content = sms.CaseNumber(*latest.CaseNumber, vocab.StatusLabel(latest.Status))
		detail["case_number"] = *latest.CaseNumber
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := verify.CheckQuota(ctx, tx, acc.Phone, now); err != nil {
			return err
		}
		if _, err := s.courier.Queue(ctx, tx, acc.Phone, content); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorApplicant, Actor: rules.MaskPhone(acc.Phone),
			Action: vocab.ActionCaseNumberSent, ObjectType: string(vocab.ObjectAccount), ObjectID: acc.Username, Detail: detail})
	})
	if err != nil {
		return "", err
	}
	return rules.MaskPhone(acc.Phone), nil
}

// Again is what a new application after a rejection starts from: what the
// applicant typed in step 1 of the rejected case, so they need not type it
// again (CONTRACT's StartInput field names).
type Again struct {
	Kind       string `json:"kind"`
	Username   string `json:"username"`
	CertType   string `json:"cert_type,omitempty"`
	CertNumber string `json:"cert_number,omitempty"`
	UnitName   string `json:"unit_name,omitempty"`
	Name       string `json:"name,omitempty"`
	IDNumber   string `json:"id_number,omitempty"`
}

// ApplyAgain returns the step-1 input of a rejected case for the holder of
// its token; the certificate travels in the answer to that holder, never
// in a URL. Any other status answers wrong_step: only a rejection closes a
// case so that a new application is the way on.
func (s *Service) ApplyAgain(rc *ent.RecoveryCase) (*Again, error) {
	if rc.Status != state.Rejected {
		return nil, ErrWrongStep
	}
	a := &Again{Kind: string(rc.Kind), Username: rc.TypedUsername}
	if rc.Kind == recoverycase.KindPerson {
		a.Name, a.IDNumber = rc.TypedName, rc.TypedCertNumber
	} else {
		a.CertType, a.CertNumber, a.UnitName = rc.TypedCertType, rc.TypedCertNumber, rc.TypedName
	}
	return a, nil
}
