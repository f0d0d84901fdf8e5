package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// LoginThrottle counts failed console sign-ins for a typed username that is
// no staff user's, under the same 5-strike lockout as a real one, so the
// sign-in form answers an unknown name in the very words it uses for a
// known one and cannot be used to find out who is staff.
type LoginThrottle struct{ ent.Schema }

// Fields of LoginThrottle.
func (LoginThrottle) Fields() []ent.Field {
	return []ent.Field{
		// key is the keyed hash (db.Lookups) of the normalised typed
		// username, which may be a number typed into the wrong field.
		field.String("key").MaxLen(64).Unique(),
		field.Int("failures").Default(0),
		field.Time("locked_until").Optional().Nillable(),
		field.Time("updated_at"),
	}
}
