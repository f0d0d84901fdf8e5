package db

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	entgo "entgo.io/ent"
	entsql "entgo.io/ent/dialect/sql"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/intercept"
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

// openResult opens the sealed fields of what a query or a mutation
// returned: one entity or a slice of them, of whichever sealed table.
func (p *personal) openResult(v entgo.Value) error {
	k := p.keys.Load()
	for _, t := range sealedTables {
		if matched, err := t.open(k, v); matched || err != nil {
			return err
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
	var rekey *secret.Keys // nil in Migrate: sealed bytes (SMS texts, TOTP secrets) are left as they are
	if all {
		rekey = d.personal.keys.Load()
	}
	total := 0
	for _, t := range sealedTables {
		var after any // the last row's primary key; nil before the first batch
		for {
			var n int
			err := d.InTx(ctx, func(tx *Tx) error {
				var err error
				n, after, err = t.rewriteBatch(ctx, tx, after, rekey)
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
	if all {
		return total, nil
	}
	// An older build kept console sign-in throttles under the typed name
	// itself; they are dropped (a count of failed sign-ins of an unknown
	// name restarts), the new ones are keyed by its hash.
	err := d.InTx(ctx, func(tx *Tx) error {
		_, err := tx.Ent.LoginThrottle.Delete().Where(func(s *entsql.Selector) {
			s.Where(entsql.ExprP("length(" + s.C(loginthrottle.FieldKey) + ") <> 32"))
		}).Exec(ctx)
		return err
	})
	return total, err
}

// sealedTables are the entities whose rows hold sealed values. Each is
// declared once here, and the read interceptor, Migrate's sealing of old
// rows and Rekey all walk this list, so a new sealed field cannot be opened
// on read yet forgotten by a rotation.
var sealedTables = []sealedTable{
	&sealedRows[*ent.Account]{
		name: "account", id: func(r *ent.Account) any { return r.ID },
		query:    func(c *ent.Client) rowQuery[*ent.Account] { return c.Account.Query() },
		opened:   func(r *ent.Account) []*string { return []*string{&r.Phone, &r.CertNumber} },
		unsealed: account.PhoneHmac(""),
		write: func(ctx context.Context, tx *Tx, r *ent.Account, _ *secret.Keys) error {
			return tx.Ent.Account.UpdateOne(r).SetPhone(r.Phone).SetCertNumber(r.CertNumber).SetUpdatedAt(r.UpdatedAt).Exec(ctx)
		},
	},
	&sealedRows[*ent.RecoveryCase]{
		name: "case", id: func(r *ent.RecoveryCase) any { return r.ID },
		query:    func(c *ent.Client) rowQuery[*ent.RecoveryCase] { return c.RecoveryCase.Query() },
		opened:   func(r *ent.RecoveryCase) []*string { return []*string{&r.TypedCertNumber} },
		unsealed: recoverycase.TypedCertHmac(""),
		write: func(ctx context.Context, tx *Tx, r *ent.RecoveryCase, _ *secret.Keys) error {
			return tx.Ent.RecoveryCase.UpdateOne(r).SetTypedCertNumber(r.TypedCertNumber).SetUpdatedAt(r.UpdatedAt).Exec(ctx)
		},
	},
	&sealedRows[*ent.SMSCode]{
		name: "sms code", id: func(r *ent.SMSCode) any { return r.ID },
		query:    func(c *ent.Client) rowQuery[*ent.SMSCode] { return c.SMSCode.Query() },
		opened:   func(r *ent.SMSCode) []*string { return []*string{&r.Phone} },
		unsealed: smscode.PhoneHmac(""),
		write: func(ctx context.Context, tx *Tx, r *ent.SMSCode, _ *secret.Keys) error {
			return tx.Ent.SMSCode.UpdateOne(r).SetPhone(r.Phone).Exec(ctx)
		},
	},
	&sealedRows[*ent.SMSMessage]{
		name: "sms message", id: func(r *ent.SMSMessage) any { return r.ID },
		query:    func(c *ent.Client) rowQuery[*ent.SMSMessage] { return c.SMSMessage.Query() },
		opened:   func(r *ent.SMSMessage) []*string { return []*string{&r.Phone} },
		unsealed: smsmessage.PhoneHmac(""),
		write: func(ctx context.Context, tx *Tx, r *ent.SMSMessage, rekey *secret.Keys) error {
			upd := tx.Ent.SMSMessage.UpdateOne(r).SetPhone(r.Phone)
			return resealBytes(ctx, rekey, r.TextSealed, upd.SetTextSealed, upd.Exec)
		},
	},
	&sealedRows[*ent.OutboxMessage]{
		name: "outbox message", id: func(r *ent.OutboxMessage) any { return r.ID },
		query:    func(c *ent.Client) rowQuery[*ent.OutboxMessage] { return c.OutboxMessage.Query() },
		opened:   func(r *ent.OutboxMessage) []*string { return []*string{&r.Phone} },
		unsealed: outboxmessage.PhoneHmac(""),
		write: func(ctx context.Context, tx *Tx, r *ent.OutboxMessage, rekey *secret.Keys) error {
			upd := tx.Ent.OutboxMessage.UpdateOne(r).SetPhone(r.Phone)
			return resealBytes(ctx, rekey, r.TextSealed, upd.SetTextSealed, upd.Exec)
		},
	},
	// A staff user's TOTP secret was sealed from the start, so Migrate has
	// nothing to seal (no unsealed predicate); Rekey moves it to the new key.
	&sealedRows[*ent.StaffUser]{
		name: "staff user", id: func(r *ent.StaffUser) any { return r.ID },
		query:  func(c *ent.Client) rowQuery[*ent.StaffUser] { return c.StaffUser.Query() },
		rekeys: staffuser.TotpSecretNotNil(),
		write: func(ctx context.Context, tx *Tx, r *ent.StaffUser, rekey *secret.Keys) error {
			upd := tx.Ent.StaffUser.UpdateOne(r)
			return resealBytes(ctx, rekey, r.TotpSecret, upd.SetTotpSecret, upd.Exec)
		},
	},
}

// sealedTable is what the storage boundary does with one entity's rows,
// whatever its type: open them on read, rewrite them in a sealing pass.
type sealedTable interface {
	// open opens the sealed fields of v in place when v is this entity
	// or a slice of it (matched).
	open(k *secret.Keys, v entgo.Value) (matched bool, err error)
	// rewriteBatch writes back the next batch of rows after the primary
	// key after (nil: from the start), so the hook seals them under the
	// current key, and returns how many it wrote and the last one's key.
	// rekey is nil in Migrate (only rows never sealed), the current keys
	// in Rekey (every row, sealed bytes too).
	rewriteBatch(ctx context.Context, tx *Tx, after any, rekey *secret.Keys) (n int, last any, err error)
}

// rowQuery is the part of an ent query builder a sealing pass uses: the
// typed All, beside the untyped predicates, order and limit intercept.Query
// gives every builder.
type rowQuery[T any] interface {
	All(context.Context) ([]T, error)
}

// sealedRows describes the sealed fields of the entity T. ent gives each
// entity its own query and update types; these few closures are the only
// per-entity code, the walk itself is written once.
type sealedRows[T any] struct {
	name   string      // in errors: "account 12: …"
	id     func(T) any // the row's primary key, the cursor of a pass
	query  func(*ent.Client) rowQuery[T]
	opened func(T) []*string // the sealed text fields a read opens; nil: none
	// unsealed selects the rows an older build wrote in clear, which
	// Migrate seals; nil: Migrate skips the table.
	unsealed func(*entsql.Selector)
	// rekeys narrows the rows Rekey rewrites; nil: every row.
	rekeys func(*entsql.Selector)
	// write writes r back through the sealing hook; with rekey set it
	// also re-seals the row's sealed bytes under the current key.
	write func(ctx context.Context, tx *Tx, r T, rekey *secret.Keys) error
}

func (t *sealedRows[T]) open(k *secret.Keys, v entgo.Value) (bool, error) {
	if t.opened == nil {
		return false, nil
	}
	var rows []T
	switch v := v.(type) {
	case T:
		rows = []T{v}
	case []T:
		rows = v
	default:
		return false, nil
	}
	for _, r := range rows {
		if err := openAll(k, t.opened(r)...); err != nil {
			return true, fmt.Errorf("%s %v: %w", t.name, t.id(r), err)
		}
	}
	return true, nil
}

func (t *sealedRows[T]) rewriteBatch(ctx context.Context, tx *Tx, after any, rekey *secret.Keys) (int, any, error) {
	only := t.unsealed
	if rekey != nil {
		only = t.rekeys
	} else if only == nil {
		return 0, nil, nil
	}
	q := t.query(tx.Ent)
	gq, err := intercept.NewQuery(q) // the same builder, seen untyped
	if err != nil {
		return 0, nil, err
	}
	if after != nil {
		gq.WhereP(entsql.FieldGT(idColumn, after))
	}
	if only != nil {
		gq.WhereP(only)
	}
	gq.Order(entsql.OrderByField(idColumn).ToFunc())
	gq.Limit(sealBatch)
	rows, err := q.All(ctx)
	if err != nil {
		return 0, nil, err
	}
	for _, r := range rows {
		after = t.id(r)
		if err := t.write(ctx, tx, r, rekey); err != nil {
			return 0, nil, fmt.Errorf("%s %v: %w", t.name, after, err)
		}
	}
	return len(rows), after, nil
}

// idColumn is the primary-key column ent gives every entity.
const idColumn = "id"

// resealBytes runs a row's update (exec) after, in Rekey (rekey set),
// opening a value made by Keys.Seal (under either key) and handing it to
// set sealed afresh under the current key. In Migrate (rekey nil) the
// value is left as it is.
func resealBytes[U any](ctx context.Context, rekey *secret.Keys, sealed []byte, set func([]byte) U, exec func(context.Context) error) error {
	if rekey != nil && len(sealed) > 0 {
		plain, err := rekey.Open(sealed)
		if err != nil {
			return err
		}
		set(rekey.Seal(plain))
	}
	return exec(ctx)
}
