package sms_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/testenv"
)

func TestQueuedMessageIsDeliveredAfterCommitOnly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys, _ := secret.New(bytes.Repeat([]byte("s"), 32))
		ins, err := jobs.NewInserter(d, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		outbox := sms.NewOutbox(d.Ent, keys, clock.Real{})
		courier := sms.NewCourier(keys, outbox, d, clock.Real{}, ins)
		runner, err := jobs.Start(ctx, d, slog.Default(), jobs.Deps{Courier: courier}, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer runner.Stop(ctx)

		// A rolled-back change queues nothing.
		rollback := errors.New("rollback")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := courier.Queue(ctx, tx, "13800000001", "test", sms.CodeText("111111", 5*time.Minute)); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		// A committed one is delivered and shows in the outbox.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			_, err := courier.Queue(ctx, tx, "13800000002", "test", sms.CodeText("222222", 5*time.Minute))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		var msgs []sms.Message
		for time.Now().Before(deadline) {
			msgs, err = outbox.Messages(ctx, "13800000002", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "您的验证码为222222") {
			t.Fatalf("outbox = %+v", msgs)
		}
		if n := d.Ent.SMSMessage.Query().Where(smsmessage.Phone("13800000001")).CountX(ctx); n != 0 {
			t.Fatalf("rolled-back message row exists")
		}
		// The queue row is marked sent right after the hand-over; its text is sealed.
		row := d.Ent.SMSMessage.Query().Where(smsmessage.Phone("13800000002")).OnlyX(ctx)
		for time.Now().Before(deadline) && row.Status != smsmessage.StatusSent {
			time.Sleep(20 * time.Millisecond)
			row = d.Ent.SMSMessage.Query().Where(smsmessage.Phone("13800000002")).OnlyX(ctx)
		}
		if bytes.Contains(row.TextSealed, []byte("222222")) || row.Status != smsmessage.StatusSent || row.SendCount != 1 {
			t.Fatalf("row: status=%s count=%d sealed=%v", row.Status, row.SendCount, !bytes.Contains(row.TextSealed, []byte("222222")))
		}
	})
}

type failingSender struct{}

func (failingSender) Send(context.Context, string, string) error { return errors.New("gateway down") }

func TestFailedDeliveryIsMarkedOnLastTry(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	keys, _ := secret.New(bytes.Repeat([]byte("s"), 32))
	ins, _ := jobs.NewInserter(d, slog.Default())
	courier := sms.NewCourier(keys, failingSender{}, d, clock.Real{}, ins)
	var id int
	if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
		id, err = courier.Queue(ctx, tx, "13800000003", "test", "x")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := courier.Deliver(ctx, id, false); err == nil {
		t.Fatal("want the gateway error")
	}
	if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusQueued || got.SendCount != 1 {
		t.Fatalf("after a retryable failure: %s %d", got.Status, got.SendCount)
	}
	if err := courier.Deliver(ctx, id, true); err == nil {
		t.Fatal("want the gateway error on the last try too")
	}
	if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusFailed || got.LastError != "gateway down" || got.SendCount != 2 {
		t.Fatalf("after the last try: %s %q count %d", got.Status, got.LastError, got.SendCount)
	}
}

func TestPasswordTextIsErasedAfterSendAndTheHookRunsInTheSameTransaction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys, _ := secret.New(bytes.Repeat([]byte("s"), 32))
		ins, _ := jobs.NewInserter(d, slog.Default())
		outbox := sms.NewOutbox(d.Ent, keys, clock.Real{})
		courier := sms.NewCourier(keys, outbox, d, clock.Real{}, ins)
		courier.EraseAfterSend("password")
		var hookSaw time.Time
		courier.OnSent("password", func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error {
			hookSaw = sentAt
			return tx.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("sent:" + msg.Ref).Exec(ctx)
		})
		var id int
		if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
			id, err = courier.QueueRef(ctx, tx, "13800000009", "password", "case:x", "【广东人社】新密码 Abcd2345xy!")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := courier.Deliver(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		row := d.Ent.SMSMessage.GetX(ctx, id)
		text, err := keys.Open(row.TextSealed)
		if err != nil {
			t.Fatalf("open the erased text: %v", err)
		}
		if strings.Contains(string(text), "Abcd2345xy!") || !strings.Contains(string(text), "内容已按规定清除") || row.Status != smsmessage.StatusSent || row.SentAt == nil {
			t.Fatalf("queue row after send: %q %s", text, row.Status)
		}
		if hookSaw.IsZero() || hookSaw.Sub(*row.SentAt).Abs() > time.Millisecond || d.Ent.AuditEvent.Query().CountX(ctx) != 1 {
			t.Fatal("the after-send hook did not run with the send time")
		}
		// The phone got the password; delivering again sends nothing more.
		if err := courier.Deliver(ctx, id, false); err != nil {
			t.Fatal(err)
		}
		msgs, err := outbox.Messages(ctx, "13800000009", 10)
		if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Text, "Abcd2345xy!") {
			t.Fatalf("outbox %+v (err %v)", msgs, err)
		}
	})
}

func TestAFailingAfterSendHookRollsBackTheSentMark(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys, _ := secret.New(bytes.Repeat([]byte("s"), 32))
		ins, _ := jobs.NewInserter(d, slog.Default())
		outbox := sms.NewOutbox(d.Ent, keys, clock.Real{})
		courier := sms.NewCourier(keys, outbox, d, clock.Real{}, ins)
		hookFailed := errors.New("hook failed")
		courier.OnSent("fragile", func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error {
			// Written in the same transaction, then undone with it.
			if err := tx.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("sent:" + msg.Ref).Exec(ctx); err != nil {
				return err
			}
			return hookFailed
		})
		var id int
		if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
			id, err = courier.QueueRef(ctx, tx, "13800000010", "fragile", "case:y", "hello")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := courier.Deliver(ctx, id, false); !errors.Is(err, hookFailed) {
			t.Fatalf("Deliver = %v, want the hook's error", err)
		}
		row := d.Ent.SMSMessage.GetX(ctx, id)
		if row.Status != smsmessage.StatusQueued || row.SentAt != nil {
			t.Fatalf("row after a failed hook: %s sent_at %v", row.Status, row.SentAt)
		}
		if n := d.Ent.AuditEvent.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d audit rows survived the failed hook", n)
		}
	})
}
