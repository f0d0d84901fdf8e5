// Package sms is the courier of text messages: a message is queued in the
// same transaction as the change that causes it (a sealed row plus a River
// job), and a job delivers it afterwards through the configured Sender. No
// request and no hook ever talks to the gateway directly, so a rolled-back
// change never sends a message and a slow gateway never slows a request.
package sms

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"recoverydesk/ent"
	"recoverydesk/ent/outboxmessage"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/vocab"
)

// Outgoing is one message as a gateway receives it.
type Outgoing struct {
	// Key is the message's stable id: the same on every try, so a gateway
	// that deduplicates by it delivers the message once.
	Key     string
	Phone   string
	Purpose vocab.Purpose
	// Text is the message rendered (Render): what the outbox and http
	// drivers send.
	Text string
	// Params are the carrier template's parameters in order
	// (CarrierParams): what the aliyun and tencent drivers send. Nil for a
	// message queued before messages had parameters.
	Params []Param
}

// Sender delivers one message to one phone: the far end of the courier. An
// error wrapping ErrRejected is the gateway's final refusal; any other error
// (a timeout, a broken connection, a busy gateway) is worth another try.
type Sender interface {
	Send(ctx context.Context, m Outgoing) error
}

// ErrRejected marks a gateway's final refusal of a message (a bad number, a
// malformed request): trying the same message again cannot help.
var ErrRejected = errors.New("sms gateway refused the message")

// Outbox is the default driver: nothing leaves the machine; each message is
// kept (sealed) as the phone would have received it, readable under
// /dev/sms. It serves development and intranet test installs.
type Outbox struct {
	client *ent.Client
	keys   *secret.Keys
	clock  clock.Clock
}

// NewOutbox returns the outbox driver.
func NewOutbox(client *ent.Client, keys *secret.Keys, clk clock.Clock) *Outbox {
	return &Outbox{client: client, keys: keys, clock: clk}
}

// Send keeps the message as delivered.
func (o *Outbox) Send(ctx context.Context, m Outgoing) error {
	return o.client.OutboxMessage.Create().SetPhone(m.Phone).SetTextSealed(o.keys.Seal([]byte(m.Text))).
		SetCreatedAt(o.clock.Now()).Exec(ctx)
}

// Messages lists what the outbox delivered, newest first, optionally for one
// phone. Only dev mode exposes it.
func (o *Outbox) Messages(ctx context.Context, phone string, limit int) ([]Message, error) {
	q := o.client.OutboxMessage.Query()
	if phone != "" {
		q = q.Where(outboxmessage.Phone(phone))
	}
	rows, err := q.Order(ent.Desc(outboxmessage.FieldCreatedAt), ent.Desc(outboxmessage.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(rows))
	for _, r := range rows {
		text, err := o.keys.Open(r.TextSealed)
		if err != nil {
			continue
		}
		out = append(out, Message{Phone: r.Phone, Text: string(text), CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// HTTPSender posts {"id","phone","text"} as JSON to a generic SMS gateway
// with the header Idempotency-Key: id (CONTRACT §7). A 2xx answer is
// acceptance; 429, 5xx, a timeout or a broken connection are worth another
// try; any other answer is the gateway's final refusal (ErrRejected).
type HTTPSender struct {
	URL string
	// Client makes the call; nil uses a client without a timeout of its
	// own, because the courier bounds every call with RD_SMS_TIMEOUT.
	Client *http.Client
}

// Send posts the message to the gateway.
func (h HTTPSender) Send(ctx context.Context, m Outgoing) error {
	body, _ := json.Marshal(map[string]string{"id": m.Key, "phone": m.Phone, "text": m.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms gateway request: %w", ErrRejected)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.Key)
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// Keep the cause, not the *url.Error around it: its text carries the
		// gateway URL, which may hold a key, and last_error is shown to staff.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("sms gateway unreachable: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch code := resp.StatusCode; {
	case code/100 == 2:
		return nil
	case code == http.StatusTooManyRequests || code/100 == 5:
		return fmt.Errorf("sms gateway answered %d", code)
	case code/100 == 4:
		return fmt.Errorf("sms gateway answered %d: %w", code, ErrRejected)
	default:
		return fmt.Errorf("sms gateway answered %d", code)
	}
}

// Inserter is the part of a River client the courier needs: inserting the
// delivery job inside the caller's transaction.
type Inserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// DeliverArgs is the River job that delivers one queued message.
type DeliverArgs struct {
	MessageID int `json:"message_id"`
}

// Kind names the job in River's table.
func (DeliverArgs) Kind() string { return "sms_deliver" }

// InsertOpts keeps SMS jobs on their own queue. The number of tries is not
// what ends a delivery (the retry window is, see Policy); MaxAttempts is
// only a bound no real window reaches, so River never discards a job whose
// message is still queued.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}

// Queue is the River queue of SMS deliveries.
const Queue = "sms"

// MaxAttempts is far above the tries of a 24-hour window at a 10-minute cap
// (about 160), and within River's smallint column.
const MaxAttempts = 10000

// Policy is how the courier talks to the gateway (CONTRACT §7).
type Policy struct {
	// Timeout bounds one gateway call (RD_SMS_TIMEOUT).
	Timeout time.Duration
	// RetryFor is how long a message is retried before it fails for good
	// (RD_SMS_RETRY_FOR), counted from when it was queued.
	RetryFor time.Duration
	// BackoffMax caps the wait between two tries; the wait doubles from one
	// second up to it.
	BackoffMax time.Duration
}

// DefaultPolicy is the contract's defaults.
var DefaultPolicy = Policy{Timeout: 30 * time.Second, RetryFor: 24 * time.Hour, BackoffMax: 10 * time.Minute}

// Backoff is the wait before try attempt+1 after attempt failed: one second,
// doubling, capped at BackoffMax, with up to a tenth added at random so that
// the messages of one outage do not all return to the gateway at once.
func (p Policy) Backoff(attempt int) time.Duration {
	d := p.BackoffMax
	if attempt < 30 {
		d = min(time.Second<<max(attempt-1, 0), p.BackoffMax)
	}
	if d > 0 {
		d += rand.N(d/10 + 1)
	}
	return d
}

// AfterSend runs in the transaction that marks a message sent, for the
// change that must start only once the message went out (a reset password's
// 4-hour clock).
type AfterSend func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error

// OnFailed runs in the transaction that marks a message failed for good, so
// that whatever the message was about records it (the case history).
type OnFailed func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, at time.Time) error

// Courier queues and delivers messages.
type Courier struct {
	keys   *secret.Keys
	sender Sender
	db     *db.DB
	clock  clock.Clock
	jobs   Inserter
	policy Policy
	after  map[vocab.Purpose]AfterSend
	failed OnFailed
	// erase lists purposes whose text is erased from the queue once sent.
	erase map[vocab.Purpose]bool
	// observe counts what became of each message (business metrics).
	observe func(purpose vocab.Purpose, accepted bool)
}

// NewCourier builds a courier with DefaultPolicy. jobs inserts the delivery
// jobs.
func NewCourier(keys *secret.Keys, sender Sender, d *db.DB, clk clock.Clock, jobs Inserter) *Courier {
	return &Courier{keys: keys, sender: sender, db: d, clock: clk, jobs: jobs, policy: DefaultPolicy,
		after: map[vocab.Purpose]AfterSend{}, erase: map[vocab.Purpose]bool{}}
}

// Observe registers fn to be told, once per message, whether the gateway
// accepted it or it failed for good (the SMS counters of /metrics).
func (c *Courier) Observe(fn func(purpose vocab.Purpose, accepted bool)) { c.observe = fn }

// SetPolicy replaces the delivery policy. Call it before the workers start.
func (c *Courier) SetPolicy(p Policy) { c.policy = p }

// OnSent registers fn to run when a message of purpose has been handed to
// the gateway. Register before the workers start.
func (c *Courier) OnSent(purpose vocab.Purpose, fn AfterSend) { c.after[purpose] = fn }

// OnFailedForGood registers fn to run when any message fails for good.
func (c *Courier) OnFailedForGood(fn OnFailed) { c.failed = fn }

// EraseAfterSend makes the courier replace the text of purpose's messages
// once sent, so a password exists in clear nowhere after it went out.
func (c *Courier) EraseAfterSend(purpose vocab.Purpose) { c.erase[purpose] = true }

// erasedText replaces a sent message's text.
const erasedText = "（短信已发送，内容已按规定清除）"

// Queue stores a sealed message and its delivery job in tx. Nothing is sent
// unless tx commits.
func (c *Courier) Queue(ctx context.Context, tx *db.Tx, phone string, content Content) (int, error) {
	return c.QueueRef(ctx, tx, phone, "", content)
}

// QueueRef is Queue with a reference to what the message is about
// ("case:<id>"), so its delivery state can be shown there. The purpose and
// parameters are stored sealed beside the rendered text, so a carrier
// driver sends the template's parameters and a resend sends the same ones.
func (c *Courier) QueueRef(ctx context.Context, tx *db.Tx, phone, ref string, content Content) (int, error) {
	if err := check(content); err != nil {
		return 0, err
	}
	now := c.clock.Now()
	msg, err := tx.Ent.SMSMessage.Create().
		SetPhone(phone).SetPurpose(string(content.Purpose)).SetRef(ref).SetTextSealed(c.keys.Seal([]byte(Render(content)))).
		SetParamsSealed(c.keys.Seal(sealParams(content))).
		SetDeliveryKey(uuid.NewString()).SetCreatedAt(now).SetQueuedAt(now).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue sms: %w", err)
	}
	if _, err := c.jobs.InsertTx(ctx, tx.SQL, DeliverArgs{MessageID: msg.ID}, nil); err != nil {
		return 0, fmt.Errorf("queue sms job: %w", err)
	}
	return msg.ID, nil
}

// MaxTextLen is the most characters of one message: a long SMS (长短信) of
// a few parts that every gateway and handset joins into one. Callers that
// build a text from user choices check it first with a message of their own.
const MaxTextLen = 500

// ErrNotFailed is a resend of a message that has not failed for good.
var ErrNotFailed = errors.New("sms message has not failed for good")

// Requeue sends a message that failed for good once more, with the same
// text, in tx (a supervisor's resend). It gets a delivery key of its own,
// derived from the first, because the gateway that refused the first may
// remember its answer to that key; its retry window starts anew.
func (c *Courier) Requeue(ctx context.Context, tx *db.Tx, id int) (*ent.SMSMessage, error) {
	msg, err := tx.Ent.SMSMessage.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("requeue sms %d: %w", id, err)
	}
	if msg.Status != smsmessage.StatusFailed {
		return nil, fmt.Errorf("requeue sms %d: %w", id, ErrNotFailed)
	}
	key := fmt.Sprintf("%s-r%d", baseKey(msg), msg.Resends+1)
	// The status guard makes two simultaneous resends queue one delivery.
	n, err := tx.Ent.SMSMessage.Update().Where(smsmessage.ID(id), smsmessage.StatusEQ(smsmessage.StatusFailed)).
		SetStatus(smsmessage.StatusQueued).SetDeliveryKey(key).SetQueuedAt(c.clock.Now()).AddResends(1).
		SetLastError("").Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("requeue sms %d: %w", id, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("requeue sms %d: %w", id, ErrNotFailed)
	}
	if _, err := c.jobs.InsertTx(ctx, tx.SQL, DeliverArgs{MessageID: id}, nil); err != nil {
		return nil, fmt.Errorf("requeue sms job: %w", err)
	}
	return tx.Ent.SMSMessage.Get(ctx, id)
}

// baseKey is the delivery key of a message's first send; rows queued before
// keys existed fall back to their id.
func baseKey(m *ent.SMSMessage) string {
	if m.DeliveryKey == "" {
		return fmt.Sprintf("rd-sms-%d", m.ID)
	}
	base, _, _ := strings.Cut(m.DeliveryKey, "-r") // a UUID has no "r"
	return base
}

// deliveryKey is the key of the current send of m.
func deliveryKey(m *ent.SMSMessage) string {
	if m.DeliveryKey == "" {
		return baseKey(m)
	}
	return m.DeliveryKey
}

// ErrGiveUp marks a message that will not be retried.
var ErrGiveUp = errors.New("sms delivery abandoned")

// Deliver makes one try at a queued message. It is idempotent: a message
// already sent or failed is not sent again, and every try carries the same
// delivery key, so a gateway that accepted a try we never heard back from
// (a timeout, a crash before we marked it) delivers it once. A refusal, or a
// failure past the retry window, fails the message for good (ErrGiveUp);
// another failure is returned for River to try again after Backoff.
func (c *Courier) Deliver(ctx context.Context, id int) error {
	msg, err := c.db.Ent.SMSMessage.Get(ctx, id)
	if ent.IsNotFound(err) {
		return fmt.Errorf("message %d: %w", id, ErrGiveUp)
	}
	if err != nil {
		return err
	}
	if msg.Status != smsmessage.StatusQueued {
		return nil
	}
	out, err := c.outgoing(msg)
	if err != nil {
		return c.fail(ctx, msg, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, c.policy.Timeout)
	sendErr := c.sender.Send(callCtx, out)
	cancel()
	if sendErr == nil {
		return c.markSent(ctx, msg)
	}
	if errors.Is(sendErr, ErrRejected) || !c.clock.Now().Before(QueuedAt(msg).Add(c.policy.RetryFor)) {
		return c.fail(ctx, msg, sendErr)
	}
	err = c.db.Ent.SMSMessage.UpdateOneID(id).Where(smsmessage.StatusEQ(smsmessage.StatusQueued)).
		AddSendCount(1).SetLastError(truncate(sendErr.Error(), 200)).Exec(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return errors.Join(sendErr, err)
	}
	return sendErr
}

// outgoing unseals a queued message for the gateway.
func (c *Courier) outgoing(msg *ent.SMSMessage) (Outgoing, error) {
	text, err := c.keys.Open(msg.TextSealed)
	if err != nil {
		return Outgoing{}, errors.New("cannot unseal")
	}
	out := Outgoing{Key: deliveryKey(msg), Phone: msg.Phone, Purpose: vocab.Purpose(msg.Purpose), Text: string(text)}
	if len(msg.ParamsSealed) > 0 {
		raw, err := c.keys.Open(msg.ParamsSealed)
		if err != nil {
			return Outgoing{}, errors.New("cannot unseal")
		}
		content := Content{Purpose: out.Purpose}
		if err := json.Unmarshal(raw, &content.Params); err != nil {
			return Outgoing{}, errors.New("unreadable parameters")
		}
		out.Params = CarrierParams(content)
	}
	return out, nil
}

// markSent records the gateway's acceptance and runs the purpose's hook in
// the same transaction. The write is guarded by the status, so a message two
// workers raced for is marked, and its hook run, once.
func (c *Courier) markSent(ctx context.Context, msg *ent.SMSMessage) error {
	now := c.clock.Now()
	marked := false
	err := c.db.InTx(ctx, func(tx *db.Tx) error {
		upd := tx.Ent.SMSMessage.Update().Where(smsmessage.ID(msg.ID), smsmessage.StatusEQ(smsmessage.StatusQueued)).
			AddSendCount(1).SetStatus(smsmessage.StatusSent).SetSentAt(now).SetLastError("")
		if c.erase[vocab.Purpose(msg.Purpose)] {
			upd.SetTextSealed(c.keys.Seal([]byte(erasedText))).ClearParamsSealed()
		}
		n, err := upd.Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		marked = true
		if fn := c.after[vocab.Purpose(msg.Purpose)]; fn != nil {
			return fn(ctx, tx, msg, now)
		}
		return nil
	})
	if err == nil && marked && c.observe != nil {
		c.observe(vocab.Purpose(msg.Purpose), true)
	}
	return err
}

// fail marks msg failed for good with cause, and tells the registered
// OnFailed in the same transaction.
func (c *Courier) fail(ctx context.Context, msg *ent.SMSMessage, cause error) error {
	now := c.clock.Now()
	marked := false
	err := c.db.InTx(ctx, func(tx *db.Tx) error {
		n, err := tx.Ent.SMSMessage.Update().Where(smsmessage.ID(msg.ID), smsmessage.StatusEQ(smsmessage.StatusQueued)).
			AddSendCount(1).SetStatus(smsmessage.StatusFailed).SetLastError(truncate(cause.Error(), 200)).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		marked = true
		if c.failed == nil {
			return nil
		}
		return c.failed(ctx, tx, msg, now)
	})
	if err != nil {
		return errors.Join(cause, err)
	}
	if marked && c.observe != nil {
		c.observe(vocab.Purpose(msg.Purpose), false)
	}
	return fmt.Errorf("message %d: %w: %w", msg.ID, ErrGiveUp, cause)
}

// QueuedAt is when a message's current send was queued: it starts the
// retry window.
func QueuedAt(m *ent.SMSMessage) time.Time {
	if m.QueuedAt != nil {
		return *m.QueuedAt
	}
	return m.CreatedAt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Message is a delivered message as the dev outbox shows it.
type Message struct {
	Phone     string    `json:"phone"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}
