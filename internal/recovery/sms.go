package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// Errors of a resend.
var (
	ErrSMSNotFound  = apperr.New(apperr.NotFound, "sms_not_found", "该案件没有这条短信")
	ErrSMSNotFailed = apperr.New(apperr.Conflict, "sms_not_failed", "这条短信未处于发送失败状态（可能已由他人重发），无需重发")
	ErrSMSWithdrawn = apperr.New(apperr.Conflict, "password_withdrawn", "该新密码已撤销，不能再发送")
)

// onSMSFailed records in the case history that a message about the case
// failed for good (registered with the courier), in the transaction that
// marks it, so the case page and the audit log show it.
func (s *Service) onSMSFailed(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, at time.Time) error {
	id, ok := strings.CutPrefix(msg.Ref, "case:")
	if !ok {
		return nil
	}
	rc, err := tx.Ent.RecoveryCase.Query().Where(recoverycase.IDEQ(mustUUID(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sms failed for %s: %w", msg.Ref, err)
	}
	return s.record(ctx, tx, rc, at, actorSystem, vocab.EventSMSFailed, nil,
		map[string]any{string(vocab.DetailMessageID): msg.ID, string(vocab.DetailPurpose): msg.Purpose})
}

// ResendSMS sends a message about a case that failed for good once more (a
// supervisor's move, CONTRACT §7): the same text, so a password message
// carries the same password — never a new one. A password withdrawn since
// (a QA disagreement) is not sent. The resend is recorded in the case
// history and the audit log in the same transaction.
func (s *Service) ResendSMS(ctx context.Context, sup Reviewer, number string, messageID int) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, sup, number)
		if err != nil {
			return err
		}
		msg, err := tx.Ent.SMSMessage.Query().Where(smsmessage.ID(messageID), smsmessage.Ref("case:"+rc.ID.String())).Only(ctx)
		if ent.IsNotFound(err) {
			return ErrSMSNotFound
		}
		if err != nil {
			return err
		}
		if msg.Purpose == PurposePassword && (rc.Status != state.Approved || rc.Edges.Account.PendingPasswordHash == "") {
			return ErrSMSWithdrawn
		}
		if _, err := s.courier.Requeue(ctx, tx, msg.ID); errors.Is(err, sms.ErrNotFailed) {
			return ErrSMSNotFailed
		} else if err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, sup.actor(), vocab.EventSMSResent, nil,
			map[string]any{string(vocab.DetailMessageID): msg.ID, string(vocab.DetailPurpose): msg.Purpose})
	})
}

// FailedSMS is a message about a case that failed for good, as a
// supervisor's list shows it.
type FailedSMS struct {
	ID         int
	CaseNumber string
	Purpose    string
	// PurposeLabel names the message as staff know it.
	PurposeLabel string
	Phone        string // masked
	Tries        int
	LastError    string
	QueuedAt     time.Time
}

// failedListLimit bounds the supervisor's list of failed messages.
const failedListLimit = 200

// FailedSMSList lists the messages about cases in the supervisor's regions
// that failed for good, newest first, for the resend page.
func (s *Service) FailedSMSList(ctx context.Context, sup Reviewer) ([]FailedSMS, error) {
	msgs, err := s.db.Ent.SMSMessage.Query().
		Where(smsmessage.StatusEQ(smsmessage.StatusFailed), smsmessage.RefHasPrefix("case:")).
		Order(ent.Desc(smsmessage.FieldCreatedAt)).Limit(failedListLimit).All(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, mustUUID(strings.TrimPrefix(m.Ref, "case:")))
	}
	cases, err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]*ent.RecoveryCase, len(cases))
	for _, rc := range cases {
		byID[rc.ID] = rc
	}
	var out []FailedSMS
	for _, m := range msgs {
		rc := byID[mustUUID(strings.TrimPrefix(m.Ref, "case:"))]
		if rc == nil || rc.CaseNumber == nil || !sup.covers(rc.RegionCode) {
			continue
		}
		out = append(out, FailedSMS{ID: m.ID, CaseNumber: *rc.CaseNumber, Purpose: m.Purpose, PurposeLabel: vocab.Purpose(m.Purpose).Label(), Phone: rules.MaskPhone(m.Phone),
			Tries: m.SendCount, LastError: m.LastError, QueuedAt: sms.QueuedAt(m)})
	}
	return out, nil
}
