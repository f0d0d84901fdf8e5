package recovery

import (
	"context"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// linkedScan bounds how many linked cases one page reads: a phone shared by
// thousands of accounts (a switchboard) must not make the page slow; the
// page then says the list is cut.
const linkedScan = 100

// LinkedCase is another case whose holder shares a value on record with the
// case on screen (Marble's "related cases"): what the reviewer weighs when
// the same person or unit keeps applying.
type LinkedCase struct {
	CaseNumber  string
	Kind        string
	Status      state.Status
	Outcome     string // "" until decided
	SubmittedAt time.Time
	Shared      []vocab.Link
}

// Linked is the workspace's list of linked cases: those in the viewer's
// regions, and how many others exist outside them (a count only: their
// numbers are not the viewer's to know).
type Linked struct {
	Cases   []LinkedCase
	Outside int
	// Cut says the list stopped at linkedScan cases.
	Cut bool
}

// identityValues are the values on record that tie applications to one
// holder: the certificate number (an ID number or a unit's credit code), for
// a unit its operator's ID number, and the phone.
type identityValues struct {
	certType, certNumber string
	operatorID           string // the operator's ID number (units), or ""
	phone                string
}

func valuesOf(acc *ent.Account, operator *ent.Account) identityValues {
	v := identityValues{certType: acc.CertType, certNumber: acc.CertNumber, phone: acc.Phone}
	if operator != nil {
		v.operatorID = operator.CertNumber
	}
	return v
}

// sharingAccounts selects the accounts holding one of v's values on record.
// It is the one place that knows which columns hold them: ID numbers and
// phones are sealed, so they are found by their keyed hashes (lookups gives
// the hash under each key in use, db.DB.Lookups). Every arm is an indexed
// equality ((cert_type, cert_hmac) is unique; phone_hmac has its index); no
// LIKE.
func sharingAccounts(v identityValues, lookups func(string) []string) predicate.Account {
	arms := []predicate.Account{
		account.And(account.CertType(v.certType), account.CertHmacIn(lookups(v.certNumber)...)),
		account.PhoneHmacIn(lookups(v.phone)...),
	}
	if v.operatorID != "" {
		arms = append(arms, account.And(account.CertType(string(rules.CertIDCard)), account.CertHmacIn(lookups(v.operatorID)...)))
	}
	return account.Or(arms...)
}

// sharedValues names what other (an account sharingAccounts found) shares
// with v.
func sharedValues(v identityValues, self int, other *ent.Account) []vocab.Link {
	if other.ID == self {
		return []vocab.Link{vocab.LinkSameAccount}
	}
	var out []vocab.Link
	if other.CertType == v.certType && other.CertNumber == v.certNumber {
		if other.CertType == string(rules.CertIDCard) {
			out = append(out, vocab.LinkIDNumber)
		} else {
			out = append(out, vocab.LinkCreditCode)
		}
	}
	if v.operatorID != "" && other.CertType == string(rules.CertIDCard) && other.CertNumber == v.operatorID {
		out = append(out, vocab.LinkIDNumber)
	}
	if other.Phone == v.phone {
		out = append(out, vocab.LinkPhone)
	}
	return out
}

// LinkedCases lists the other submitted cases of every account sharing an ID
// number, a credit code or the phone with the case's account, newest first,
// those in the viewer's regions in full and the rest as a count.
func (s *Service) LinkedCases(ctx context.Context, rv Reviewer, rc *ent.RecoveryCase) (*Linked, error) {
	acc := rc.Edges.Account
	if acc == nil {
		var err error
		if acc, err = rc.QueryAccount().Only(ctx); err != nil {
			return nil, err
		}
	}
	var operator *ent.Account
	if acc.Kind == account.KindUnit {
		op, err := acc.QueryOperator().Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		operator = op
	}
	v := valuesOf(acc, operator)
	rows, err := s.db.Ent.RecoveryCase.Query().
		Where(recoverycase.HasAccountWith(sharingAccounts(v, s.db.Lookups)), recoverycase.IDNEQ(rc.ID), recoverycase.SubmittedAtNotNil()).
		WithAccount().Order(ent.Desc(recoverycase.FieldSubmittedAt), ent.Desc(recoverycase.FieldID)).Limit(linkedScan + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	out := &Linked{}
	if len(rows) > linkedScan {
		rows, out.Cut = rows[:linkedScan], true
	}
	for _, r := range rows {
		if !rv.covers(r.RegionCode) {
			out.Outside++
			continue
		}
		lc := LinkedCase{CaseNumber: *r.CaseNumber, Kind: string(r.Kind), Status: r.Status, SubmittedAt: *r.SubmittedAt,
			Shared: sharedValues(v, acc.ID, r.Edges.Account)}
		if r.Outcome != nil {
			lc.Outcome = string(*r.Outcome)
		}
		out.Cases = append(out.Cases, lc)
	}
	return out, nil
}
