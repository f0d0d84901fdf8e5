package sms_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

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
		courier := sms.NewCourier(keys, sms.OutboxSender{}, d.Ent, clock.Real{}, ins)
		runner, err := jobs.Start(ctx, d, slog.Default(), jobs.Deps{Courier: courier}, 50*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer runner.Stop(ctx)

		// A rolled-back change queues nothing.
		rollback := errors.New("rollback")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := courier.Queue(ctx, tx, "13800000001", "test", sms.CodeText("111111")); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		// A committed one is delivered and shows in the outbox.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			_, err := courier.Queue(ctx, tx, "13800000002", "test", sms.CodeText("222222"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		var msgs []sms.Message
		for time.Now().Before(deadline) {
			msgs, err = courier.Outbox(ctx, "13800000002", 10)
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
		// The text is sealed at rest.
		row := d.Ent.SMSMessage.Query().Where(smsmessage.Phone("13800000002")).OnlyX(ctx)
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
	courier := sms.NewCourier(keys, failingSender{}, d.Ent, clock.Real{}, ins)
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
	_ = courier.Deliver(ctx, id, true)
	if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusFailed || got.LastError != "gateway down" {
		t.Fatalf("after the last try: %s %q", got.Status, got.LastError)
	}
}
