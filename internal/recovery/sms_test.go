package recovery_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/sms/carrierstub"
	"recoverydesk/internal/testenv"
)

// gateway refuses its first `refuse` messages for good and accepts the rest,
// keeping what it accepted.
type gateway struct {
	refuse   int
	accepted []sms.Outgoing
}

func (g *gateway) Send(_ context.Context, m sms.Outgoing) error {
	if g.refuse > 0 {
		g.refuse--
		return fmt.Errorf("answered 400: %w", sms.ErrRejected)
	}
	g.accepted = append(g.accepted, m)
	return nil
}

// A password SMS the gateway refuses fails for good, shows in the region
// supervisor's list and the case history, and their resend delivers the
// same password, whose 4-hour clock starts when the gateway accepts it.
// Then the password takes effect at its time without anyone signing in.
func TestAFailedPasswordSMSIsResentWithTheSamePasswordAndTakesEffectOnTime(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		gw := &gateway{refuse: 1}
		r := newReviewSending(t, d, 0, gw)
		jm := r.staff(t, "jm_supervisor", "4407")
		gz := r.staff(t, "gz_supervisor", "4401")
		number, acc := r.submitted(t, false)
		if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "approve", Version: r.claimed(t, jm, number)}); err != nil {
			t.Fatal(err)
		}
		msg := d.Ent.SMSMessage.Query().Where(smsmessage.Phone(acc.Phone), smsmessage.Purpose(recovery.PurposePassword)).OnlyX(ctx)
		if err := r.courier.Deliver(ctx, msg.ID); !errors.Is(err, sms.ErrGiveUp) {
			t.Fatalf("a refused password SMS: %v", err)
		}
		if got := d.Ent.SMSMessage.GetX(ctx, msg.ID); got.Status != smsmessage.StatusFailed {
			t.Fatalf("status after the refusal: %s", got.Status)
		}
		if n := d.Ent.CaseEvent.Query().Where(caseevent.Type("sms_failed")).CountX(ctx); n != 1 {
			t.Fatalf("%d sms_failed events in the history", n)
		}
		list, err := r.svc.FailedSMSList(ctx, jm)
		if err != nil || len(list) != 1 || list[0].CaseNumber != number || list[0].ID != msg.ID || list[0].Phone == acc.Phone {
			t.Fatalf("the 江门 supervisor's list: %+v (%v)", list, err)
		}
		if list, _ := r.svc.FailedSMSList(ctx, gz); len(list) != 0 {
			t.Fatalf("another region's supervisor sees %+v", list)
		}

		if err := r.svc.ResendSMS(ctx, gz, number, msg.ID); !errors.Is(err, recovery.ErrCaseNotFound) {
			t.Fatalf("a resend from another region: %v", err)
		}
		if err := r.svc.ResendSMS(ctx, jm, number, msg.ID); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.ResendSMS(ctx, jm, number, msg.ID); !errors.Is(err, recovery.ErrSMSNotFailed) {
			t.Fatalf("a second resend of a queued message: %v", err)
		}
		r.clock.Advance(time.Minute)
		if err := r.courier.Deliver(ctx, msg.ID); err != nil {
			t.Fatal(err)
		}
		if len(gw.accepted) != 1 {
			t.Fatalf("the gateway accepted %d messages", len(gw.accepted))
		}
		// The same password: it is the account's pending one.
		pending := d.Ent.Account.GetX(ctx, acc.ID)
		pw := passwordIn(t, gw.accepted[0].Text)
		if ok, _ := (passhash.Hasher{Params: passhash.Testing}).Verify(pw, pending.PendingPasswordHash); !ok {
			t.Fatal("the resent text does not carry the pending password")
		}
		sent := d.Ent.SMSMessage.GetX(ctx, msg.ID)
		if pending.PendingEffectiveAt == nil || !pending.PendingEffectiveAt.Equal(sent.SentAt.Add(accounts.PendingDelay)) {
			t.Fatalf("effective at %v, sent at %v", pending.PendingEffectiveAt, sent.SentAt)
		}
		if n := d.Ent.CaseEvent.Query().Where(caseevent.Type("sms_resent")).CountX(ctx); n != 1 {
			t.Fatalf("%d sms_resent events", n)
		}

		// Nobody signs in: the promotion makes it the password at its time.
		if n, err := r.accounts.PromoteDue(ctx); err != nil || n != 0 {
			t.Fatalf("promoted %d before the time (%v)", n, err)
		}
		r.clock.Advance(accounts.PendingDelay)
		if n, err := r.accounts.PromoteDue(ctx); err != nil || n != 1 {
			t.Fatalf("promoted %d at the time (%v)", n, err)
		}
		now := d.Ent.Account.GetX(ctx, acc.ID)
		if now.PasswordHash != pending.PendingPasswordHash || now.PendingPasswordHash != "" ||
			now.PasswordChangedAt == nil || !now.PasswordChangedAt.Equal(*pending.PendingEffectiveAt) {
			t.Fatalf("after the promotion: changed at %v, pending %q", now.PasswordChangedAt, now.PendingPasswordHash)
		}
		if !accounts.SessionStands(now, pending.PendingEffectiveAt.Add(time.Second)) || accounts.SessionStands(now, pending.PendingEffectiveAt.Add(-time.Second)) {
			t.Fatal("a session signed in before the change must end, one after it stand")
		}
	})
}

// passwordIn reads the password out of a password SMS.
func passwordIn(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "新密码为：")
	pw, _, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 || pw == "" {
		t.Fatalf("no password in %q", text)
	}
	return pw
}

// A password SMS sent through a carrier whose template is refused fails for
// good and shows in the case history as with any gateway; the supervisor's
// resend (after the template is fixed) sends the same template parameters —
// the same password, as a parameter of its own — under a key of its own.
func TestACarrierRefusedPasswordSMSIsResentWithTheSameParameters(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	stub := carrierstub.New(t, carrierstub.Tencent, "AKIDstub", "stub-secret-0123456789")
	sender, err := sms.NewTencent(stub.Config())
	if err != nil {
		t.Fatal(err)
	}
	r := newReviewSending(t, d, 0, sender)
	jm := r.staff(t, "jm_supervisor", "4407")
	number, acc := r.submitted(t, false)
	if err := r.svc.Decide(ctx, jm, number, recovery.Decision{Outcome: "approve", Version: r.claimed(t, jm, number)}); err != nil {
		t.Fatal(err)
	}
	msg := d.Ent.SMSMessage.Query().Where(smsmessage.Phone(acc.Phone), smsmessage.Purpose(recovery.PurposePassword)).OnlyX(ctx)
	stub.Answer("FailedOperation.TemplateIncorrectOrUnapproved")
	if err := r.courier.Deliver(ctx, msg.ID); !errors.Is(err, sms.ErrGiveUp) {
		t.Fatalf("a refused template: %v", err)
	}
	if n := d.Ent.CaseEvent.Query().Where(caseevent.Type("sms_failed")).CountX(ctx); n != 1 {
		t.Fatalf("%d sms_failed events in the history", n)
	}
	if err := r.svc.ResendSMS(ctx, jm, number, msg.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.courier.Deliver(ctx, msg.ID); err != nil {
		t.Fatal(err)
	}
	reqs := stub.Requests()
	if len(reqs) != 2 || reqs[0].Template != "TPL_password" || reqs[1].Template != "TPL_password" {
		t.Fatalf("requests %+v", reqs)
	}
	pw := reqs[1].Params["2"]
	if reqs[0].Params["1"] != acc.Username || reqs[1].Params["1"] != acc.Username || pw == "" || reqs[0].Params["2"] != pw ||
		reqs[1].Params["3"] != "4" || reqs[0].Key == reqs[1].Key {
		t.Fatalf("first try %+v, resend %+v: want the same parameters under another key", reqs[0], reqs[1])
	}
	pending := d.Ent.Account.GetX(ctx, acc.ID)
	if ok, _ := (passhash.Hasher{Params: passhash.Testing}).Verify(pw, pending.PendingPasswordHash); !ok {
		t.Fatal("the resent parameter is not the pending password")
	}
	if sent := d.Ent.SMSMessage.GetX(ctx, msg.ID); sent.Status != smsmessage.StatusSent || len(sent.ParamsSealed) != 0 {
		t.Fatalf("after the resend: %s, parameters kept: %t", sent.Status, len(sent.ParamsSealed) != 0)
	}
}
