package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// StaffUser is a reviewer, supervisor or administrator of the console. Roles
// and their regions live in Casbin rules, not here.
type StaffUser struct{ ent.Schema }

// Mixin of StaffUser.
func (StaffUser) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of StaffUser.
func (StaffUser) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").MaxLen(20),
		field.String("username_key").MaxLen(20).Unique(),
		field.String("name").MaxLen(50),
		field.String("password_hash").Sensitive(),
		// totp_secret is sealed with RD_SECRET_KEY.
		field.Bytes("totp_secret").Optional().Sensitive(),
		field.Bool("totp_required").Default(false),
		field.Bool("disabled").Default(false),
		field.Int("failed_logins").Default(0),
		field.Time("locked_until").Optional().Nillable(),
		field.Time("last_login_at").Optional().Nillable(),
	}
}
