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
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"recoverydesk/ent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
)

// Sender delivers one text to one phone: the far end of the courier.
type Sender interface {
	Send(ctx context.Context, phone, text string) error
}

// OutboxSender delivers nothing outside the machine: a delivered message stays
// in the database, readable under /dev/sms. It is the default driver, for
// development and for intranet test installs without a gateway.
type OutboxSender struct{}

// Send accepts the message; the courier marks it sent.
func (OutboxSender) Send(context.Context, string, string) error { return nil }

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
		return fmt.Errorf("sms gateway: %w", err)
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

// Courier queues and delivers messages.
type Courier struct {
	keys   *secret.Keys
	sender Sender
	client *ent.Client
	clock  clock.Clock
	jobs   Inserter
}

// NewCourier builds a courier. jobs inserts the delivery jobs; client is the
// pool-level ent client the delivery job uses.
func NewCourier(keys *secret.Keys, sender Sender, client *ent.Client, clk clock.Clock, jobs Inserter) *Courier {
	return &Courier{keys: keys, sender: sender, client: client, clock: clk, jobs: jobs}
}

// Queue stores a sealed message and its delivery job in tx. Nothing is sent
// unless tx commits.
func (c *Courier) Queue(ctx context.Context, tx *db.Tx, phone, purpose, text string) (int, error) {
	msg, err := tx.Ent.SMSMessage.Create().
		SetPhone(phone).SetPurpose(purpose).SetTextSealed(c.keys.Seal([]byte(text))).
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
// is not sent again. lastTry marks the message failed when sending fails.
func (c *Courier) Deliver(ctx context.Context, id int, lastTry bool) error {
	msg, err := c.client.SMSMessage.Get(ctx, id)
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
		_ = c.client.SMSMessage.UpdateOneID(id).SetStatus(smsmessage.StatusFailed).SetLastError("cannot unseal").Exec(ctx)
		return fmt.Errorf("message %d: %w", id, ErrGiveUp)
	}
	sendErr := c.sender.Send(ctx, msg.Phone, string(text))
	upd := c.client.SMSMessage.UpdateOneID(id).AddSendCount(1)
	if sendErr != nil {
		upd.SetLastError(truncate(sendErr.Error(), 200))
		if lastTry {
			upd.SetStatus(smsmessage.StatusFailed)
		}
		if err := upd.Exec(ctx); err != nil {
			return errors.Join(sendErr, err)
		}
		return sendErr
	}
	return upd.SetStatus(smsmessage.StatusSent).SetSentAt(c.clock.Now()).Exec(ctx)
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

// Outbox lists delivered messages, newest first, optionally for one phone.
// Only dev mode exposes it.
func (c *Courier) Outbox(ctx context.Context, phone string, limit int) ([]Message, error) {
	q := c.client.SMSMessage.Query().Where(smsmessage.StatusEQ(smsmessage.StatusSent))
	if phone != "" {
		q = q.Where(smsmessage.Phone(phone))
	}
	rows, err := q.Order(ent.Desc(smsmessage.FieldCreatedAt), ent.Desc(smsmessage.FieldID)).Limit(limit).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(rows))
	for _, r := range rows {
		text, err := c.keys.Open(r.TextSealed)
		if err != nil {
			continue
		}
		out = append(out, Message{Phone: r.Phone, Text: string(text), CreatedAt: r.CreatedAt})
	}
	return out, nil
}
