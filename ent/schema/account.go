package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Account is an applicant's account in the unified authentication system: a
// person (自然人) or a unit (单位). Its password is what the recovery workflow
// resets.
type Account struct{ ent.Schema }

// Mixin of Account.
func (Account) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("person", "unit"),
		field.String("username").MaxLen(20),
		// username_key is the lower-cased username: usernames are unique
		// case-insensitively, on every database.
		field.String("username_key").MaxLen(20).Unique(),
		field.String("password_hash").Sensitive(),
		// A pending password set by an approval becomes the password at
		// pending_effective_at (4 hours after its SMS).
		field.String("pending_password_hash").Optional().Sensitive(),
		field.Time("pending_effective_at").Optional().Nillable(),
		field.Int("failed_logins").Default(0),
		field.Time("locked_until").Optional().Nillable(),
		// name is the person's real name or the unit's full name.
		field.String("name").MaxLen(200),
		// cert_type is id_card for persons, uscc or org_code for units;
		// cert_number is normalised (upper case, no '-'). A person's ID
		// number is stored sealed (AES-GCM under RD_SECRET_KEY, see
		// internal/db/personal.go); a unit's code is public and stays clear.
		field.String("cert_type").MaxLen(16),
		field.String("cert_number").MaxLen(96),
		// cert_hmac is the keyed hash of cert_number, whatever the kind: the
		// column that finds an account by its number and keeps numbers
		// unique. NULL only on rows an older build wrote, until `migrate`
		// seals them.
		field.String("cert_hmac").MaxLen(32).Optional().Nillable(),
		field.String("region_code").MaxLen(12).Default("44"),
		// phone is sealed like an ID number; phone_hmac finds it.
		field.String("phone").MaxLen(96),
		field.String("phone_hmac").MaxLen(32).Default(""),
		field.Bool("verified").Default(false),
		field.Time("verified_at").Optional().Nillable(),
		field.Time("last_login_at").Optional().Nillable(),
		field.Time("password_changed_at").Optional().Nillable(),
	}
}

// Edges of Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{
		// A unit account is registered by an operator's personal account.
		edge.To("units", Account.Type).From("operator").Unique(),
		edge.To("cases", RecoveryCase.Type),
	}
}

// Indexes of Account.
func (Account) Indexes() []ent.Index {
	return []ent.Index{
		// One account per certificate: the race of two registrations of the
		// same number is settled by this index.
		index.Fields("cert_type", "cert_hmac").Unique(),
		index.Fields("phone_hmac"),
	}
}
