package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// CaseEvent is one typed entry in a case's history (submitted, claimed,
// decided, note, …) with the values before and after.
type CaseEvent struct{ ent.Schema }

// Fields of CaseEvent.
func (CaseEvent) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("case_id", uuid.UUID{}),
		field.String("type").MaxLen(40),
		// actor is "applicant", "system" or "staff:<username>".
		field.String("actor").MaxLen(64),
		field.JSON("before", map[string]any{}).Optional(),
		field.JSON("after", map[string]any{}).Optional(),
		field.Text("note").Default(""),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of CaseEvent.
func (CaseEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("case", RecoveryCase.Type).Ref("events").Field("case_id").Unique().Required(),
	}
}

// Indexes of CaseEvent.
func (CaseEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("case_id", "created_at"),
		// The dashboard counts the decisions ("decided") of a date range.
		index.Fields("type", "created_at"),
	}
}
