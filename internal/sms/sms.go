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
	"net/http"
	"net/url"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"recoverydesk/ent"
	"recoverydesk/ent/outboxmessage"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
)

// Sender delivers one text to one phone: the far end of the courier.
type Sender interface {
	Send(ctx context.Context, phone, text string) error
}

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
func (o *Outbox) Send(ctx context.Context, phone, text string) error {
	return o.client.OutboxMessage.Create().SetPhone(phone).SetTextSealed(o.keys.Seal([]byte(text))).
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

// HTTPSender posts {"phone","text"} as JSON to a generic SMS gateway and
// treats any 2xx answer as accepted.
type HTTPSender struct {
	URL    string
	Client *http.Client
}

// Send posts the message to the gateway.
func (h HTTPSender) Send(ctx context.Context, phone, text string) error {
	body, _ := json.Marshal(map[string]string{"phone": phone, "text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
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
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sms gateway answered %d", resp.StatusCode)
	}
	return nil
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

// InsertOpts keeps SMS jobs on their own queue with a bounded number of tries.
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: MaxAttempts}
}

// Queue is the River queue of SMS deliveries.
const Queue = "sms"

// MaxAttempts bounds the delivery tries of one message before it is marked failed.
const MaxAttempts = 5

// AfterSend runs in the transaction that marks a message sent, for the
// change that must start only once the message went out (a reset password's
// 4-hour clock).
type AfterSend func(ctx context.Context, tx *db.Tx, msg *ent.SMSMessage, sentAt time.Time) error

// Courier queues and delivers messages.
type Courier struct {
	keys   *secret.Keys
	sender Sender
	db     *db.DB
	clock  clock.Clock
	jobs   Inserter
	after  map[string]AfterSend
	// erase lists purposes whose text is erased from the queue once sent.
	erase map[string]bool
}

// NewCourier builds a courier. jobs inserts the delivery jobs.
func NewCourier(keys *secret.Keys, sender Sender, d *db.DB, clk clock.Clock, jobs Inserter) *Courier {
	return &Courier{keys: keys, sender: sender, db: d, clock: clk, jobs: jobs,
		after: map[string]AfterSend{}, erase: map[string]bool{}}
}

// OnSent registers fn to run when a message of purpose has been handed to
// the gateway. Register before the workers start.
func (c *Courier) OnSent(purpose string, fn AfterSend) { c.after[purpose] = fn }

// EraseAfterSend makes the courier replace the text of purpose's messages
// once sent, so a password exists in clear nowhere after it went out.
func (c *Courier) EraseAfterSend(purpose string) { c.erase[purpose] = true }

// erasedText replaces a sent message's text.
const erasedText = "（短信已发送，内容已按规定清除）"

// Queue stores a sealed message and its delivery job in tx. Nothing is sent
// unless tx commits.
func (c *Courier) Queue(ctx context.Context, tx *db.Tx, phone, purpose, text string) (int, error) {
	return c.QueueRef(ctx, tx, phone, purpose, "", text)
}

// QueueRef is Queue with a reference to what the message is about
// ("case:<id>"), so its delivery state can be shown there.
func (c *Courier) QueueRef(ctx context.Context, tx *db.Tx, phone, purpose, ref, text string) (int, error) {
	msg, err := tx.Ent.SMSMessage.Create().
		SetPhone(phone).SetPurpose(purpose).SetRef(ref).SetTextSealed(c.keys.Seal([]byte(text))).
		SetCreatedAt(c.clock.Now()).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue sms: %w", err)
	}
	if _, err := c.jobs.InsertTx(ctx, tx.SQL, DeliverArgs{MessageID: msg.ID}, nil); err != nil {
		return 0, fmt.Errorf("queue sms job: %w", err)
	}
	return msg.ID, nil
}

// ErrGiveUp marks a message that will not be retried.
var ErrGiveUp = errors.New("sms delivery abandoned")

// Deliver sends one queued message. It is idempotent: a message already sent
// is not sent again, and a retry resends the same text. lastTry marks the
// message failed when sending fails.
func (c *Courier) Deliver(ctx context.Context, id int, lastTry bool) error {
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
	text, err := c.keys.Open(msg.TextSealed)
	if err != nil {
		_ = c.db.Ent.SMSMessage.UpdateOneID(id).SetStatus(smsmessage.StatusFailed).SetLastError("cannot unseal").Exec(ctx)
		return fmt.Errorf("message %d: %w", id, ErrGiveUp)
	}
	if sendErr := c.sender.Send(ctx, msg.Phone, string(text)); sendErr != nil {
		upd := c.db.Ent.SMSMessage.UpdateOneID(id).AddSendCount(1).SetLastError(truncate(sendErr.Error(), 200))
		if lastTry {
			upd.SetStatus(smsmessage.StatusFailed)
		}
		if err := upd.Exec(ctx); err != nil {
			return errors.Join(sendErr, err)
		}
		return sendErr
	}
	now := c.clock.Now()
	return c.db.InTx(ctx, func(tx *db.Tx) error {
		upd := tx.Ent.SMSMessage.UpdateOneID(id).AddSendCount(1).SetStatus(smsmessage.StatusSent).SetSentAt(now).SetLastError("")
		if c.erase[msg.Purpose] {
			upd.SetTextSealed(c.keys.Seal([]byte(erasedText)))
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		if fn := c.after[msg.Purpose]; fn != nil {
			return fn(ctx, tx, msg, now)
		}
		return nil
	})
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
