// Package staff signs reviewers, supervisors and administrators in to the
// console: argon2id passwords under the same 5-strike lockout as applicants,
// and optional TOTP that, once enrolled, is required at every sign-in.
package staff

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"recoverydesk/ent"
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
	ErrDisabled       = apperr.New(apperr.Forbidden, "staff_disabled", "该账号已停用，请联系管理员")
	ErrOTPRequired    = apperr.New(apperr.Unauthorized, "otp_required", "请输入动态口令")
	ErrWrongOTP       = apperr.New(apperr.Invalid, "wrong_otp", "动态口令不正确")
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
func (s *Service) SignIn(ctx context.Context, username, password, code string) (*ent.StaffUser, error) {
	key := rules.NormalizeUsername(strings.TrimSpace(username))
	u, err := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey(key)).Only(ctx)
	if ent.IsNotFound(err) || key == "" {
		_, _ = s.hasher.Verify(password, s.dummyHash)
		s.auditAlone(ctx, key, "staff.login.failure", map[string]any{"reason": string(vocab.ReasonUnknownUsername)})
		return nil, ErrBadCredentials
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
		if err := tx.LockKey(ctx, fmt.Sprintf("staff:%d", u.ID)); err != nil {
			return err
		}
		fresh, err := tx.Ent.StaffUser.Get(ctx, u.ID)
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
		return lockedError(*u.LockedUntil), s.audit(ctx, tx, u.UsernameKey, "staff.login.refused_locked", nil)
	}
	failures := u.FailedLogins
	if u.LockedUntil != nil {
		failures = 0
		upd.ClearLockedUntil()
	}
	var refusal error
	switch {
	case !passwordOK:
		refusal = ErrBadCredentials
	case len(u.TotpSecret) > 0 && code == "":
		// Not a failure: the password was right and the form asks for the code.
		if err := upd.SetFailedLogins(failures).Exec(ctx); err != nil {
			return nil, err
		}
		return ErrOTPRequired.WithField("otp"), nil
	case len(u.TotpSecret) > 0 && !s.validCode(u, code, now):
		refusal = ErrWrongOTP.WithField("otp")
	case u.Disabled:
		return ErrDisabled, s.audit(ctx, tx, u.UsernameKey, "staff.login.refused_disabled", nil)
	}
	if refusal == nil {
		if err := upd.SetFailedLogins(0).SetLastLoginAt(now).Exec(ctx); err != nil {
			return nil, err
		}
		return nil, s.audit(ctx, tx, u.UsernameKey, "staff.login.success", nil)
	}
	stored, until, left := lock.Fail(failures, now)
	upd.SetFailedLogins(stored)
	if until != nil {
		upd.SetLockedUntil(*until)
	}
	if err := upd.Exec(ctx); err != nil {
		return nil, err
	}
	if err := s.audit(ctx, tx, u.UsernameKey, "staff.login.failure", map[string]any{"failures": failures + 1}); err != nil {
		return nil, err
	}
	if until != nil {
		return lockedError(*until), s.audit(ctx, tx, u.UsernameKey, "staff.locked", map[string]any{"until": *until})
	}
	e, _ := apperr.As(refusal)
	e = e.With("attempts_left", left)
	e.Message = e.Message + "，" + lock.AttemptsLeftMessage(left)
	return e, nil
}

func lockedError(until time.Time) error {
	e := ErrLocked.With("locked_until", until.Format(time.RFC3339))
	e.Message = rules.DefaultLockout.LockedMessage(until)
	return e
}

func (s *Service) validCode(u *ent.StaffUser, code string, now time.Time) bool {
	secretKey, err := s.keys.Open(u.TotpSecret)
	if err != nil {
		s.logger.Error("cannot unseal a TOTP secret", "staff", u.UsernameKey)
		return false
	}
	ok, err := totp.ValidateCustom(code, string(secretKey), now, totpOptions)
	return err == nil && ok
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
	ok, err := totp.ValidateCustom(strings.TrimSpace(code), secretB32, now, totpOptions)
	if err != nil || !ok {
		return ErrWrongOTP.WithField("otp")
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		u, err := tx.Ent.StaffUser.UpdateOneID(staffID).SetTotpSecret(s.keys.Seal([]byte(secretB32))).
			SetTotpRequired(true).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, u.UsernameKey, "staff.totp_enrolled", nil)
	})
}

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
