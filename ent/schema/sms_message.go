package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SMSMessage is one text message in the courier: queued in the same
// transaction as the change that causes it, then delivered by a job. The
// text is sealed with RD_SECRET_KEY because it can hold a code or a password.
type SMSMessage struct{ ent.Schema }

// Fields of SMSMessage.
func (SMSMessage) Fields() []ent.Field {
	return []ent.Field{
		field.String("phone").MaxLen(11),
		field.String("purpose").MaxLen(32),
		// ref names what the message is about ("case:<uuid>"), so the case
		// page can show a failing delivery.
		field.String("ref").MaxLen(64).Default(""),
		field.Bytes("text_sealed").Sensitive(),
		// params_sealed is the message's named parameters as JSON, sealed
		// like the text (a password is one): a carrier driver sends them to
		// the purpose's approved template, and a resend sends the same.
		// Empty for rows queued before parameters were stored, and erased
		// with the text once a password went out.
		field.Bytes("params_sealed").Optional().Sensitive(),
		field.Enum("status").Values("queued", "sent", "failed").Default("queued"),
		field.Int("send_count").Default(0),
		// delivery_key is the message's stable id at the gateway: sent as
		// Idempotency-Key on every try, so a gateway that deduplicates
		// delivers it once however often a timeout makes us retry. A
		// supervisor's resend of a failed message gets a key of its own.
		field.String("delivery_key").MaxLen(64).Optional().Unique(),
		// queued_at starts the retry window (RD_SMS_RETRY_FOR): the message's
		// creation, or a supervisor's resend.
		field.Time("queued_at").Optional().Nillable(),
		field.Int("resends").Default(0),
		field.String("last_error").MaxLen(200).Default(""),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("sent_at").Optional().Nillable(),
	}
}

// Indexes of SMSMessage.
func (SMSMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("phone", "created_at"), index.Fields("status"), index.Fields("ref")}
}
