package services_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/testenv"
)

const (
	idNumber = "440703199001011239"
	phone    = "13800001234"
)

// deliverCode delivers the newest queued SMS to the outbox and returns the
// six-digit code the phone got.
func deliverCode(t *testing.T, d *db.DB, svc *services.Services) string {
	t.Helper()
	ctx := context.Background()
	m, err := d.Ent.SMSMessage.Query().Order(ent.Desc(smsmessage.FieldID)).First(ctx)
	if err != nil {
		t.Fatalf("no SMS queued: %v", err)
	}
	if err := svc.Courier.Deliver(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	msgs, err := svc.Outbox.Messages(ctx, phone, 1) // what /dev/sms?phone=… shows
	if err != nil || len(msgs) == 0 {
		t.Fatalf("nothing delivered to %s: %v", phone, err)
	}
	return regexp.MustCompile(`\d{6}`).FindString(msgs[0].Text)
}

// TestNoIDOrPhoneNumberInTheDatabaseFiles registers a person and a unit,
// runs a recovery through its SMS code and a username recovery, checks that
// every lookup by number still works, then looks for the ID number and the
// phone in clear: in the SQLite file and its WAL byte for byte, in every
// PostgreSQL row as text.
func TestNoIDOrPhoneNumberInTheDatabaseFiles(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys, _ := secret.New(bytes.Repeat([]byte("p"), 32))
		clk := clock.NewAdjustable()
		clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai))
		svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing}})
		if err != nil {
			t.Fatal(err)
		}
		a := svc.Accounts
		if _, _, err := a.SendRegistrationCode(ctx, "138 0000 1234"); err != nil {
			t.Fatal(err)
		}
		person := accounts.PersonRegistration{Username: "zhang_san", Password: "Abcd2468!x", Name: "张三", IDNumber: idNumber,
			Phone: "138 0000 1234", SMSCode: deliverCode(t, d, svc)}
		if _, err := a.RegisterPerson(ctx, person); err != nil {
			t.Fatal(err)
		}
		uscc := rules.CompleteUSCC("91440703MA4UKXXX0")
		if _, err := a.RegisterUnit(ctx, accounts.UnitRegistration{OperatorUsername: "zhang_san", OperatorPassword: "Abcd2468!x",
			CertType: string(rules.CertUSCC), CertNumber: uscc, UnitName: "江门市某某有限公司", RegionCode: "440703",
			Username: "jm_unit", Password: "Abcd2468!y"}); err != nil {
			t.Fatal(err)
		}

		// Uniqueness still holds on the sealed numbers.
		again := person
		again.Username, again.Phone = "zhang_san2", "13900001111"
		if _, err := a.CheckPersonForm(ctx, again); !isRefusal(err, accounts.ErrIDNumberTaken) {
			t.Errorf("the same ID number again: %v", err)
		}
		again.IDNumber, again.Phone = rules.CompleteIDNumber("44010619851231002"), person.Phone
		if _, err := a.CheckPersonForm(ctx, again); !isRefusal(err, accounts.ErrPhoneTaken) {
			t.Errorf("the same phone again: %v", err)
		}
		// Login, recovery by name and ID number, by certificate, username recovery.
		if _, err := a.Login(ctx, accounts.Credentials{Kind: accounts.KindPerson, Username: "zhang_san", Password: "Abcd2468!x"}); err != nil {
			t.Fatalf("login: %v", err)
		}
		clk.Advance(2 * time.Minute)
		started, err := svc.Recovery.Start(ctx, recovery.StartInput{Kind: accounts.KindPerson, Name: "张三", IDNumber: idNumber})
		if err != nil {
			t.Fatalf("recovery by name and ID number: %v", err)
		}
		if started.PhoneMasked != rules.MaskPhone(phone) {
			t.Errorf("the code goes to %q", started.PhoneMasked)
		}
		rc, err := svc.Recovery.Authorize(ctx, started.ID.String(), started.Token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Recovery.SendCode(ctx, rc); err != nil {
			t.Fatal(err)
		}
		if err := svc.Recovery.VerifyCode(ctx, rc, deliverCode(t, d, svc)); err != nil {
			t.Fatalf("the recovery's SMS code: %v", err)
		}
		if _, err := svc.Recovery.Start(ctx, recovery.StartInput{Kind: accounts.KindUnit, CertType: string(rules.CertUSCC),
			CertNumber: uscc, UnitName: "江门市某某有限公司"}); err != nil {
			t.Fatalf("recovery by certificate: %v", err)
		}
		clk.Advance(2 * time.Minute)
		if masked, err := a.RecoverUsername(ctx, accounts.UsernameRecovery{Kind: accounts.KindPerson, Name: "张三", IDNumber: idNumber}); err != nil || masked != rules.MaskPhone(phone) {
			t.Fatalf("username recovery: %q %v", masked, err)
		}

		for _, s := range []string{idNumber, phone} {
			if d.Kind == "sqlite" {
				path := strings.TrimPrefix(d.DSN, "file:")
				path = path[:strings.IndexByte(path, '?')]
				for _, f := range []string{path, path + "-wal"} {
					raw, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					if bytes.Contains(raw, []byte(s)) {
						t.Errorf("%s holds %s in clear", f, s)
					}
				}
			} else if where := pgRowsHolding(t, d.SQL, s); len(where) > 0 {
				t.Errorf("%s in clear in %v", s, where)
			}
		}
	})
}

func isRefusal(err error, want *apperr.Error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == want.Code
}

// pgRowsHolding lists the tables of which a row, as text, contains s.
func pgRowsHolding(t *testing.T, pool *sql.DB, s string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.QueryContext(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only tables %v", tables)
	}
	var out []string
	for _, tbl := range tables {
		var n int
		if err := pool.QueryRowContext(ctx, `SELECT count(*) FROM "`+tbl+`" r WHERE strpos(r::text, $1) > 0`, s).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out = append(out, tbl)
		}
	}
	return out
}
