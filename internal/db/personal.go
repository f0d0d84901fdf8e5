package db

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	entgo "entgo.io/ent"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/loginthrottle"
	"recoverydesk/ent/outboxmessage"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smscode"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/secret"
)

// ErrNoSealingKey is returned for a write of an ID or phone number on a
// database that was given no key (SealWith): such a number is never stored
// in clear.
var ErrNoSealingKey = errors.New("ID and phone numbers are sealed at rest: the database needs RD_SECRET_KEY (db.SealWith)")

// certIDCard is the cert type whose number is a person's ID number (sealed);
// a unit's credit code or organisation code is public and stays clear.
const certIDCard = "id_card"

// personal seals ID and phone numbers at the storage boundary: a hook on
// every client seals them on write (AES-GCM under RD_SECRET_KEY) and sets
// their keyed-hash column, and an interceptor opens them on read, so domain
// code reads and writes clear numbers and finds rows through Lookups. The
// database files never hold a number in clear (CONTRACT §7).
type personal struct {
	keys atomic.Pointer[secret.Keys]
}

// SealWith gives the database the keys that seal personal numbers. Whoever
// opens the database sets them before the first write (the commands do, in
// openMigrated, with RD_SECRET_KEY and RD_SECRET_KEY_PREVIOUS); a write of a
// number without them fails with ErrNoSealingKey.
func (d *DB) SealWith(keys *secret.Keys) { d.personal.keys.Store(keys) }

// Lookups are the keyed hashes under which rows holding the number v are
// found (the current key's, and the previous key's during a rotation).
func (d *DB) Lookups(v string) []string { return d.personal.lookups(v) }

// Lookups is DB.Lookups inside a transaction.
func (tx *Tx) Lookups(v string) []string { return tx.personal.lookups(v) }

func (p *personal) lookups(v string) []string {
	k := p.keys.Load()
	if k == nil {
		// No row can match a hash that cannot be computed; writes fail
		// with ErrNoSealingKey, so nothing was stored either.
		return []string{}
	}
	return k.Lookups(v)
}

// register installs the hook and the interceptor on a client.
func (p *personal) register(c *ent.Client) {
	c.Use(p.hook)
	c.Intercept(entgo.InterceptFunc(p.intercept))
}

func (p *personal) hook(next entgo.Mutator) entgo.Mutator {
	return entgo.MutateFunc(func(ctx context.Context, m entgo.Mutation) (entgo.Value, error) {
		if err := p.sealMutation(ctx, m); err != nil {
			return nil, err
		}
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return v, err
		}
		// The entity a create or update returns holds what was stored:
		// open it as a query's result would be.
		return v, p.openResult(v)
	})
}

// sealMutation replaces each clear number a mutation sets by its sealed form
// and sets its hash beside it.
func (p *personal) sealMutation(ctx context.Context, m entgo.Mutation) error {
	var keys *secret.Keys
	seal := func(v string) (sealed, hash string, err error) {
		if keys == nil {
			if keys = p.keys.Load(); keys == nil {
				return "", "", ErrNoSealingKey
			}
		}
		if secret.IsSealedText(v) {
			return "", "", fmt.Errorf("%s: a sealed value was written back as a number", m.Type())
		}
		return keys.SealText(v), keys.Lookup(v), nil
	}
	switch m := m.(type) {
	case *ent.AccountMutation:
		if v, ok := m.Phone(); ok {
			s, h, err := seal(v)
			if err != nil {
				return err
			}
			m.SetPhone(s)
			m.SetPhoneHmac(h)
		}
		if v, ok := m.CertNumber(); ok {
			ct, set := m.CertType()
			if err := sealCert(ctx, v, ct, set, m.OldCertType, seal, m.SetCertHmac, m.SetCertNumber); err != nil {
				return fmt.Errorf("seal cert_number: %w", err)
			}
		}
	case *ent.RecoveryCaseMutation:
		if v, ok := m.TypedCertNumber(); ok {
			ct, set := m.TypedCertType()
			if err := sealCert(ctx, v, ct, set, m.OldTypedCertType, seal, m.SetTypedCertHmac, m.SetTypedCertNumber); err != nil {
				return fmt.Errorf("seal typed_cert_number: %w", err)
			}
		}
	case interface {
		Phone() (string, bool)
		SetPhone(string)
		SetPhoneHmac(string)
	}: // SMS codes, SMS messages, the outbox
		if v, ok := m.Phone(); ok {
			s, h, err := seal(v)
			if err != nil {
				return err
			}
			m.SetPhone(s)
			m.SetPhoneHmac(h)
		}
	}
	return nil
}

// sealCert seals the certificate number v of a mutation: every number gets
// its keyed hash (setHash), and only an ID card's number is replaced by its
// sealed text (setNumber); credit codes are public and stay readable. The
// type is ct when the mutation sets it (set), else the row's (oldType).
func sealCert(ctx context.Context, v, ct string, set bool, oldType func(context.Context) (string, error),
	seal func(string) (sealed, hash string, err error), setHash, setNumber func(string)) error {
	if !set {
		old, err := oldType(ctx)
		if err != nil {
			return err
		}
		ct = old
	}
	sealed, hash, err := seal(v)
	if err != nil {
		return err
	}
	setHash(hash)
	if ct == certIDCard {
		setNumber(sealed)
	}
	return nil
}

// intercept opens the sealed numbers of the entities a query returns,
// eager-loaded edges included (their queries pass here too). Only whole
// entities are opened: a Select of a number column would return it sealed,
// so none is written.
func (p *personal) intercept(next entgo.Querier) entgo.Querier {
	return entgo.QuerierFunc(func(ctx context.Context, q entgo.Query) (entgo.Value, error) {
		v, err := next.Query(ctx, q)
		if err != nil {
			return v, err
		}
		return v, p.openResult(v)
	})
}

func (p *personal) openResult(v entgo.Value) error {
	k := p.keys.Load()
	switch one := v.(type) {
	case *ent.Account:
		v = []*ent.Account{one}
	case *ent.RecoveryCase:
		v = []*ent.RecoveryCase{one}
	case *ent.SMSCode:
		v = []*ent.SMSCode{one}
	case *ent.SMSMessage:
		v = []*ent.SMSMessage{one}
	case *ent.OutboxMessage:
		v = []*ent.OutboxMessage{one}
	}
	switch rows := v.(type) {
	case []*ent.Account:
		for _, r := range rows {
			if err := openAll(k, &r.Phone, &r.CertNumber); err != nil {
				return fmt.Errorf("account %d: %w", r.ID, err)
			}
		}
	case []*ent.RecoveryCase:
		for _, r := range rows {
			if err := openAll(k, &r.TypedCertNumber); err != nil {
				return fmt.Errorf("case %s: %w", r.ID, err)
			}
		}
	case []*ent.SMSCode:
		for _, r := range rows {
			if err := openAll(k, &r.Phone); err != nil {
				return fmt.Errorf("sms code %d: %w", r.ID, err)
			}
		}
	case []*ent.SMSMessage:
		for _, r := range rows {
			if err := openAll(k, &r.Phone); err != nil {
				return fmt.Errorf("sms message %d: %w", r.ID, err)
			}
		}
	case []*ent.OutboxMessage:
		for _, r := range rows {
			if err := openAll(k, &r.Phone); err != nil {
				return fmt.Errorf("outbox message %d: %w", r.ID, err)
			}
		}
	}
	return nil
}

// openAll opens sealed text fields in place; a clear value (a unit's credit
// code, or a row an older build wrote that `migrate` has not sealed yet) is
// left as it is.
func openAll(k *secret.Keys, fields ...*string) error {
	for _, f := range fields {
		if !secret.IsSealedText(*f) {
			continue
		}
		if k == nil {
			return ErrNoSealingKey
		}
		v, err := k.OpenText(*f)
		if err != nil {
			return err
		}
		*f = v
	}
	return nil
}

// sealBatch is how many rows one transaction of a sealing pass rewrites.
const sealBatch = 200

// Rekey re-seals every sealed value under the current key and recomputes
// every keyed hash under it: ID and phone numbers, SMS texts, staff TOTP
// secrets. Run during a rotation (RD_SECRET_KEY new, RD_SECRET_KEY_PREVIOUS
// old); afterwards the previous key can be dropped. It holds the migration
// lock, so it never runs beside a migration, and is safe to run again after
// an interruption (each batch commits on its own, and a value already under
// the current key is simply sealed afresh).
func (d *DB) Rekey(ctx context.Context) (int, error) {
	if d.personal.keys.Load() == nil {
		return 0, ErrNoSealingKey
	}
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	return d.sealExisting(ctx, true)
}

// sealExisting seals the numbers of rows written in clear by a build before
// sealing (all false: the rows without a keyed hash; Migrate runs it), or
// re-seals every row (all true: Rekey). Rows are read through the
// interceptor (which opens what it can, under either key) and written back
// through the hook (which seals under the current key).
func (d *DB) sealExisting(ctx context.Context, all bool) (int, error) {
	keys := d.personal.keys.Load()
	passes := []func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error){
		func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			q := tx.Ent.Account.Query().Where(account.IDGT(cur.id)).Order(account.ByID()).Limit(sealBatch)
			if !all {
				q.Where(account.PhoneHmac(""))
			}
			return rewrite(q.All(ctx))(func(r *ent.Account) error {
				cur.id = r.ID
				return tx.Ent.Account.UpdateOne(r).SetPhone(r.Phone).SetCertNumber(r.CertNumber).SetUpdatedAt(r.UpdatedAt).Exec(ctx)
			})
		},
		func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			q := tx.Ent.RecoveryCase.Query().Where(recoverycase.IDGT(cur.uuid)).Order(recoverycase.ByID()).Limit(sealBatch)
			if !all {
				q.Where(recoverycase.TypedCertHmac(""))
			}
			return rewrite(q.All(ctx))(func(r *ent.RecoveryCase) error {
				cur.uuid = r.ID
				return tx.Ent.RecoveryCase.UpdateOne(r).SetTypedCertNumber(r.TypedCertNumber).SetUpdatedAt(r.UpdatedAt).Exec(ctx)
			})
		},
		func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			q := tx.Ent.SMSCode.Query().Where(smscode.IDGT(cur.id)).Order(smscode.ByID()).Limit(sealBatch)
			if !all {
				q.Where(smscode.PhoneHmac(""))
			}
			return rewrite(q.All(ctx))(func(r *ent.SMSCode) error {
				cur.id = r.ID
				return tx.Ent.SMSCode.UpdateOne(r).SetPhone(r.Phone).Exec(ctx)
			})
		},
		func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			q := tx.Ent.SMSMessage.Query().Where(smsmessage.IDGT(cur.id)).Order(smsmessage.ByID()).Limit(sealBatch)
			if !all {
				q.Where(smsmessage.PhoneHmac(""))
			}
			return rewrite(q.All(ctx))(func(r *ent.SMSMessage) error {
				cur.id = r.ID
				upd := tx.Ent.SMSMessage.UpdateOne(r).SetPhone(r.Phone)
				if all {
					if err := resealBytes(keys, r.TextSealed, upd.SetTextSealed); err != nil {
						return fmt.Errorf("sms message %d: %w", r.ID, err)
					}
				}
				return upd.Exec(ctx)
			})
		},
		func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			q := tx.Ent.OutboxMessage.Query().Where(outboxmessage.IDGT(cur.id)).Order(outboxmessage.ByID()).Limit(sealBatch)
			if !all {
				q.Where(outboxmessage.PhoneHmac(""))
			}
			return rewrite(q.All(ctx))(func(r *ent.OutboxMessage) error {
				cur.id = r.ID
				upd := tx.Ent.OutboxMessage.UpdateOne(r).SetPhone(r.Phone)
				if all {
					if err := resealBytes(keys, r.TextSealed, upd.SetTextSealed); err != nil {
						return fmt.Errorf("outbox message %d: %w", r.ID, err)
					}
				}
				return upd.Exec(ctx)
			})
		},
	}
	if !all {
		// An older build kept console sign-in throttles under the typed
		// name itself; they are dropped (a count of failed sign-ins of an
		// unknown name restarts), the new ones are keyed by its hash.
		passes = append(passes, func(ctx context.Context, tx *Tx, _ *sealCursor) (int, error) {
			_, err := tx.Ent.LoginThrottle.Delete().Where(func(s *entsql.Selector) {
				s.Where(entsql.ExprP("length(" + s.C(loginthrottle.FieldKey) + ") <> 32"))
			}).Exec(ctx)
			return 0, err
		})
	}
	if all {
		passes = append(passes, func(ctx context.Context, tx *Tx, cur *sealCursor) (int, error) {
			return rewrite(tx.Ent.StaffUser.Query().Where(staffuser.IDGT(cur.id), staffuser.TotpSecretNotNil()).
				Order(staffuser.ByID()).Limit(sealBatch).All(ctx))(func(r *ent.StaffUser) error {
				cur.id = r.ID
				upd := tx.Ent.StaffUser.UpdateOne(r)
				if err := resealBytes(keys, r.TotpSecret, upd.SetTotpSecret); err != nil {
					return fmt.Errorf("staff user %d: %w", r.ID, err)
				}
				return upd.Exec(ctx)
			})
		})
	}
	total := 0
	for _, pass := range passes {
		cur := &sealCursor{}
		for {
			var n int
			err := d.InTx(ctx, func(tx *Tx) error {
				var err error
				n, err = pass(ctx, tx, cur)
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < sealBatch {
				break
			}
		}
	}
	return total, nil
}

// sealCursor is where a pass over a table has got to.
type sealCursor struct {
	id   int
	uuid uuid.UUID
}

// rewrite applies write to each row a batch query returned, stopping at
// the first error, and reports how many rows the batch held.
func rewrite[T any](rows []T, err error) func(write func(T) error) (int, error) {
	return func(write func(T) error) (int, error) {
		for _, r := range rows {
			if err != nil {
				break
			}
			err = write(r)
		}
		return len(rows), err
	}
}

// resealBytes opens a value made by Keys.Seal (under either key) and hands
// it to set sealed afresh under the current key.
func resealBytes[U any](keys *secret.Keys, sealed []byte, set func([]byte) U) error {
	if len(sealed) == 0 {
		return nil
	}
	plain, err := keys.Open(sealed)
	if err != nil {
		return err
	}
	set(keys.Seal(plain))
	return nil
}
