package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Credentials are what a login form sends.
type Credentials struct {
	Kind     string // person or unit
	Username string
	Password string
}

// Login checks credentials under the lockout rule and returns the account.
func (s *Service) Login(ctx context.Context, c Credentials) (*ent.Account, error) {
	if c.Kind != KindPerson && c.Kind != KindUnit {
		return nil, apperr.New(apperr.Invalid, "invalid_kind", "请选择个人登录或单位登录").WithField("kind")
	}
	return s.authenticate(ctx, c, vocab.AttemptLogin)
}

// VerifyOperator authenticates the operator of a unit registration: a
// registered, real-name-verified person account. A wrong password counts
// toward that account's lockout like a login.
func (s *Service) VerifyOperator(ctx context.Context, username, password string) (*ent.Account, error) {
	acc, err := s.authenticate(ctx, Credentials{Kind: KindPerson, Username: username, Password: password}, vocab.AttemptOperator)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "" {
			return nil, e.WithField("operator_password")
		}
		return nil, err
	}
	if !acc.Verified {
		return nil, ErrOperatorNotVerified
	}
	return acc, nil
}

// check is what verifying a password against an account found.
type check struct {
	acc            *ent.Account
	matchesCurrent bool
	matchesPending bool
	// wrongTab: the account is of the other kind than the login tab. Its
	// right password names the right tab; a wrong one is an ordinary
	// failure (counted toward the lockout, so the hint is no oracle that
	// escapes it).
	wrongTab bool
}

// authenticate is the one home of the lockout and pending-password rules.
// The slow argon2id verification happens outside the transaction; the
// transaction then re-reads the account and applies the outcome, so a
// concurrent change (another failure, a new password) is never lost.
func (s *Service) authenticate(ctx context.Context, c Credentials, purpose vocab.AttemptPurpose) (*ent.Account, error) {
	key := rules.NormalizeUsername(strings.TrimSpace(c.Username))
	q := s.db.Ent.Account.Query().Where(account.UsernameKey(key))
	if purpose != vocab.AttemptLogin {
		// Only the login form has two tabs to confuse.
		q.Where(account.KindEQ(account.Kind(c.Kind)))
	}
	acc, err := q.Only(ctx)
	if ent.IsNotFound(err) || key == "" {
		// The dummy check costs what a real one does and waits for the
		// same bounded slots; when none frees, the answer is "busy" as for
		// a real account, not a quick "wrong password" that would tell.
		if _, err := s.hasher.Verify(c.Password, s.dummyHash); errors.Is(err, passhash.ErrBusy) {
			return nil, err
		}
		s.recordFailure(ctx, c.Username, purpose, vocab.ReasonUnknownUsername)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, err
	}
	chk := check{acc: acc, wrongTab: string(acc.Kind) != c.Kind}
	if chk.matchesCurrent, err = s.hasher.Verify(c.Password, acc.PasswordHash); err != nil {
		return nil, err
	}
	if acc.PendingPasswordHash != "" && !chk.matchesCurrent && !chk.wrongTab {
		if chk.matchesPending, err = s.hasher.Verify(c.Password, acc.PendingPasswordHash); err != nil {
			return nil, err
		}
	}
	var result *ent.Account
	var outcome error
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.LockKey(ctx, fmt.Sprintf("account:%d", acc.ID)); err != nil {
			return err
		}
		fresh, err := tx.Ent.Account.Get(ctx, acc.ID)
		if err != nil {
			return err
		}
		result, outcome, err = s.applyAttempt(ctx, tx, fresh, chk, purpose)
		return err
	})
	if err != nil {
		return nil, err
	}
	return result, outcome
}

// applyAttempt decides one attempt on the freshly read account a.
func (s *Service) applyAttempt(ctx context.Context, tx *db.Tx, a *ent.Account, chk check, purpose vocab.AttemptPurpose) (*ent.Account, error, error) {
	now := s.clock.Now()
	upd := tx.Ent.Account.UpdateOne(a).SetUpdatedAt(now)
	ev := audit.Event{At: now, ActorKind: audit.ActorAccount, Actor: a.Username, ObjectType: "account", ObjectID: a.Username}

	// A pending password whose time has come becomes the password (the
	// promotion job may not have reached it yet).
	if promotionDue(a, now) {
		promoted := a.PendingPasswordHash == chk.acc.PendingPasswordHash
		if err := promote(ctx, tx, upd, a, ev); err != nil {
			return nil, nil, err
		}
		chk.matchesCurrent, chk.matchesPending = promoted && chk.matchesPending, false
	} else if a.PasswordHash != chk.acc.PasswordHash {
		// The password changed while we verified: judge by the new one next time.
		chk.matchesCurrent = false
	}
	if rules.DefaultLockout.Locked(a.LockedUntil, now) {
		if err := upd.Exec(ctx); err != nil {
			return nil, nil, err
		}
		return nil, lockedError(*a.LockedUntil), audit.Record(ctx, tx, withAction(ev, vocab.Attempt(purpose, vocab.AttemptRefusedLocked), nil))
	}
	if a.LockedUntil != nil { // the lock has run out: a fresh count
		a.FailedLogins = 0
		upd.ClearLockedUntil().SetFailedLogins(0)
	}
	switch {
	case chk.matchesCurrent && chk.wrongTab:
		if err := upd.Exec(ctx); err != nil {
			return nil, nil, err
		}
		wrong := ErrPersonAccount
		if a.Kind == account.KindUnit {
			wrong = ErrUnitAccount
		}
		return nil, wrong.With("kind", string(a.Kind)), audit.Record(ctx, tx, withAction(ev, vocab.Attempt(purpose, vocab.AttemptWrongTab), nil))
	case chk.matchesCurrent:
		a, err := upd.SetFailedLogins(0).SetLastLoginAt(now).Save(ctx)
		if err != nil {
			return nil, nil, err
		}
		return a, nil, audit.Record(ctx, tx, withAction(ev, vocab.Attempt(purpose, vocab.AttemptSuccess), nil))
	case chk.matchesPending && a.PendingPasswordHash != "":
		if err := upd.Exec(ctx); err != nil {
			return nil, nil, err
		}
		return nil, notEffectiveError(a.PendingEffectiveAt), audit.Record(ctx, tx, withAction(ev, vocab.Attempt(purpose, vocab.AttemptPendingNotReady), nil))
	}
	stored, until, left := rules.DefaultLockout.Fail(a.FailedLogins, now)
	upd.SetFailedLogins(stored)
	failure := withAction(ev, vocab.Attempt(purpose, vocab.AttemptFailure), map[string]any{"failures": a.FailedLogins + 1})
	if until != nil {
		if err := upd.SetLockedUntil(*until).Exec(ctx); err != nil {
			return nil, nil, err
		}
		if err := audit.Record(ctx, tx, failure); err != nil {
			return nil, nil, err
		}
		return nil, lockedError(*until), audit.Record(ctx, tx, withAction(ev, "account.locked", map[string]any{"until": *until}))
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, nil, err
	}
	if chk.wrongTab {
		// The generic answer of that tab, as for a username it does not know.
		return nil, ErrBadCredentials, audit.Record(ctx, tx, failure)
	}
	return nil, attemptsLeftError(left), audit.Record(ctx, tx, failure)
}

// notEffectiveError answers the new password before its time. Until its SMS
// has gone out the time is not known yet.
func notEffectiveError(at *time.Time) error {
	if at == nil {
		e := ErrPasswordNotEffective.With("effective_at", nil)
		e.Message = fmt.Sprintf("新密码短信正在发送，收到短信%d小时后新密码才生效，在此之前请使用原密码登录", int(PendingDelay/time.Hour))
		return e
	}
	e := ErrPasswordNotEffective.With("effective_at", at.Format(time.RFC3339))
	e.Message = fmt.Sprintf("新密码尚未生效，将于 %s 生效，在此之前请使用原密码登录", at.In(rules.Shanghai).Format("2006-01-02 15:04"))
	return e
}

// attemptsLeftError is a wrong password with the attempts before the lock.
func attemptsLeftError(left int) error {
	e := ErrBadCredentials.With("attempts_left", left)
	e.Message = "用户名或密码错误，" + rules.DefaultLockout.AttemptsLeftMessage(left)
	return e
}

func withAction(e audit.Event, action vocab.Action, detail map[string]any) audit.Event {
	e.Action, e.Detail = action, detail
	return e
}

func lockedError(until time.Time) error {
	e := ErrLocked.With("locked_until", until.Format(time.RFC3339))
	e.Message = rules.DefaultLockout.LockedMessage(until) + "，或通过“密码找回”重置密码"
	return e
}

// recordFailure audits an attempt on a username that does not exist.
func (s *Service) recordFailure(ctx context.Context, username string, purpose vocab.AttemptPurpose, reason vocab.CloseReason) {
	if len(username) > 64 {
		username = username[:64]
	}
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		return audit.Record(ctx, tx, audit.Event{At: s.clock.Now(), ActorKind: audit.ActorApplicant, Actor: username,
			Action: vocab.Attempt(purpose, vocab.AttemptFailure), ObjectType: "account", ObjectID: username, Detail: map[string]any{"reason": string(reason)}})
	})
	if err != nil {
		s.logger.WarnContext(ctx, "audit failed login", "err", err)
	}
}

// PasswordChange is what the password-change form sends.
type PasswordChange struct {
	Kind        string
	Username    string
	OldPassword string
	NewPassword string
}

// ChangePassword replaces the password after checking the old one (a wrong
// one counts toward the lockout). The new one must pass the policy and differ
// from the old. Any pending password is dropped: the holder chose their own.
func (s *Service) ChangePassword(ctx context.Context, in PasswordChange) error {
	if in.Kind != KindPerson && in.Kind != KindUnit {
		return apperr.New(apperr.Invalid, "invalid_kind", "请选择个人账号或单位账号").WithField("kind")
	}
	if err := CheckNewPassword(in); err != nil {
		return err
	}
	acc, err := s.authenticate(ctx, Credentials{Kind: in.Kind, Username: in.Username, Password: in.OldPassword}, vocab.AttemptPasswordChange)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Field == "" {
			return e.WithField("old_password")
		}
		return err
	}
	hash, err := s.hasher.Hash(in.NewPassword)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.Ent.Account.UpdateOneID(acc.ID).SetPasswordHash(hash).ClearPendingPasswordHash().
			ClearPendingEffectiveAt().SetPasswordChangedAt(now).SetUpdatedAt(now).Exec(ctx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorAccount, Actor: acc.Username,
			Action: "password.changed", ObjectType: "account", ObjectID: acc.Username})
	})
}

// CheckNewPassword checks the new password of a change against the policy
// (CONTRACT §3) and the old one, without authenticating anything: every
// problem under the field new_password, nil when there is none. The page
// asks it when it refuses the form for a reason of its own (a confirmation
// that differs), so that one retry suffices.
func CheckNewPassword(in PasswordChange) error {
	var f fieldErrors
	f.password("new_password", in.NewPassword, in.Username)
	if in.NewPassword != "" && in.NewPassword == in.OldPassword {
		f.add("new_password", "password_unchanged", "新密码不能与原密码相同")
	}
	return f.err()
}

// SetPendingPassword gives an account a new password that becomes the only
// valid one at effectiveAt; until then the old one keeps working. A nil
// effectiveAt means "not yet known": an approval sets the password when it
// decides, and StartPendingClock sets the time once the SMS went out.
//
// It is one UPDATE (UpdateOneID would read the row back as well: a second
// round trip inside every approval's transaction).
func SetPendingPassword(ctx context.Context, tx *db.Tx, accountID int, hash string, effectiveAt *time.Time) error {
	upd := tx.Ent.Account.Update().Where(account.ID(accountID)).SetPendingPasswordHash(hash).ClearPendingEffectiveAt()
	if effectiveAt != nil {
		upd.SetPendingEffectiveAt(*effectiveAt)
	}
	n, err := upd.Save(ctx)
	if err == nil && n == 0 {
		err = fmt.Errorf("set pending password: account %d not found", accountID)
	}
	return err
}

// PendingDelay is how long after its SMS a reset password takes effect.
const PendingDelay = 4 * time.Hour

// StartPendingClock makes the account's pending password take effect
// PendingDelay after sentAt, the moment its SMS was handed to the gateway.
func StartPendingClock(ctx context.Context, tx *db.Tx, accountID int, sentAt time.Time) error {
	return tx.Ent.Account.UpdateOneID(accountID).SetPendingEffectiveAt(sentAt.Add(PendingDelay)).Exec(ctx)
}

// CancelPendingPassword withdraws the account's pending password before it
// takes effect (a supervisor disagreed with the approval that set it): the
// current password stays the only valid one. A pending password whose time
// has come is the account's password already and is not touched. The staff
// member who cancelled is named in the audit entry.
func CancelPendingPassword(ctx context.Context, tx *db.Tx, accountID int, staffUsername string, now time.Time) error {
	if err := tx.LockKey(ctx, fmt.Sprintf("account:%d", accountID)); err != nil {
		return err
	}
	a, err := tx.Ent.Account.Get(ctx, accountID)
	if err != nil {
		return err
	}
	if a.PendingPasswordHash == "" || (a.PendingEffectiveAt != nil && !now.Before(*a.PendingEffectiveAt)) {
		return ErrNothingPending
	}
	if err := tx.Ent.Account.UpdateOne(a).ClearPendingPasswordHash().ClearPendingEffectiveAt().SetUpdatedAt(now).Exec(ctx); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorStaff, Actor: staffUsername,
		Action: "password.pending_cancelled", ObjectType: "account", ObjectID: a.Username})
}

// ErrNothingPending is a cancellation of a pending password that is not
// there (never set, already effective, or replaced by the holder).
var ErrNothingPending = apperr.New(apperr.Conflict, "no_pending_password", "该账号没有尚未生效的新密码")
