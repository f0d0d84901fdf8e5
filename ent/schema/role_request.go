package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// RoleRequest is a grant of a role that sees evidence or decides cases
// (reviewer, supervisor), asked for by one administrator and not in force
// until a second administrator confirms it (三员分立). Confirming moves it
// into the Casbin rules and deletes this row in one transaction.
type RoleRequest struct{ ent.Schema }

// Fields of RoleRequest.
func (RoleRequest) Fields() []ent.Field {
	return []ent.Field{
		// subject is the staff user's username_key.
		field.String("subject").MaxLen(20),
		field.String("role").MaxLen(20),
		field.String("region").MaxLen(12),
		// requested_by is the requesting administrator's username_key; they
		// may not confirm it.
		field.String("requested_by").MaxLen(20),
		field.Time("created_at").Immutable(),
	}
}

// Indexes of RoleRequest.
func (RoleRequest) Indexes() []ent.Index {
	return []ent.Index{index.Fields("subject", "role", "region").Unique()}
}
