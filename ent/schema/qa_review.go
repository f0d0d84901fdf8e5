package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// QAReview is one decision drawn into the supervisors' quality-review queue:
// sampled at random (RD_QA_SAMPLE_PERCENT) or because the case carried a
// risk flag. A supervisor other than the decider agrees or disagrees.
type QAReview struct{ ent.Schema }

// Fields of QAReview.
func (QAReview) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("case_id", uuid.UUID{}),
		// The decision under review, copied so later changes to the case
		// (a reopening, a new decision) do not rewrite what was reviewed.
		field.Enum("outcome").Values("approve", "reject", "return"),
		field.Int("decided_by"),
		field.Time("decided_at"),
		field.String("region_code").MaxLen(12),
		// why is sampled (the random share) or flagged (a risk flag).
		field.Enum("why").Values("sampled", "flagged"),
		field.Enum("status").Values("open", "agreed", "disagreed").Default("open"),
		field.Int("reviewer_id").Optional().Nillable(),
		field.Text("comment").Default(""),
		// action is what a disagreement did: nothing more, the pending
		// password cancelled and the case reopened, or the case reopened.
		field.Enum("action").Values("none", "cancel_password", "reopen").Optional().Nillable(),
		field.Time("reviewed_at").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of QAReview.
func (QAReview) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("case", RecoveryCase.Type).Ref("qa_reviews").Field("case_id").Unique().Required(),
	}
}

// Indexes of QAReview: the queue reads open reviews oldest first; the
// dashboard counts reviewed ones by time.
func (QAReview) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "decided_at"),
		index.Fields("case_id"),
	}
}
