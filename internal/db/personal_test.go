package db_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/outboxmessage"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/testenv"
)

const (
	idNumber = "440703199001011239"
	phone    = "13812341234"
)

func keysOf(t *testing.T, b byte) *secret.Keys {
	t.Helper()
	k, err := secret.New(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// stored returns a column's raw value as the database holds it (no
// interceptor), for the row selected by where.
func stored(t *testing.T, d *db.DB, query string, args ...any) string {
	t.Helper()
	if d.Kind != "sqlite" {
		query = strings.Replace(query, "?", "$1", 1)
	}
	var v string
	if err := d.SQL.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return v
}

// personRows writes, through c, an account with a case, a queued SMS and an
// outbox message carrying the test's ID and phone numbers.
func personRows(t *testing.T, ctx context.Context, c *ent.Client, text []byte) *ent.Account {
	t.Helper()
	acc := newCaseFor(t, ctx, c)
	if err := c.SMSMessage.Create().SetPhone(phone).SetPurpose("register").SetTextSealed(text).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.OutboxMessage.Create().SetPhone(phone).SetTextSealed(text).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return acc
}

func newCaseFor(t *testing.T, ctx context.Context, c *ent.Client) *ent.Account {
	t.Helper()
	acc, err := c.Account.Create().SetKind("person").SetUsername("Zhang_san").SetUsernameKey("zhang_san").
		SetPasswordHash("x").SetName("张三").SetCertType("id_card").SetCertNumber(idNumber).SetPhone(phone).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
		SetTypedCertNumber(idNumber).SetTokenHash([]byte{1}).SetAccount(acc).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return acc
}

// found checks that every row holding the numbers is found by its keyed hash
// and reads back in clear.
func found(t *testing.T, ctx context.Context, d *db.DB) {
	t.Helper()
	acc, err := d.Ent.Account.Query().Where(account.CertType("id_card"), account.CertHmacIn(d.Lookups(idNumber)...)).Only(ctx)
	if err != nil {
		t.Fatalf("account by ID number: %v", err)
	}
	if acc.CertNumber != idNumber || acc.Phone != phone {
		t.Fatalf("account reads %q %q", acc.CertNumber, acc.Phone)
	}
	if n, err := d.Ent.Account.Query().Where(account.PhoneHmacIn(d.Lookups(phone)...)).Count(ctx); err != nil || n != 1 {
		t.Fatalf("accounts by phone: %d %v", n, err)
	}
	rc, err := d.Ent.RecoveryCase.Query().Where(recoverycase.TypedCertHmacIn(d.Lookups(idNumber)...)).WithAccount().Only(ctx)
	if err != nil || rc.TypedCertNumber != idNumber || rc.Edges.Account.Phone != phone {
		t.Fatalf("case by ID number: %v", err)
	}
	m, err := d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(d.Lookups(phone)...)).Only(ctx)
	if err != nil || m.Phone != phone {
		t.Fatalf("sms by phone: %v", err)
	}
	o, err := d.Ent.OutboxMessage.Query().Where(outboxmessage.PhoneHmacIn(d.Lookups(phone)...)).Only(ctx)
	if err != nil || o.Phone != phone {
		t.Fatalf("outbox by phone: %v", err)
	}
}

func TestPersonalNumbersAreStoredSealedAndFoundByTheirHash(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		acc := personRows(t, ctx, d.Ent, []byte("x"))
		if acc.Phone != phone || acc.CertNumber != idNumber {
			t.Fatalf("the created entity reads %q %q", acc.Phone, acc.CertNumber)
		}
		for _, q := range []string{"SELECT phone FROM accounts", "SELECT cert_number FROM accounts", "SELECT typed_cert_number FROM recovery_cases",
			"SELECT phone FROM sms_messages", "SELECT phone FROM outbox_messages"} {
			if v := stored(t, d, q); !secret.IsSealedText(v) || strings.Contains(v, phone) || strings.Contains(v, idNumber) {
				t.Errorf("%s: stored %q", q, v)
			}
		}
		found(t, ctx, d)
		// A unit's credit code is public: clear, and found by its hash too.
		uscc := "91440703MA4UKXXX0X"
		if err := d.Ent.Account.Create().SetKind("unit").SetUsername("unit_a").SetUsernameKey("unit_a").SetPasswordHash("x").
			SetName("某公司").SetCertType("uscc").SetCertNumber(uscc).SetPhone(phone).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if v := stored(t, d, "SELECT cert_number FROM accounts WHERE username = ?", "unit_a"); v != uscc {
			t.Errorf("unit code stored as %q", v)
		}
		// The same ID number twice breaks the unique index on its hash.
		err := d.Ent.Account.Create().SetKind("person").SetUsername("other").SetUsernameKey("other").SetPasswordHash("x").
			SetName("张三").SetCertType("id_card").SetCertNumber(idNumber).SetPhone("13900000000").Exec(ctx)
		if !ent.IsConstraintError(err) {
			t.Errorf("a second account with the same ID number: %v", err)
		}
	})
}

func TestNoKeyNoWriteOfANumber(t *testing.T) {
	ctx := context.Background()
	d := testenv.SQLite(t)
	bare, err := db.Open(ctx, d.Kind, d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	err = bare.Ent.SMSMessage.Create().SetPhone(phone).SetPurpose("register").SetTextSealed([]byte("x")).Exec(ctx)
	if !errors.Is(err, db.ErrNoSealingKey) {
		t.Fatalf("a phone written without a key: %v", err)
	}
}

func TestRekeyMovesEverySealedValueToTheNewKey(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := keysOf(t, 'A'), keysOf(t, 'B')
		d.SealWith(a)
		text := []byte("您的验证码为 123456")
		personRows(t, ctx, d.Ent, a.Seal(text))
		before := stored(t, d, "SELECT phone FROM accounts")

		// B alone cannot read what A sealed: that is what the rotation is for.
		d.SealWith(b)
		if _, err := d.Ent.Account.Query().All(ctx); !errors.Is(err, secret.ErrUnsealable) {
			t.Fatalf("read under the wrong key: %v", err)
		}
		if n, _ := d.Ent.Account.Query().Where(account.CertHmacIn(d.Lookups(idNumber)...)).Count(ctx); n != 0 {
			t.Fatal("a hash under B found a row hashed under A")
		}

		// During the rotation (current B, previous A) everything reads and is found.
		ba, err := b.WithPrevious(bytes.Repeat([]byte{'A'}, 32))
		if err != nil {
			t.Fatal(err)
		}
		d.SealWith(ba)
		found(t, ctx, d)
		n, err := d.Rekey(ctx)
		if err != nil || n != 4 {
			t.Fatalf("rekey: %d rows, %v", n, err)
		}
		if after := stored(t, d, "SELECT phone FROM accounts"); after == before || !secret.IsSealedText(after) {
			t.Fatalf("the phone was not re-sealed: %q", after)
		}

		// The previous key dropped: still readable, still found.
		d.SealWith(b)
		found(t, ctx, d)
		m, err := d.Ent.SMSMessage.Query().Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Open(m.TextSealed); err != nil || !bytes.Equal(got, text) {
			t.Fatalf("SMS text after rekey: %q %v", got, err)
		}
		o, _ := d.Ent.OutboxMessage.Query().Only(ctx)
		if got, err := b.Open(o.TextSealed); err != nil || !bytes.Equal(got, text) {
			t.Fatalf("outbox text after rekey: %q %v", got, err)
		}
	})
}

func TestMigrateSealsTheClearRowsOfAnOlderBuild(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// An older build wrote through a client without the sealing hook.
		old := ent.NewClient(ent.Driver(entsql.OpenDB(d.Dialect, d.SQL)))
		personRows(t, ctx, old, []byte("x"))
		if err := old.LoginThrottle.Create().SetKey(idNumber).SetFailures(1).SetUpdatedAt(time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if v := stored(t, d, "SELECT cert_number FROM accounts"); v != idNumber {
			t.Fatalf("the old build's row holds %q", v)
		}
		if n, _ := d.Ent.Account.Query().Where(account.CertHmacIn(d.Lookups(idNumber)...)).Count(ctx); n != 0 {
			t.Fatal("a clear row was found by a hash it does not have")
		}

		// Two instances start together; both migrate.
		other := testenv.AnotherInstance(t, d)
		other.SealWith(testenv.SealingKeys)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, inst := range []*db.DB{d, other} {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = inst.Migrate(ctx) }()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"SELECT phone FROM accounts", "SELECT cert_number FROM accounts", "SELECT typed_cert_number FROM recovery_cases",
			"SELECT phone FROM sms_messages", "SELECT phone FROM outbox_messages"} {
			if v := stored(t, d, q); !secret.IsSealedText(v) {
				t.Errorf("%s: still %q after migrate", q, v)
			}
		}
		found(t, ctx, d)
		if n := d.Ent.LoginThrottle.Query().CountX(ctx); n != 0 {
			t.Errorf("%d sign-in throttles keyed by a typed name in clear survive the migration", n)
		}
		sealed := stored(t, d, "SELECT phone FROM accounts")
		if err := d.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if again := stored(t, d, "SELECT phone FROM accounts"); again != sealed {
			t.Error("a second migrate sealed the row again")
		}
	})
}
