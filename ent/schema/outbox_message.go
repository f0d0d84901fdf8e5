package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// OutboxMessage is a text message as the outbox driver "delivers" it: the
// stand-in for the applicant's phone in development and on intranet test
// installs (shown under /dev/sms). The courier's own queue row is erased
// after sending when it carried a password; this copy is what the phone got.
type OutboxMessage struct{ ent.Schema }

// Fields of OutboxMessage.
func (OutboxMessage) Fields() []ent.Field {
	return []ent.Field{
		// phone is sealed (AES-GCM under RD_SECRET_KEY); phone_hmac, its
		// keyed hash, is what finds a phone's rows.
		field.String("phone").MaxLen(96),
		field.String("phone_hmac").MaxLen(32).Default(""),
		field.Bytes("text_sealed").Sensitive(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Indexes of OutboxMessage.
func (OutboxMessage) Indexes() []ent.Index {
	return []ent.Index{index.Fields("phone_hmac", "created_at")}
}
