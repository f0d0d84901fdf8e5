package sms_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
)

// sealKeys seal the texts these tests queue.
var sealKeys = func() *secret.Keys {
	k, err := secret.New(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		panic(err)
	}
	return k
}()

// courierTo is a courier on d, reading time from clk, that hands each
// message to sender and queues its delivery jobs with River.
func courierTo(t testing.TB, d *db.DB, sender sms.Sender, clk clock.Clock) *sms.Courier {
	t.Helper()
	ins, err := jobs.NewInserter(d, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	return sms.NewCourier(sealKeys, sender, d, clk, ins)
}

// outboxCourier is a courier on d whose gateway is the outbox, as in dev
// mode, and that outbox.
func outboxCourier(t testing.TB, d *db.DB) (*sms.Courier, *sms.Outbox) {
	t.Helper()
	outbox := sms.NewOutbox(d, sealKeys, clock.Real{})
	return courierTo(t, d, outbox, clock.Real{}), outbox
}

func TestQueuedMessageIsDeliveredAfterCommitOnly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		courier, outbox := outboxCourier(t, d)
		runner, err := jobs.Start(ctx, d, slog.Default(), jobs.Deps{Courier: courier}, jobs.Options{PollInterval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer runner.Stop(ctx)

		// A rolled-back change queues nothing.
		rollback := errors.New("rollback")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := courier.Queue(ctx, tx, "13800000001", sms.Code(vocab.PurposeRegisterCode, "111111", 5*time.Minute)); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}
		// A committed one is delivered and shows in the outbox.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			_, err := courier.Queue(ctx, tx, "13800000002", sms.Code(vocab.PurposeRegisterCode, "222222", 5*time.Minute))
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
		if n := d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(d.Lookups("13800000001")...)).CountX(ctx); n != 0 {
			t.Fatalf("rolled-back message row exists")
		}
		// The queue row is marked sent right after the hand-over; its text is sealed.
		row := d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(d.Lookups("13800000002")...)).OnlyX(ctx)
		for time.Now().Before(deadline) && row.Status != smsmessage.StatusSent {
			time.Sleep(20 * time.Millisecond)
			row = d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(d.Lookups("13800000002")...)).OnlyX(ctx)
		}
		if bytes.Contains(row.TextSealed, []byte("222222")) || row.Status != smsmessage.StatusSent || row.SendCount != 1 {
			t.Fatalf("row: status=%s count=%d sealed=%v", row.Status, row.SendCount, !bytes.Contains(row.TextSealed, []byte("222222")))
		}
	})
}

// scriptedSender answers each try with the next error of its script (nil:
// accepted) and records the keys it was sent.
type scriptedSender struct {
	answers []error
	keys    []string
}

func (s *scriptedSender) Send(_ context.Context, m sms.Outgoing) error {
	s.keys = append(s.keys, m.Key)
	if len(s.answers) == 0 {
		return nil
	}
	err := s.answers[0]
	s.answers = s.answers[1:]
	return err
}

func queueOne(t *testing.T, d *db.DB, courier *sms.Courier, phone string) int {
	t.Helper()
	var id int
	if err := d.InTx(context.Background(), func(tx *db.Tx) (err error) {
		id, err = courier.QueueRef(context.Background(), tx, phone, "case:z", sms.Reopened("ZH20260420000001"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestARetryableFailureKeepsTheMessageQueuedUntilTheWindowCloses(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	clk := clock.NewAdjustable()
	down := errors.New("gateway down")
	sender := &scriptedSender{answers: []error{down, down, down}}
	courier := courierTo(t, d, sender, clk)
	courier.SetPolicy(sms.Policy{Timeout: time.Second, RetryFor: time.Hour, BackoffMax: time.Minute})
	var failedFor []string
	courier.OnFailedForGood(func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, at time.Time) error {
		failedFor = append(failedFor, msg.Ref)
		return nil
	})
	id := queueOne(t, d, courier, "13800000003")
	if err := courier.Deliver(ctx, id); err == nil || errors.Is(err, sms.ErrGiveUp) {
		t.Fatalf("a try inside the window = %v, want the gateway error to retry", err)
	}
	if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusQueued || got.SendCount != 1 || got.LastError != "gateway down" {
		t.Fatalf("after a retryable failure: %s %d %q", got.Status, got.SendCount, got.LastError)
	}
	clk.Advance(59 * time.Minute)
	if err := courier.Deliver(ctx, id); errors.Is(err, sms.ErrGiveUp) {
		t.Fatal("gave up inside the window")
	}
	clk.Advance(time.Minute)
	if err := courier.Deliver(ctx, id); !errors.Is(err, sms.ErrGiveUp) {
		t.Fatalf("a failure past the window = %v, want ErrGiveUp", err)
	}
	got := d.Ent.SMSMessage.GetX(ctx, id)
	if got.Status != smsmessage.StatusFailed || got.SendCount != 3 || len(failedFor) != 1 || failedFor[0] != "case:z" {
		t.Fatalf("after the window: %s count %d, hook saw %v", got.Status, got.SendCount, failedFor)
	}
	// Every try carried the same key; a failed message is not tried again.
	if err := courier.Deliver(ctx, id); err != nil || len(sender.keys) != 3 || sender.keys[0] != sender.keys[2] || sender.keys[0] != got.DeliveryKey {
		t.Fatalf("keys %v (row %q), err %v", sender.keys, got.DeliveryKey, err)
	}
}

func TestARefusalFailsAtOnceAndAResendGetsItsOwnKeyAndTheSameText(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		sender := &scriptedSender{answers: []error{fmt.Errorf("answered 400: %w", sms.ErrRejected)}}
		courier := courierTo(t, d, sender, clock.Real{})
		id := queueOne(t, d, courier, "13800000004")
		if err := courier.Deliver(ctx, id); !errors.Is(err, sms.ErrGiveUp) {
			t.Fatalf("Deliver after a refusal = %v", err)
		}
		if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusFailed {
			t.Fatalf("status %s after a refusal", got.Status)
		}
		var again *ent.SMSMessage
		if err := d.InTx(ctx, func(tx *db.Tx) (err error) { again, err = courier.Requeue(ctx, tx, id); return err }); err != nil {
			t.Fatal(err)
		}
		if again.Status != smsmessage.StatusQueued || again.Resends != 1 || again.DeliveryKey != sender.keys[0]+"-r1" {
			t.Fatalf("requeued: %s resends %d key %q (first %q)", again.Status, again.Resends, again.DeliveryKey, sender.keys[0])
		}
		// A second resend of a message that is queued again is refused.
		if err := d.InTx(ctx, func(tx *db.Tx) error { _, err := courier.Requeue(ctx, tx, id); return err }); !errors.Is(err, sms.ErrNotFailed) {
			t.Fatalf("resend of a queued message = %v", err)
		}
		if err := courier.Deliver(ctx, id); err != nil {
			t.Fatal(err)
		}
		if got := d.Ent.SMSMessage.GetX(ctx, id); got.Status != smsmessage.StatusSent || len(sender.keys) != 2 || sender.keys[1] != again.DeliveryKey {
			t.Fatalf("after the resend: %s keys %v", got.Status, sender.keys)
		}
	})
}

func TestHTTPSenderSpeaksTheContract(t *testing.T) {
	type seen struct {
		key, id, phone, text string
	}
	var got []seen
	status := http.StatusOK
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		got = append(got, seen{r.Header.Get("Idempotency-Key"), body["id"], body["phone"], body["text"]})
		w.WriteHeader(status)
	}))
	defer gw.Close()
	send := func(code int) error {
		status = code
		return sms.HTTPSender{URL: gw.URL}.Send(context.Background(), sms.Outgoing{Key: "k-1", Phone: "13800000005", Text: "你好"})
	}
	if err := send(http.StatusAccepted); err != nil {
		t.Fatalf("202: %v", err)
	}
	if got[0] != (seen{"k-1", "k-1", "13800000005", "你好"}) {
		t.Fatalf("gateway saw %+v", got[0])
	}
	for _, code := range []int{429, 500, 502, 503} {
		if err := send(code); err == nil || errors.Is(err, sms.ErrRejected) {
			t.Errorf("%d = %v, want a retryable error", code, err)
		}
	}
	for _, code := range []int{400, 401, 403, 404, 422} {
		if err := send(code); !errors.Is(err, sms.ErrRejected) {
			t.Errorf("%d = %v, want ErrRejected", code, err)
		}
	}
	// A gateway that does not answer in time is worth another try.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := (sms.HTTPSender{URL: hang.URL}).Send(ctx, sms.Outgoing{Key: "k-2"}); err == nil || errors.Is(err, sms.ErrRejected) {
		t.Fatalf("timeout = %v, want a retryable error", err)
	}
	// A broken connection too, and its message does not leak the URL.
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	dead.Close()
	if err := (sms.HTTPSender{URL: dead.URL + "/?key=secret"}).Send(context.Background(), sms.Outgoing{Key: "k-3"}); err == nil ||
		errors.Is(err, sms.ErrRejected) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("refused connection = %v", err)
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	p := sms.Policy{BackoffMax: 10 * time.Minute}
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 10: 512 * time.Second, 11: 10 * time.Minute, 200: 10 * time.Minute} {
		if got := p.Backoff(attempt); got < base || got > base+base/10 {
			t.Errorf("Backoff(%d) = %v, want %v plus at most a tenth", attempt, got, base)
		}
	}
}

func TestPasswordTextIsErasedAfterSendAndTheHookRunsInTheSameTransaction(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		courier, outbox := outboxCourier(t, d)
		courier.EraseAfterSend(vocab.PurposePassword)
		var hookSaw time.Time
		courier.OnSent(vocab.PurposePassword, func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error {
			hookSaw = sentAt
			return tx.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("sent:" + msg.Ref).Exec(ctx)
		})
		var id int
		if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
			id, err = courier.QueueRef(ctx, tx, "13800000009", "case:x", sms.Password("tester01", "Abcd2345xy!", 4*time.Hour))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := courier.Deliver(ctx, id); err != nil {
			t.Fatal(err)
		}
		row := d.Ent.SMSMessage.GetX(ctx, id)
		text, err := sealKeys.Open(row.TextSealed)
		if err != nil {
			t.Fatalf("open the erased text: %v", err)
		}
		if strings.Contains(string(text), "Abcd2345xy!") || !strings.Contains(string(text), "内容已按规定清除") || row.Status != smsmessage.StatusSent || row.SentAt == nil {
			t.Fatalf("queue row after send: %q %s", text, row.Status)
		}
		if len(row.ParamsSealed) != 0 {
			t.Fatal("the password's parameters were kept after the send")
		}
		if hookSaw.IsZero() || hookSaw.Sub(*row.SentAt).Abs() > time.Millisecond || d.Ent.AuditEvent.Query().CountX(ctx) != 1 {
			t.Fatal("the after-send hook did not run with the send time")
		}
		// The phone got the password; delivering again sends nothing more.
		if err := courier.Deliver(ctx, id); err != nil {
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
		courier, _ := outboxCourier(t, d)
		hookFailed := errors.New("hook failed")
		courier.OnSent(vocab.PurposeReopened, func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error {
			// Written in the same transaction, then undone with it.
			if err := tx.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("sent:" + msg.Ref).Exec(ctx); err != nil {
				return err
			}
			return hookFailed
		})
		var id int
		if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
			id, err = courier.QueueRef(ctx, tx, "13800000010", "case:y", sms.Reopened("ZH20260420000002"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := courier.Deliver(ctx, id); !errors.Is(err, hookFailed) {
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

// TestAParameterOverItsCarrierBoundIsNotQueued: a carrier parameter of 35
// characters goes, 36 are refused with sms_param_too_long (no carrier would
// take the message) and nothing is stored; so is a 7-digit code.
func TestAParameterOverItsCarrierBoundIsNotQueued(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	courier, _ := outboxCourier(t, d)
	queue := func(c sms.Content) error {
		return d.InTx(ctx, func(tx *db.Tx) error {
			_, err := courier.Queue(ctx, tx, "13800000003", c)
			return err
		})
	}
	if err := queue(sms.Username(strings.Repeat("字", sms.MaxCarrierParamLen))); err != nil {
		t.Fatalf("%d characters: %v", sms.MaxCarrierParamLen, err)
	}
	for _, c := range []sms.Content{sms.Username(strings.Repeat("字", sms.MaxCarrierParamLen+1)),
		sms.Code(vocab.PurposeRecoveryCode, "1234567", 5*time.Minute), sms.Username("")} {
		err := queue(c)
		if e, ok := apperr.As(err); !ok || e.Code != "sms_param_too_long" {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	if n := d.Ent.SMSMessage.Query().CountX(ctx); n != 1 {
		t.Fatalf("%d messages stored, want the one that fits", n)
	}
}
