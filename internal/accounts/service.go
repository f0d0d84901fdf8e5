// Package accounts is the front office the recovery workflow serves: person
// and unit registration, login with the 5-strike lockout, password change,
// pending passwords set by an approval, and username recovery.
package accounts

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/verify"
	"recoverydesk/internal/vocab"
)

// Kinds of account.
const (
	KindPerson = string(vocab.KindPerson)
	KindUnit   = string(vocab.KindUnit)
)

// PurposeRegister is the SMS-code purpose of person registration.
// (the API's "purpose":"register"); its SMS is vocab.PurposeRegisterCode.
const PurposeRegister = "register"

// Errors a user can act on.
var (
	ErrBadCredentials = apperr.New(apperr.Unauthorized, "bad_credentials", "用户名或密码错误")
	// ErrPersonAccount and ErrUnitAccount answer the right password of an
	// account on the other login tab: a citizen who picked the wrong tab is
	// told where to go instead of starting a recovery they do not need.
	ErrPersonAccount        = apperr.New(apperr.Conflict, "wrong_account_kind", "该账号为个人账号，请在“个人登录”中登录")
	ErrUnitAccount          = apperr.New(apperr.Conflict, "wrong_account_kind", "该账号为单位账号，请在“单位登录”中登录")
	ErrLocked               = apperr.New(apperr.Locked, "account_locked", "账号已被锁定")
	ErrPasswordNotEffective = apperr.New(apperr.Forbidden, "password_not_effective", "新密码尚未生效")
	ErrOperatorNotVerified  = apperr.New(apperr.Forbidden, "operator_not_verified", "经办人个人账号尚未完成实名认证，请先完成实名认证后再注册单位账号")
	ErrUsernameTaken        = apperr.New(apperr.Conflict, "username_taken", "该用户名已被注册，请更换其他用户名")
	ErrIDNumberTaken        = apperr.New(apperr.Conflict, "id_number_taken", "证件号已存在，请核对身份证号是否正确，或通过“账号找回”找回已注册的账号")
	ErrPhoneTaken           = apperr.New(apperr.Conflict, "phone_taken", "手机号已被占用，您可以更换其他手机号进行注册")
	ErrCertNumberTaken      = apperr.New(apperr.Conflict, "cert_number_taken", "单位证件号码已被使用")
	ErrAccountNotFound      = apperr.New(apperr.NotFound, "account_not_found", "未找到与所填信息相符的账号，请核对后重试")
	ErrRealNameMismatch     = apperr.New(apperr.Invalid, "real_name_mismatch", "姓名与身份证号码不一致，实名认证未通过")
	ErrPhoneMissing         = apperr.New(apperr.Invalid, "invalid_phone", "请输入手机号码，验证码将发送到该手机")
	ErrPhoneInvalid         = apperr.New(apperr.Invalid, "invalid_phone", "请输入正确的11位手机号码")
	// ErrCodeMissing is a registration without its SMS code; CONTRACT §4
	// names it wrong_code like a mistyped one.
	ErrCodeMissing = apperr.New(apperr.Invalid, "wrong_code", "请输入短信验证码")
)

// RealNameVerifier checks that a name belongs to an ID number. The built-in
// one checks their form; a deployment plugs in the public-security
// verification service behind the same interface.
type RealNameVerifier interface {
	Verify(ctx context.Context, name, idNumber string) (bool, error)
}

// Service holds the accounts' dependencies.
type Service struct {
	db       *db.DB
	clock    clock.Clock
	hasher   passhash.Hasher
	codes    *verify.Codes
	courier  *sms.Courier
	verifier RealNameVerifier
	logger   *slog.Logger
	// dummyHash is verified against when a username does not exist, so the
	// answer takes as long as for a real account.
	dummyHash string
}

// Deps are what the service needs.
type Deps struct {
	DB       *db.DB
	Clock    clock.Clock
	Hasher   passhash.Hasher
	Codes    *verify.Codes
	Courier  *sms.Courier
	Verifier RealNameVerifier // nil = the built-in form check
	Logger   *slog.Logger
}

// New returns the accounts service.
func New(d Deps) (*Service, error) {
	if d.Verifier == nil {
		d.Verifier = FormVerifier{}
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	dummy, err := d.Hasher.Hash("not-a-real-password-0")
	if err != nil {
		return nil, err
	}
	return &Service{db: d.DB, clock: d.Clock, hasher: d.Hasher, codes: d.Codes, courier: d.Courier,
		verifier: d.Verifier, logger: d.Logger, dummyHash: dummy}, nil
}

// Codes exposes the verification-code service.
func (s *Service) Codes() *verify.Codes { return s.codes }

// NormalizePhone is the one reading of a typed mainland mobile number: the
// canonical 11 digits, or the refusal to show beside the field "phone".
func NormalizePhone(typed string) (string, error) {
	if strings.TrimSpace(typed) == "" {
		return "", ErrPhoneMissing.WithField("phone")
	}
	p, err := rules.NormalizeMobile(typed)
	if err != nil {
		return "", ErrPhoneInvalid.WithField("phone")
	}
	return p, nil
}

// SendRegistrationCode sends the person-registration code to the typed
// phone and returns how long until another may be sent and the phone as
// normalised (for the page's notice).
func (s *Service) SendRegistrationCode(ctx context.Context, typedPhone string) (time.Duration, string, error) {
	phone, err := NormalizePhone(typedPhone)
	if err != nil {
		return 0, "", err
	}
	wait, err := s.codes.Send(ctx, phone, PurposeRegister, vocab.PurposeRegisterCode)
	return wait, phone, err
}
