// Package verify sends and checks SMS verification codes: 6 random digits,
// valid 5 minutes, one send per 60 s per phone and at most 10 a day, void
// after 5 wrong entries, stored only as an HMAC. Registration, recovery and
// every other flow that proves control of a phone share these rules.
package verify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"math/big"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/smscode"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// The code rules.
const (
	CodeTTL        = 5 * time.Minute
	ResendInterval = 60 * time.Second
	DailyLimit     = 10
	MaxAttempts    = 5
)

// SentNotice tells a person where the code went and how long it lives: the
// pages' wording (the scripts build the same from data-code-ttl-minutes).
func SentNotice(maskedPhone string) string {
	return fmt.Sprintf("验证码已发送至 %s，%d分钟内有效", maskedPhone, int(CodeTTL/time.Minute))
}

// throttled are the SMS purposes a person triggers; they share the
// per-phone send quota. "code" is the purpose of codes queued before each
// code had a purpose of its own.
var throttled = []string{string(vocab.PurposeRegisterCode), string(vocab.PurposeRecoveryCode), string(vocab.PurposeStatusCode),
	string(vocab.PurposeUsername), string(vocab.PurposeCaseNumber), "code"}

// Errors of the code flow.
var (
	ErrWrongCode   = apperr.New(apperr.Invalid, "wrong_code", "验证码错误")
	ErrCodeExpired = apperr.New(apperr.Gone, "code_expired", "验证码已失效，请重新获取")
	ErrRateLimited = apperr.New(apperr.RateLimited, "rate_limited", "操作过于频繁，请稍后再试")
)

// Codes sends and checks verification codes.
type Codes struct {
	db      *db.DB
	clock   clock.Clock
	keys    *secret.Keys
	courier *sms.Courier
}

// New returns the code service.
func New(d *db.DB, clk clock.Clock, keys *secret.Keys, courier *sms.Courier) *Codes {
	return &Codes{db: d, clock: clk, keys: keys, courier: courier}
}

// Send generates a code for phone and purpose (what it proves: "register",
// "recovery:<id>") and queues its SMS, a message of smsPurpose. It returns
// how long until the next send is allowed.
func (c *Codes) Send(ctx context.Context, phone, purpose string, smsPurpose vocab.Purpose) (time.Duration, error) {
	now := c.clock.Now()
	code, err := randomCode()
	if err != nil {
		return 0, err
	}
	err = c.db.InTx(ctx, func(tx *db.Tx) error {
		if err := CheckQuota(ctx, tx, phone, now); err != nil {
			return err
		}
		if err := tx.Ent.SMSCode.Create().SetPhone(phone).SetPurpose(purpose).
			SetCodeHash(c.hash(phone, purpose, code)).SetCreatedAt(now).SetExpiresAt(now.Add(CodeTTL)).Exec(ctx); err != nil {
			return fmt.Errorf("store code: %w", err)
		}
		if _, err := c.courier.Queue(ctx, tx, phone, sms.Code(smsPurpose, code, CodeTTL)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorApplicant, Actor: rules.MaskPhone(phone),
			Action: "sms_code.sent", ObjectType: "phone", ObjectID: rules.MaskPhone(phone), Detail: map[string]any{"purpose": purpose}})
	})
	if err != nil {
		return 0, err
	}
	return ResendInterval, nil
}

// CheckQuota refuses a person-triggered SMS to phone when one went out in the
// last 60 s or 10 went out today (Asia/Shanghai). Call it inside the
// transaction that queues the SMS; it locks the phone's quota until then.
func CheckQuota(ctx context.Context, tx *db.Tx, phone string, now time.Time) error {
	if err := tx.LockKey(ctx, "sms-quota:"+phone); err != nil {
		return err
	}
	recent := tx.Ent.SMSMessage.Query().Where(smsmessage.Phone(phone), smsmessage.PurposeIn(throttled...))
	last, err := recent.Clone().Order(ent.Desc(smsmessage.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return err
	}
	if last != nil {
		if wait := last.CreatedAt.Add(ResendInterval).Sub(now); wait > 0 {
			secs := int((wait + time.Second - 1) / time.Second)
			return ErrRateLimited.With("retry_after", secs)
		}
	}
	dayStart := rules.StartOfDay(now)
	n, err := recent.Clone().Where(smsmessage.CreatedAtGTE(dayStart)).Count(ctx)
	if err != nil {
		return err
	}
	if n >= DailyLimit {
		secs := int(dayStart.AddDate(0, 0, 1).Sub(now) / time.Second)
		return ErrRateLimited.WithMessage("该手机号今日接收短信次数已达上限，请明天再试").With("retry_after", secs)
	}
	return nil
}

// Verify checks code for phone and purpose and consumes it. A wrong code
// counts toward the 5 allowed attempts; the count is kept even though the
// call fails.
func (c *Codes) Verify(ctx context.Context, phone, purpose, code string) error {
	now := c.clock.Now()
	var outcome error
	err := c.db.InTx(ctx, func(tx *db.Tx) error {
		rec, err := tx.Ent.SMSCode.Query().
			Where(smscode.Phone(phone), smscode.Purpose(purpose), smscode.ConsumedAtIsNil()).
			Order(ent.Desc(smscode.FieldCreatedAt), ent.Desc(smscode.FieldID)).First(ctx)
		if ent.IsNotFound(err) {
			outcome = ErrCodeExpired
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case !now.Before(rec.ExpiresAt):
			outcome = ErrCodeExpired
			return nil
		case rec.Attempts >= MaxAttempts:
			outcome = ErrCodeExpired.WithMessage("验证码错误次数过多，已失效，请重新获取")
			return nil
		}
		if !hmac.Equal(rec.CodeHash, c.hash(phone, purpose, code)) {
			left := MaxAttempts - rec.Attempts - 1
			if err := tx.Ent.SMSCode.UpdateOne(rec).AddAttempts(1).Exec(ctx); err != nil {
				return err
			}
			msg := fmt.Sprintf("验证码错误，还可尝试%d次", left)
			if left == 0 {
				msg = "验证码错误次数过多，已失效，请重新获取"
			}
			outcome = ErrWrongCode.WithMessage(msg).With("attempts_left", left)
			return nil
		}
		return tx.Ent.SMSCode.UpdateOne(rec).SetConsumedAt(now).Exec(ctx)
	})
	if err != nil {
		return err
	}
	return outcome
}

// hash is the HMAC of a code bound to its phone and purpose.
func (c *Codes) hash(phone, purpose, code string) []byte {
	return c.keys.Sign([]byte("sms-code\x00" + phone + "\x00" + purpose + "\x00" + code))
}

func randomCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}
