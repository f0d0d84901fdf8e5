package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/verify"
)

// Resident ID numbers with valid check digits (GB 11643).
const (
	zhangID = "440703199001011239" // 江门市蓬江区
	liID    = "440106198512310021" // 广州市天河区
)

// fixture is the accounts service on a real database, with the SMS courier
// whose queued messages a test delivers to the outbox itself.
type fixture struct {
	d     *db.DB
	clock *clock.Adjustable
	svc   *services.Services
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	keys, err := secret.New(bytes.Repeat([]byte("a"), 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewAdjustable()
	clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai))
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing}})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, clock: clk, svc: svc}
}

// code delivers the newest queued SMS to the outbox and returns the
// six-digit code it carries.
func (f *fixture) code(t *testing.T, phone string) string {
	t.Helper()
	ctx := context.Background()
	m, err := f.d.Ent.SMSMessage.Query().Order(ent.Desc(smsmessage.FieldID)).First(ctx)
	if err != nil {
		t.Fatalf("no SMS queued: %v", err)
	}
	if err := f.svc.Courier.Deliver(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	msgs, err := f.svc.Outbox.Messages(ctx, phone, 1)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("nothing delivered to %s: %v", phone, err)
	}
	code := regexp.MustCompile(`\d{6}`).FindString(msgs[0].Text)
	if code == "" {
		t.Fatalf("no code in %q", msgs[0].Text)
	}
	return code
}

// person registers a verified person account without an SMS code.
func (f *fixture) person(t *testing.T, username, password, id, phone string) *ent.Account {
	t.Helper()
	acc, err := f.svc.Accounts.CreateVerifiedPerson(context.Background(),
		accounts.PersonRegistration{Username: username, Password: password, Name: "张三", IDNumber: id, Phone: phone})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// refusal returns err's code, extra members and field, failing on anything
// that is not a refusal of the expected sentinel.
func refusal(t *testing.T, err error, want *apperr.Error) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	return e
}

func TestRegisterPersonChecksEveryFieldAndTheCodeThenCreatesAVerifiedAccount(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.svc.Accounts
		in := accounts.PersonRegistration{Username: "zhang_san", Password: "Abcd2468!x", Name: "张三", IDNumber: zhangID,
			Phone: "138 0000 1234", SMSCode: ""}

		// The form check: every field at once, then the missing code.
		bad := accounts.PersonRegistration{Username: "1x", Password: "Q12345zz", Name: "", IDNumber: "440703199001011234", Phone: "12"}
		e, _ := apperr.As(func() error { _, err := a.CheckPersonForm(ctx, bad); return err }())
		fields := map[string]bool{}
		for _, fe := range e.Fields {
			fields[fe.Field] = true
		}
		for _, want := range []string{"username", "password", "name", "id_number", "phone"} {
			if !fields[want] {
				t.Errorf("CheckPersonForm: no problem on %s in %+v", want, e.Fields)
			}
		}
		if _, err := a.CheckPersonForm(ctx, in); refusal(t, err, accounts.ErrCodeMissing).Field != "sms_code" {
			t.Fatalf("missing code not on sms_code: %v", err)
		}
		typed := in
		typed.SMSCode = "123456"
		if p, err := a.CheckPersonForm(ctx, typed); err != nil || p.Phone != "13800001234" {
			t.Fatalf("a complete form: %+v %v", p, err)
		}
		if n := d.Ent.Account.Query().CountX(ctx); n != 0 {
			t.Fatalf("the check created %d accounts", n)
		}

		// The phone is read in one place: empty and malformed get their words.
		if _, _, err := a.SendRegistrationCode(ctx, " "); refusal(t, err, accounts.ErrPhoneMissing).Field != "phone" {
			t.Fatal(err)
		}
		if _, _, err := a.SendRegistrationCode(ctx, "2380000123"); refusal(t, err, accounts.ErrPhoneInvalid).Field != "phone" {
			t.Fatal(err)
		}
		wait, phone, err := a.SendRegistrationCode(ctx, "+86 138-0000-1234")
		if err != nil || phone != "13800001234" || wait <= 0 {
			t.Fatalf("send: %v %s %v", wait, phone, err)
		}
		code := f.code(t, phone)

		wrong := in
		wrong.SMSCode = "000000"
		if code == wrong.SMSCode {
			wrong.SMSCode = "111111"
		}
		_, err = a.RegisterPerson(ctx, wrong)
		if e := refusal(t, err, verify.ErrWrongCode); e.Field != "sms_code" || e.Extra["attempts_left"] != 4 {
			t.Fatalf("wrong code: %+v", e)
		}
		in.SMSCode = code
		acc, err := a.RegisterPerson(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if !acc.Verified || acc.Phone != "13800001234" || acc.RegionCode != "440703" || acc.Kind != account.KindPerson {
			t.Fatalf("account %+v", acc)
		}
		// Taken: the same username (in another case), ID number and phone.
		again := in
		again.Username = "ZHANG_SAN"
		if _, err := a.CheckPersonForm(ctx, again); refusal(t, err, accounts.ErrUsernameTaken).Field != "username" {
			t.Fatal(err)
		}
		again.Username = "zhang_si"
		if _, err := a.CheckPersonForm(ctx, again); refusal(t, err, accounts.ErrIDNumberTaken).Field != "id_number" {
			t.Fatal(err)
		}
		again.IDNumber = liID
		if _, err := a.CheckPersonForm(ctx, again); refusal(t, err, accounts.ErrPhoneTaken).Field != "phone" {
			t.Fatal(err)
		}
	})
}

func TestFiveWrongPasswordsLockForAnHourEvenAgainstTheRightOneAndASuccessResetsTheCount(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.svc.Accounts
		f.person(t, "zhang_san", "Abcd2468!x", zhangID, "13800001234")
		login := func(password string) (*ent.Account, error) {
			return a.Login(ctx, accounts.Credentials{Kind: accounts.KindPerson, Username: "zhang_san", Password: password})
		}

		// Four wrong, then the right one: the count starts again.
		for i := 1; i <= 4; i++ {
			_, err := login("Wrong#2468x")
			if e := refusal(t, err, accounts.ErrBadCredentials); e.Extra["attempts_left"] != 5-i {
				t.Fatalf("wrong %d: attempts_left %v", i, e.Extra["attempts_left"])
			}
		}
		if _, err := login("Abcd2468!x"); err != nil {
			t.Fatalf("the right password after four wrong ones: %v", err)
		}
		for i := 1; i <= 4; i++ {
			if _, err := login("Wrong#2468x"); !errors.Is(err, accounts.ErrBadCredentials) {
				t.Fatalf("wrong %d after a success: %v", i, err)
			}
		}

		// The fifth in a row locks for one hour from it.
		fifth := f.clock.Now()
		_, err := login("Wrong#2468x")
		e := refusal(t, err, accounts.ErrLocked)
		if want := fifth.Add(time.Hour).Format(time.RFC3339); e.Extra["locked_until"] != want {
			t.Fatalf("locked_until %v, want %s", e.Extra["locked_until"], want)
		}
		f.clock.Advance(59 * time.Minute)
		if _, err := login("Abcd2468!x"); !errors.Is(err, accounts.ErrLocked) {
			t.Fatalf("the right password while locked: %v", err)
		}
		f.clock.Advance(time.Minute)
		if _, err := login("Abcd2468!x"); err != nil {
			t.Fatalf("the right password when the hour is over: %v", err)
		}
		acc := d.Ent.Account.Query().Where(account.UsernameKey("zhang_san")).OnlyX(ctx)
		if acc.FailedLogins != 0 || acc.LockedUntil != nil {
			t.Fatalf("after the success: %d failures, locked until %v", acc.FailedLogins, acc.LockedUntil)
		}
	})
}

func TestAPendingPasswordTakesEffectFourHoursAfterItsSMSAndNotBefore(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		a := f.svc.Accounts
		acc := f.person(t, "zhang_san", "Abcd2468!x", zhangID, "13800001234")
		login := func(password string) error {
			_, err := a.Login(ctx, accounts.Credentials{Kind: accounts.KindPerson, Username: "zhang_san", Password: password})
			return err
		}
		hash, err := passhash.Hasher{Params: passhash.Testing}.Hash("Newp#2468wq")
		if err != nil {
			t.Fatal(err)
		}
		// Issued with the approval; its clock has not started (no SMS yet).
		if err := d.InTx(ctx, func(tx *db.Tx) error { return accounts.SetPendingPassword(ctx, tx, acc.ID, hash, nil) }); err != nil {
			t.Fatal(err)
		}
		if e := refusal(t, login("Newp#2468wq"), accounts.ErrPasswordNotEffective); e.Extra["effective_at"] != nil {
			t.Fatalf("effective_at before the SMS went out: %v", e.Extra["effective_at"])
		}
		sent := f.clock.Now().Add(10 * time.Minute)
		f.clock.Set(sent)
		if err := d.InTx(ctx, func(tx *db.Tx) error { return accounts.StartPendingClock(ctx, tx, acc.ID, sent) }); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(accounts.PendingDelay - time.Second)
		e := refusal(t, login("Newp#2468wq"), accounts.ErrPasswordNotEffective)
		if want := sent.Add(4 * time.Hour).Format(time.RFC3339); e.Extra["effective_at"] != want {
			t.Fatalf("effective_at %v, want %s", e.Extra["effective_at"], want)
		}
		if err := login("Abcd2468!x"); err != nil {
			t.Fatalf("the old password before the new one takes effect: %v", err)
		}
		f.clock.Advance(time.Second)
		if err := login("Newp#2468wq"); err != nil {
			t.Fatalf("the new password 4 h after its SMS: %v", err)
		}
		if !errors.Is(login("Abcd2468!x"), accounts.ErrBadCredentials) {
			t.Fatal("the old password still works after the new one took effect")
		}
		// The password changed, so a session from before it no longer stands.
		now := d.Ent.Account.GetX(ctx, acc.ID)
		if accounts.SessionStands(now, sent) || !accounts.SessionStands(now, f.clock.Now()) {
			t.Fatalf("session rule around the change at %v", now.PasswordChangedAt)
		}
	})
}

func TestChangePasswordChecksThePolicyBeforeTheOldPassword(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		f.person(t, "zhang_san", "Abcd2468!x", zhangID, "13800001234")
		weak := accounts.PasswordChange{Kind: accounts.KindPerson, Username: "zhang_san", OldPassword: "Abcd2468!x", NewPassword: "Xasdfg12!"}
		if e, _ := apperr.As(accounts.CheckNewPassword(weak)); e == nil || e.Code != "weak_password" || e.Field != "new_password" {
			t.Fatalf("weak: %+v", e)
		}
		same := weak
		same.NewPassword = same.OldPassword
		if e, _ := apperr.As(accounts.CheckNewPassword(same)); e == nil || e.Code != "password_unchanged" || e.Field != "new_password" {
			t.Fatalf("unchanged: %+v", e)
		}
		ok := weak
		ok.NewPassword = "Qwer7#Tyu"
		if err := accounts.CheckNewPassword(ok); err != nil {
			t.Fatalf("a compliant password: %v", err)
		}
		// A weak new password is refused without counting a failure.
		wrongOld := weak
		wrongOld.OldPassword = "Wrong#2468x"
		if err := f.svc.Accounts.ChangePassword(ctx, wrongOld); err == nil {
			t.Fatal("accepted")
		}
		if n := d.Ent.Account.Query().OnlyX(ctx).FailedLogins; n != 0 {
			t.Fatalf("a refused policy counted %d failures", n)
		}
		if err := f.svc.Accounts.ChangePassword(ctx, ok); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Accounts.Login(ctx, accounts.Credentials{Kind: accounts.KindPerson, Username: "zhang_san", Password: "Qwer7#Tyu"}); err != nil {
			t.Fatalf("the changed password: %v", err)
		}
	})
}

// TestConcurrentRegistrationsKeepNumbersUnique: registrations run at once on
// two instances. People with nothing in common all get their accounts (the
// registration locks are per username and number, not one for everyone);
// of those sharing an ID number, or a phone, exactly one does and the
// others are told the number is taken.
func TestConcurrentRegistrationsKeepNumbersUnique(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		fixtures := []*fixture{newFixture(t, d), newFixture(t, testenv.AnotherInstance(t, d))}
		ids := []string{liID, zhangID, rules.CompleteIDNumber("44010620000101001"), rules.CompleteIDNumber("44010619700303003")}
		type attempt struct {
			username, id, phone string
		}
		var attempts []attempt
		for i, id := range ids { // four different people
			attempts = append(attempts, attempt{fmt.Sprintf("solo%02d", i), id, fmt.Sprintf("1380000%04d", i)})
		}
		for i := range 4 { // four wanting one ID number
			attempts = append(attempts, attempt{fmt.Sprintf("sameid%02d", i), rules.CompleteIDNumber("44010619920304001"), fmt.Sprintf("1390000%04d", i)})
		}
		for i := range 4 { // four wanting one phone
			attempts = append(attempts, attempt{fmt.Sprintf("samephone%02d", i), rules.CompleteIDNumber(fmt.Sprintf("44010619950101%03d", 100+i)), "13700000000"})
		}
		errs := make([]error, len(attempts))
		var wg sync.WaitGroup
		for i, a := range attempts {
			wg.Go(func() {
				_, errs[i] = fixtures[i%2].svc.Accounts.CreateVerifiedPerson(context.Background(),
					accounts.PersonRegistration{Username: a.username, Password: "Abcd1234!", Name: "张三", IDNumber: a.id, Phone: a.phone})
			})
		}
		wg.Wait()
		for i, err := range errs[:4] {
			if err != nil {
				t.Fatalf("%s: %v", attempts[i].username, err)
			}
		}
		for _, group := range []struct {
			errs  []error
			taken *apperr.Error
		}{{errs[4:8], accounts.ErrIDNumberTaken}, {errs[8:12], accounts.ErrPhoneTaken}} {
			won := 0
			for _, err := range group.errs {
				if err == nil {
					won++
				} else {
					refusal(t, err, group.taken)
				}
			}
			if won != 1 {
				t.Fatalf("%d of 4 registrations wanting one number succeeded (%v), want 1", won, group.errs)
			}
		}
		if n := d.Ent.Account.Query().CountX(context.Background()); n != 6 {
			t.Fatalf("%d accounts, want 6", n)
		}
	})
}
