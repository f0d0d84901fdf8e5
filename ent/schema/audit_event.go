package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEvent is one entry of the audit log: who did what to which object,
// when, from where. It is append-only (a hook refuses every update and
// delete) and hash-chained: hash covers the entry and prev_hash.
type AuditEvent struct{ ent.Schema }

// Fields of AuditEvent.
func (AuditEvent) Fields() []ent.Field {
	return []ent.Field{
		// seq is the entry's position in the hash chain (1, 2, 3, …), given
		// under the chain lock; unique, so two appends can never share one.
		field.Int64("seq").Optional().Nillable().Unique().Immutable(),
		field.Time("at").Default(time.Now).Immutable(),
		// actor_kind is staff, account, applicant or system.
		field.String("actor_kind").MaxLen(16).Immutable(),
		field.String("actor").MaxLen(64).Immutable(),
		field.String("action").MaxLen(64).Immutable(),
		field.String("object_type").MaxLen(32).Default("").Immutable(),
		field.String("object_id").MaxLen(64).Default("").Immutable(),
		field.JSON("detail", map[string]any{}).Optional().Immutable(),
		field.String("ip").MaxLen(64).Default("").Immutable(),
		field.String("request_id").MaxLen(64).Default("").Immutable(),
		field.String("prev_hash").MaxLen(64).Default("").Immutable(),
		// hash is not marked Immutable so that the append-only hook, not the
		// absence of a setter, is what stops tampering (and is tested).
		field.String("hash").MaxLen(64).Default(""),
	}
}

// Indexes of AuditEvent.
func (AuditEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("at"),
		index.Fields("actor", "at"),
		index.Fields("object_type", "object_id"),
	}
}

// Hooks of AuditEvent.
func (AuditEvent) Hooks() []ent.Hook {
	return []ent.Hook{appendOnly()}
}
