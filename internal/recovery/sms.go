package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/sms"
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
	return s.record(ctx, tx, rc, at, "system", "sms_failed", nil, map[string]any{"message_id": msg.ID, "purpose": msg.Purpose})
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
		return s.record(ctx, tx, rc, now, sup.actor(), "sms_resent", nil, map[string]any{"message_id": msg.ID, "purpose": msg.Purpose})
	})
}
