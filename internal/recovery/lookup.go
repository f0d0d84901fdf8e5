package recovery

import (
	"context"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
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
