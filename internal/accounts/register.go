package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/predicate"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

// PersonRegistration is what a person types to register.
type PersonRegistration struct {
	Username string
	Password string
	Name     string
	IDNumber string
	Phone    string
	SMSCode  string
}

// RegisterPerson creates a verified person account after checking every
// field, the SMS code sent to the phone, and the real-name verifier.
func (s *Service) RegisterPerson(ctx context.Context, in PersonRegistration) (*ent.Account, error) {
	p, err := s.checkPerson(ctx, in)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.SMSCode) == "" {
		return nil, ErrCodeMissing.WithField("sms_code")
	}
	if err := s.codes.Verify(ctx, p.Phone, PurposeRegister, strings.TrimSpace(in.SMSCode)); err != nil {
		if e, ok := apperr.As(err); ok {
			return nil, e.WithField("sms_code")
		}
		return nil, err
	}
	return s.createPerson(ctx, p)
}

// CheckPersonForm checks a person registration as RegisterPerson does —
// every field, the real name, nothing taken, a code typed — without
// creating anything or using the code up. The page asks it when it refuses
// the form for a reason of its own (a password confirmation that differs),
// so that one retry can fix everything.
func (s *Service) CheckPersonForm(ctx context.Context, in PersonRegistration) (PersonRegistration, error) {
	p, err := s.checkPerson(ctx, in)
	if err == nil && strings.TrimSpace(in.SMSCode) == "" {
		err = ErrCodeMissing.WithField("sms_code")
	}
	return p, err
}

// CreateVerifiedPerson creates a person account without an SMS code, for the
// demo seed and tests. The fields are checked as in RegisterPerson.
func (s *Service) CreateVerifiedPerson(ctx context.Context, in PersonRegistration) (*ent.Account, error) {
	p, err := s.checkPerson(ctx, in)
	if err != nil {
		return nil, err
	}
	return s.createPerson(ctx, p)
}

// checkPerson validates the form, the real name, and that nothing is taken
// yet (checked again inside the creating transaction).
func (s *Service) checkPerson(ctx context.Context, in PersonRegistration) (PersonRegistration, error) {
	today := s.clock.Now()
	var f fieldErrors
	f.username("username", in.Username)
	f.password("password", in.Password, in.Username)
	out := PersonRegistration{Username: in.Username, Password: in.Password}
	out.Name = f.personName("name", in.Name)
	out.IDNumber = f.idNumber("id_number", in.IDNumber, today)
	out.Phone = f.phone("phone", in.Phone)
	if err := f.err(); err != nil {
		return out, err
	}
	ok, err := s.verifier.Verify(ctx, out.Name, out.IDNumber)
	if err != nil {
		return out, fmt.Errorf("real-name verification: %w", err)
	}
	if !ok {
		return out, ErrRealNameMismatch.WithField("name")
	}
	return out, s.personConflicts(ctx, s.db.Ent, out)
}

func (s *Service) personConflicts(ctx context.Context, c *ent.Client, p PersonRegistration) error {
	return firstTaken(ctx, c,
		taken{ErrUsernameTaken.WithField("username"), []predicate.Account{account.UsernameKey(rules.NormalizeUsername(p.Username))}},
		taken{ErrIDNumberTaken.WithField("id_number"), []predicate.Account{account.CertType(string(rules.CertIDCard)), account.CertHmacIn(s.db.Lookups(p.IDNumber)...)}},
		taken{ErrPhoneTaken.WithField("phone"), []predicate.Account{account.KindEQ(account.KindPerson), account.PhoneHmacIn(s.db.Lookups(p.Phone)...)}},
	)
}

// taken is a uniqueness rule: the error to return when an account matches.
type taken struct {
	err   error
	where []predicate.Account
}

// firstTaken returns the error of the first rule an existing account breaks.
func firstTaken(ctx context.Context, c *ent.Client, checks ...taken) error {
	for _, r := range checks {
		exists, err := c.Account.Query().Where(r.where...).Exist(ctx)
		if err != nil {
			return err
		}
		if exists {
			return r.err
		}
	}
	return nil
}

func (s *Service) createPerson(ctx context.Context, p PersonRegistration) (*ent.Account, error) {
	conflicts := func(ctx context.Context, c *ent.Client) error { return s.personConflicts(ctx, c, p) }
	locks := []string{s.usernameLock(p.Username), s.numberLock("cert:"+string(rules.CertIDCard), p.IDNumber), s.numberLock("phone", p.Phone)}
	return s.createAccount(ctx, p.Password, locks, conflicts, func(a *ent.AccountCreate) *ent.AccountCreate {
		return a.SetKind(account.KindPerson).SetUsername(p.Username).
			SetName(p.Name).SetCertType(string(rules.CertIDCard)).SetCertNumber(p.IDNumber).
			SetRegionCode(personRegion(p.IDNumber)).SetPhone(p.Phone)
	}, audit.Event{ActorKind: audit.ActorAccount, Actor: p.Username,
		Action: "account.registered", ObjectType: "account", ObjectID: p.Username,
		Detail: map[string]any{"kind": "person", "id_number": rules.MaskIDNumber(p.IDNumber)}})
}

// usernameLock, numberLock: the registration locks of a username and of a
// number that must be unique (a certificate of a type, a phone), so that two
// registrations wanting the same one are serialised and the second finds it
// taken. Numbers are named by their keyed hash, never in clear (lock keys
// appear in the database's logs); without a sealing key, every number
// shares one lock.
func (s *Service) usernameLock(username string) string {
	return "register:username:" + rules.NormalizeUsername(username)
}

func (s *Service) numberLock(what, number string) string {
	if l := s.db.Lookups(number); len(l) > 0 {
		return "register:" + what + ":" + l[0]
	}
	return "register:" + what
}

// createAccount stores a verified account built by set, with password's
// hash and the normalised username, after checking conflicts under the
// registration locks of what must be unique, and records event in the same
// transaction. The locks are per username and number (taken in one order,
// so two registrations never wait for each other in a circle): one lock
// for every registration had queued them all behind each other, each for
// its whole transaction. A constraint error (a race the locks did not
// cover) is answered by conflicts again, so the caller gets the field that
// is taken.
func (s *Service) createAccount(ctx context.Context, password string, locks []string, conflicts func(context.Context, *ent.Client) error,
	set func(*ent.AccountCreate) *ent.AccountCreate, event audit.Event) (*ent.Account, error) {
	hash, err := s.hasher.Hash(password)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var acc *ent.Account
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, key := range slices.Sorted(slices.Values(locks)) {
			if err := tx.LockKey(ctx, key); err != nil {
				return err
			}
		}
		if err := conflicts(ctx, tx.Ent); err != nil {
			return err
		}
		c := set(tx.Ent.Account.Create())
		username, _ := c.Mutation().Username()
		acc, err = c.SetUsernameKey(rules.NormalizeUsername(username)).SetPasswordHash(hash).
			SetVerified(true).SetVerifiedAt(now).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		event.At = now
		return audit.Record(ctx, tx, event)
	})
	if ent.IsConstraintError(err) {
		return nil, conflicts(ctx, s.db.Ent)
	}
	return acc, err
}

// personRegion is the region of a person's ID number when it is a Guangdong
// one (a county code), else the province; it places the person's recovery
// cases in a regional queue.
func personRegion(id string) string {
	if r, ok := rules.LookupRegion(id[:6]); ok {
		return r.Code
	}
	if r, ok := rules.LookupRegion(id[:4]); ok {
		return r.Code
	}
	return rules.ProvinceCode
}

// UnitRegistration is what an operator types to register a unit.
type UnitRegistration struct {
	OperatorUsername string
	OperatorPassword string
	CertType         string
	CertNumber       string
	UnitName         string
	RegionCode       string
	Username         string
	Password         string
}

// RegisterUnit authenticates the operator's verified personal account, then
// creates the unit account with the operator's phone as its contact phone.
// A certificate number registered before is refused with a trace id that is
// logged with the attempt, as the live system does.
func (s *Service) RegisterUnit(ctx context.Context, in UnitRegistration) (*ent.Account, error) {
	u, err := s.checkUnit(in)
	if err != nil {
		return nil, err
	}
	op, err := s.VerifyOperator(ctx, in.OperatorUsername, in.OperatorPassword)
	if err != nil {
		return nil, err
	}
	return s.CreateUnit(ctx, op, u)
}

// CheckUnitForm validates the unit part of a registration (everything but the
// operator), returning the normalised values; the page uses it for its
// second step.
func (s *Service) CheckUnitForm(in UnitRegistration) (UnitRegistration, error) {
	return s.checkUnit(in)
}

func (s *Service) checkUnit(in UnitRegistration) (UnitRegistration, error) {
	var f fieldErrors
	out := in
	out.CertNumber = f.certNumber("cert_type", "cert_number", in.CertType, in.CertNumber, s.clock.Now())
	out.UnitName = f.unitName("unit_name", in.UnitName)
	out.RegionCode = f.region("region_code", in.RegionCode)
	f.username("username", in.Username)
	f.password("password", in.Password, in.Username)
	return out, f.err()
}

// CreateUnit creates a unit account for an authenticated operator from a
// checked form (see CheckUnitForm).
func (s *Service) CreateUnit(ctx context.Context, op *ent.Account, u UnitRegistration) (*ent.Account, error) {
	if op.Kind != account.KindPerson || !op.Verified {
		return nil, ErrOperatorNotVerified
	}
	conflicts := func(ctx context.Context, c *ent.Client) error { return s.unitConflicts(ctx, c, u) }
	locks := []string{s.usernameLock(u.Username), s.numberLock("cert:"+u.CertType, u.CertNumber)}
	acc, err := s.createAccount(ctx, u.Password, locks, conflicts, func(a *ent.AccountCreate) *ent.AccountCreate {
		return a.SetKind(account.KindUnit).SetUsername(u.Username).
			SetName(u.UnitName).SetCertType(u.CertType).SetCertNumber(u.CertNumber).SetRegionCode(u.RegionCode).
			SetPhone(op.Phone).SetOperatorID(op.ID)
	}, audit.Event{ActorKind: audit.ActorAccount, Actor: op.Username,
		Action: "account.registered", ObjectType: "account", ObjectID: u.Username,
		Detail: map[string]any{"kind": "unit", "cert_type": u.CertType, "cert_number": rules.MaskCertNumber(u.CertNumber), "region": u.RegionCode}})
	if e, ok := apperr.As(err); ok && errors.Is(err, ErrCertNumberTaken) {
		trace := uuid.NewString()
		s.logger.WarnContext(ctx, "unit certificate number already registered", "trace_id", trace,
			"operator", op.Username, "cert_type", u.CertType, "cert_number", rules.MaskCertNumber(u.CertNumber))
		e = e.WithField("cert_number").With("trace_id", trace)
		e.Message = fmt.Sprintf("单位证件号码已被使用[%s]", trace)
		return nil, e
	}
	return acc, err
}

func (s *Service) unitConflicts(ctx context.Context, c *ent.Client, u UnitRegistration) error {
	return firstTaken(ctx, c,
		taken{ErrCertNumberTaken, []predicate.Account{account.CertType(u.CertType), account.CertHmacIn(s.db.Lookups(u.CertNumber)...)}},
		taken{ErrUsernameTaken.WithField("username"), []predicate.Account{account.UsernameKey(rules.NormalizeUsername(u.Username))}},
	)
}
