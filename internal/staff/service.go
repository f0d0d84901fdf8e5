// Package staff signs reviewers, supervisors and administrators in to the
// console: argon2id passwords under the same 5-strike lockout as applicants,
// and optional TOTP that, once enrolled, is required at every sign-in.
package staff

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"recoverydesk/ent"
	"recoverydesk/ent/loginthrottle"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/vocab"
)

// Errors a staff member can act on.
var (
	ErrBadCredentials = apperr.New(apperr.Unauthorized, "bad_credentials", "用户名或密码错误")
	ErrLocked         = apperr.New(apperr.Locked, "account_locked", "账号已被锁定")
	ErrOTPRequired    = apperr.New(apperr.Unauthorized, "otp_required", "请输入动态口令")
	ErrWrongOTP       = apperr.New(apperr.Invalid, "wrong_otp", "动态口令不正确")
	// ErrOTPReused is a code that already signed someone in: each code
	// works once, on every instance.
	ErrOTPReused = apperr.New(apperr.Invalid, "otp_reused", "该动态口令已使用过，请等待验证器显示新的口令后再试")
)

// Issuer names the product in authenticator apps.
const Issuer = "广东人社密码找回审核台"

// Service signs staff in and manages their second factor.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	hasher    passhash.Hasher
	keys      *secret.Keys
	logger    *slog.Logger
	dummyHash string
}

// New returns the staff service.
func New(d *db.DB, clk clock.Clock, hasher passhash.Hasher, keys *secret.Keys, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		logger = slog.Default()
	}
	dummy, err := hasher.Hash("not-a-real-password-0")
	if err != nil {
		return nil, err
	}
	return &Service{db: d, clock: clk, hasher: hasher, keys: keys, logger: logger, dummyHash: dummy}, nil
}

// SignIn checks the password and, when enrolled, the TOTP code. A wrong
// code counts as a failure toward the lockout like a wrong password, so the
// six digits cannot be guessed either.
//
// The form is no oracle: an unknown username, a wrong password and a
// disabled account get the same error in the same words (no count of the
// attempts left), and an unknown username is counted and locked like a
// real one (failUnknown), so nobody learns from the answers who is staff.
func (s *Service) SignIn(ctx context.Context, username, password, code string) (*ent.StaffUser, error) {
	key := rules.NormalizeUsername(strings.TrimSpace(username))
	u, err := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey(key)).Only(ctx)
	if ent.IsNotFound(err) || key == "" {
		// Busy like a real check would be, so that a saturated server does
		// not tell unknown names (401) from staff (503) either.
		if _, err := s.hasher.Verify(password, s.dummyHash); errors.Is(err, passhash.ErrBusy) {
			return nil, err
		}
		return nil, s.failUnknown(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.hasher.Verify(password, u.PasswordHash)
	if err != nil {
		return nil, err
	}
	var outcome error
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		fresh, err := lockedStaff(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		ok = ok && fresh.PasswordHash == u.PasswordHash
		outcome, err = s.apply(ctx, tx, fresh, ok, strings.TrimSpace(code))
		return err
	})
	if err != nil {
		return nil, err
	}
	if outcome != nil {
		return nil, outcome
	}
	return u, nil
}

// apply decides one sign-in attempt on the freshly read user.
func (s *Service) apply(ctx context.Context, tx *db.Tx, u *ent.StaffUser, passwordOK bool, code string) (error, error) {
	now := s.clock.Now()
	lock := rules.DefaultLockout
	upd := tx.Ent.StaffUser.UpdateOne(u).SetUpdatedAt(now)
	if lock.Locked(u.LockedUntil, now) {
		return lockedError(*u.LockedUntil), s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffLoginLocked, nil)
	}
	failures := u.FailedLogins
	if u.LockedUntil != nil {
		failures = 0
		upd.ClearLockedUntil()
	}
	var refusal error
	var reason vocab.CloseReason
	switch {
	case !passwordOK:
		refusal, reason = ErrBadCredentials, vocab.ReasonWrongPassword
	case u.Disabled:
		// The same answer as a wrong password: the form must not confirm
		// that a disabled account exists, nor that its password is right.
		refusal, reason = ErrBadCredentials, vocab.ReasonDisabled
	case len(u.TotpSecret) > 0 && code == "":
		// Not a failure: the password was right and the form asks for the code.
		if err := upd.SetFailedLogins(failures).Exec(ctx); err != nil {
			return nil, err
		}
		return ErrOTPRequired.WithField("otp"), nil
	case len(u.TotpSecret) > 0:
		step, valid := s.codeStep(u, code, now)
		if !valid {
			refusal, reason = ErrWrongOTP.WithField("otp"), vocab.ReasonWrongOTP
			break
		}
		fresh, err := useStep(ctx, tx, u.ID, step)
		if err != nil {
			return nil, err
		}
		if !fresh {
			refusal, reason = ErrOTPReused.WithField("otp"), vocab.ReasonOTPReused
		}
	}
	if refusal == nil {
		if err := upd.SetFailedLogins(0).SetLastLoginAt(now).Exec(ctx); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffLoginSuccess, nil)
	}
	stored, until, _ := lock.Fail(failures, now)
	upd.SetFailedLogins(stored)
	if until != nil {
		upd.SetLockedUntil(*until)
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, err
	}
	action := vocab.ActionStaffLoginFailure
	if u.Disabled {
		action = vocab.ActionStaffLoginDisabled
	}
	if err := s.audit(ctx, tx, u.UsernameKey, action, map[string]any{"failures": failures + 1, "reason": string(reason)}); err != nil {
		return nil, err
	}
	if until != nil {
		return lockedError(*until), s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffLocked, map[string]any{"until": *until})
	}
	return refusal, nil
}

// failUnknown counts a failed sign-in of a username that is no staff
// user's under the same lockout as a real account, and returns what a real
// account would answer: bad credentials, or locked after the 5th failure.
// The count is read and written under the key's lock in one transaction, so
// instances sharing the database count exactly.
func (s *Service) failUnknown(ctx context.Context, key string) error {
	if key == "" {
		return ErrBadCredentials
	}
	key = clip(key, 64) // no username is longer than 20; the column and the audit actor hold 64 bytes
	var outcome error
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.LockKey(ctx, "staff-login:"+key); err != nil {
			return err
		}
		now, lock := s.clock.Now(), rules.DefaultLockout
		row, err := tx.Ent.LoginThrottle.Query().Where(loginthrottle.Key(key)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return err
		}
		failures, lockedUntil := 0, (*time.Time)(nil)
		if row != nil {
			failures, lockedUntil = row.Failures, row.LockedUntil
		}
		if lock.Locked(lockedUntil, now) {
			outcome = lockedError(*lockedUntil)
			return nil
		}
		if lockedUntil != nil {
			failures = 0
		}
		stored, until, _ := lock.Fail(failures, now)
		if row == nil {
			err = tx.Ent.LoginThrottle.Create().SetKey(key).SetFailures(stored).SetNillableLockedUntil(until).SetUpdatedAt(now).Exec(ctx)
		} else {
			upd := tx.Ent.LoginThrottle.UpdateOne(row).SetFailures(stored).SetUpdatedAt(now)
			if until != nil {
				upd.SetLockedUntil(*until)
			} else {
				upd.ClearLockedUntil()
			}
			err = upd.Exec(ctx)
		}
		if err != nil {
			return err
		}
		outcome = ErrBadCredentials
		if until != nil {
			outcome = lockedError(*until)
		}
		return s.audit(ctx, tx, key, vocab.ActionStaffLoginFailure, map[string]any{"reason": string(vocab.ReasonUnknownUsername), "failures": failures + 1})
	})
	if err != nil {
		return err
	}
	return outcome
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func lockedError(until time.Time) error {
	e := ErrLocked.With("locked_until", until.Format(time.RFC3339))
	e.Message = rules.DefaultLockout.LockedMessage(until)
	return e
}

// codeStep returns the time step whose code for u's secret is code, among
// the steps the skew allows around now.
func (s *Service) codeStep(u *ent.StaffUser, code string, now time.Time) (int64, bool) {
	secretKey, err := s.keys.Open(u.TotpSecret)
	if err != nil {
		s.logger.Error("cannot unseal a TOTP secret", "staff", u.UsernameKey)
		return 0, false
	}
	return matchStep(string(secretKey), code, now)
}

// matchStep finds the time step (Unix time / period) whose code for the
// base32 secret is code, trying the current step and the skew on each side.
func matchStep(secretB32, code string, now time.Time) (int64, bool) {
	if len(code) != int(totpOptions.Digits) {
		return 0, false
	}
	period := int64(totpOptions.Period)
	current := now.Unix() / period
	for d := -int64(totpOptions.Skew); d <= int64(totpOptions.Skew); d++ {
		step := current + d
		want, err := totp.GenerateCodeCustom(secretB32, time.Unix(step*period, 0), totpOptions)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// useStep records step as the user's last accepted TOTP step, only if it is
// later than the one stored, in one conditional UPDATE: of two instances
// accepting the same code at once exactly one changes the row. It reports
// whether this call did (false: the code, or a later one, was used already).
func useStep(ctx context.Context, tx *db.Tx, staffID int, step int64) (bool, error) {
	n, err := tx.Ent.StaffUser.Update().Where(staffuser.ID(staffID), staffuser.TotpLastStepLT(step)).
		SetTotpLastStep(step).Save(ctx)
	return n == 1, err
}

func (s *Service) audit(ctx context.Context, tx *db.Tx, who string, action vocab.Action, detail map[string]any) error {
	return audit.Record(ctx, tx, audit.Event{At: s.clock.Now(), ActorKind: audit.ActorStaff, Actor: who,
		Action: action, ObjectType: "staff", ObjectID: who, Detail: detail})
}

// auditAlone records an event that belongs to no other change (a refused
// sign-in) in a transaction of its own; a failure is logged, not returned,
// so that it never turns a refusal into a server error.
func (s *Service) auditAlone(ctx context.Context, who string, action vocab.Action, detail map[string]any) {
	err := s.db.InTx(ctx, func(tx *db.Tx) error { return s.audit(ctx, tx, who, action, detail) })
	if err != nil {
		s.logger.WarnContext(ctx, "audit", "action", action, "err", err)
	}
}

// Enrolment is a TOTP secret offered to a staff member, not yet confirmed.
type Enrolment struct {
	Secret string // base32, kept in the session until confirmed
	URL    string // otpauth:// URL
	QRPNG  []byte // the URL as a QR code
}

// StartEnrolment offers u a TOTP secret and its QR code: pending, the one
// already offered (so a page reload shows the same code), or a new one.
func (s *Service) StartEnrolment(u *ent.StaffUser, pending string) (*Enrolment, error) {
	opts := totp.GenerateOpts{Issuer: Issuer, AccountName: u.Username}
	if pending != "" {
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(pending)
		if err != nil {
			return nil, fmt.Errorf("pending TOTP secret: %w", err)
		}
		opts.Secret = raw
	}
	key, err := totp.Generate(opts)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), QRPNG: b.Bytes()}, nil
}

// ConfirmEnrolment stores the secret (sealed) once the staff member proved
// their app produces its codes; from then on the code is required.
func (s *Service) ConfirmEnrolment(ctx context.Context, staffID int, secretB32, code string) error {
	now := s.clock.Now()
	step, ok := matchStep(secretB32, strings.TrimSpace(code), now)
	if !ok {
		return ErrWrongOTP.WithField("otp")
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		// The code that proved the app is used up: it cannot sign in too.
		u, err := tx.Ent.StaffUser.UpdateOneID(staffID).SetTotpSecret(s.keys.Seal([]byte(secretB32))).
			SetTotpRequired(true).SetTotpLastStep(step).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffTOTPEnrolled, nil)
	})
}

// Errors of a staff member setting their own password.
var (
	ErrWrongCurrentPassword = apperr.New(apperr.Invalid, "wrong_password", "当前密码不正确")
	ErrPasswordUnchanged    = apperr.New(apperr.Invalid, "password_unchanged", "新密码不能与当前密码相同")
	ErrPasswordMismatch     = apperr.New(apperr.Invalid, "password_mismatch", "两次输入的新密码不一致")
)

// ChangePassword sets a staff member's own password after checking the
// current one. It ends the person's other console sessions (the epoch moves
// on; the new epoch is returned for the session that made the change) and
// clears a temporary password, so whoever issued it can no longer use it.
// A wrong current password counts toward the lockout like a failed sign-in.
func (s *Service) ChangePassword(ctx context.Context, staffID int, current, next, repeat string) (int, error) {
	u, err := s.db.Ent.StaffUser.Get(ctx, staffID)
	if err != nil {
		return 0, err
	}
	var fields []apperr.FieldError
	for _, v := range rules.CheckPassword(next, u.Username) {
		fields = append(fields, apperr.FieldError{Field: "new_password", Code: "weak_password", Message: v.Message})
	}
	if next != "" && next == current {
		fields = append(fields, apperr.FieldError{Field: "new_password", Code: ErrPasswordUnchanged.Code, Message: ErrPasswordUnchanged.Message})
	}
	if next != repeat {
		fields = append(fields, apperr.FieldError{Field: "repeat_password", Code: ErrPasswordMismatch.Code, Message: ErrPasswordMismatch.Message})
	}
	if err := apperr.FromFields(fields); err != nil {
		return 0, err
	}
	ok, err := s.hasher.Verify(current, u.PasswordHash)
	if err != nil {
		return 0, err
	}
	hash := ""
	if ok {
		if hash, err = s.hasher.Hash(next); err != nil {
			return 0, err
		}
	}
	var epoch int
	var outcome error
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		fresh, err := lockedStaff(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		if !ok || fresh.PasswordHash != u.PasswordHash {
			stored, until, _ := rules.DefaultLockout.Fail(fresh.FailedLogins, now)
			upd := tx.Ent.StaffUser.UpdateOne(fresh).SetFailedLogins(stored).SetUpdatedAt(now)
			if until != nil {
				// Locked: every session ends, as the lockout means.
				upd.SetLockedUntil(*until).AddSessionEpoch(1)
			}
			outcome = ErrWrongCurrentPassword.WithField("password")
			if err := upd.Exec(ctx); err != nil {
				return err
			}
			return s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffLoginFailure, map[string]any{"reason": string(vocab.ReasonWrongCurrent)})
		}
		saved, err := tx.Ent.StaffUser.UpdateOne(fresh).SetPasswordHash(hash).SetPasswordTemporary(false).
			SetFailedLogins(0).AddSessionEpoch(1).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		epoch = saved.SessionEpoch
		return s.audit(ctx, tx, u.UsernameKey, vocab.ActionStaffPasswordChanged, map[string]any{"was_temporary": u.PasswordTemporary})
	})
	if err != nil {
		return 0, err
	}
	return epoch, outcome
}

// lockedStaff reads a staff user inside tx, serialised against every other
// sign-in or password change of that user (instances included), so a
// check made before the transaction is confirmed against the row as it is.
func lockedStaff(ctx context.Context, tx *db.Tx, id int) (*ent.StaffUser, error) {
	if err := tx.LockKey(ctx, staffLockKey(id)); err != nil {
		return nil, err
	}
	return tx.Ent.StaffUser.Get(ctx, id)
}

// staffLockKey is the lock of one staff user's row (db.Tx.LockKey).
func staffLockKey(id int) string { return fmt.Sprintf("staff:%d", id) }

// ErrSessionEnded is a console session that no longer stands: its user is
// gone or disabled, or a password reset or disabling ended their sessions
// since it signed in.
var ErrSessionEnded = errors.New("staff: console session ended")

// SessionUser returns the staff user of a console session that signed in
// as staffID under epoch (the user's SessionEpoch then), while the session
// stands; otherwise ErrSessionEnded. The console asks on every request, so
// a reset or a disabling ends the user's sessions at their next request, on
// every instance: the epoch is in the database, not in the session store.
func (s *Service) SessionUser(ctx context.Context, staffID, epoch int) (*ent.StaffUser, error) {
	u, err := s.db.Ent.StaffUser.Get(ctx, staffID)
	if ent.IsNotFound(err) || (err == nil && (u.Disabled || u.SessionEpoch != epoch)) {
		return nil, ErrSessionEnded
	}
	return u, err
}

// totpOptions are the one set of TOTP parameters: enrolment and sign-in must
// accept exactly the same codes.
var totpOptions = totp.ValidateOpts{Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
