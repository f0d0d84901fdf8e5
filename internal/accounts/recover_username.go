package accounts

import (
	"context"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/verify"
)

// UsernameRecovery is what the 账号找回 form sends: a unit's certificate and
// name, or a person's name and ID number.
type UsernameRecovery struct {
	Kind       string
	CertType   string
	CertNumber string
	UnitName   string
	Name       string
	IDNumber   string
}

// RecoverUsername sends the username by SMS to the phone on record and
// returns that phone masked. Nothing else about the account is disclosed.
func (s *Service) RecoverUsername(ctx context.Context, in UsernameRecovery) (string, error) {
	acc, err := s.findForRecovery(ctx, in)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := verify.CheckQuota(ctx, tx, acc.Phone, now); err != nil {
			return err
		}
		if _, err := s.courier.Queue(ctx, tx, acc.Phone, sms.Username(acc.Username)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorApplicant, Actor: rules.MaskPhone(acc.Phone),
			Action: "username.sent", ObjectType: "account", ObjectID: acc.Username})
	})
	if err != nil {
		return "", err
	}
	return rules.MaskPhone(acc.Phone), nil
}

func (s *Service) findForRecovery(ctx context.Context, in UsernameRecovery) (*ent.Account, error) {
	var f fieldErrors
	today := s.clock.Now()
	var q *ent.AccountQuery
	var wantName string
	switch in.Kind {
	case KindUnit:
		number := f.certNumber("cert_type", "cert_number", in.CertType, in.CertNumber, today)
		wantName = f.unitName("unit_name", in.UnitName)
		if err := f.err(); err != nil {
			return nil, err
		}
		q = s.db.Ent.Account.Query().Where(account.KindEQ(account.KindUnit), account.CertType(in.CertType), account.CertNumber(number))
	case KindPerson:
		wantName = f.personName("name", in.Name)
		number := f.idNumber("id_number", in.IDNumber, today)
		if err := f.err(); err != nil {
			return nil, err
		}
		q = s.db.Ent.Account.Query().Where(account.KindEQ(account.KindPerson), account.CertType(string(rules.CertIDCard)), account.CertNumber(number))
	default:
		return nil, apperr.New(apperr.Invalid, "invalid_kind", "请选择个人或单位").WithField("kind")
	}
	acc, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrAccountNotFound
	}
	if err != nil {
		return nil, err
	}
	if !SameText(acc.Name, wantName) {
		return nil, ErrAccountNotFound
	}
	return acc, nil
}
