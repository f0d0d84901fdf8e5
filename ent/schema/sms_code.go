package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SMSCode is one verification code sent to a phone for a purpose. Only an
// HMAC of the code is stored, so a database dump reveals no live code.
type SMSCode struct{ ent.Schema }

// Fields of SMSCode.
func (SMSCode) Fields() []ent.Field {
	return []ent.Field{
		// phone is sealed (AES-GCM under RD_SECRET_KEY); phone_hmac, its
		// keyed hash, is what finds a phone's rows.
		field.String("phone").MaxLen(96),
		field.String("phone_hmac").MaxLen(32).Default(""),
		// purpose scopes a code: "register", or "recovery:<case id>" so a code
		// sent for one case cannot verify another.
		field.String("purpose").MaxLen(64),
		field.Bytes("code_hash").Sensitive(),
		field.Int("attempts").Default(0),
		field.Time("created_at").Immutable(),
		field.Time("expires_at"),
		field.Time("consumed_at").Optional().Nillable(),
	}
}

// Indexes of SMSCode.
func (SMSCode) Indexes() []ent.Index {
	return []ent.Index{index.Fields("phone_hmac", "purpose", "created_at"), index.Fields("phone_hmac", "created_at")}
}
