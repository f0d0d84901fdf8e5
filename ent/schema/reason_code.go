package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// ReasonCode is one entry of the rejection and return reason catalog that
// reviewers pick from and applicants read in their SMS. Administrators edit
// the text and retire codes; a code is never deleted or renamed, because
// past decisions name it.
type ReasonCode struct{ ent.Schema }

// Mixin of ReasonCode.
func (ReasonCode) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of ReasonCode.
func (ReasonCode) Fields() []ent.Field {
	return []ent.Field{
		field.String("code").MaxLen(40).Unique().Immutable(),
		// MaxLen counts bytes: room for recovery.ReasonTextMaxLen (200)
		// characters of up to 4 bytes each, the rule recovery checks.
		field.String("text").MaxLen(800),
		field.Bool("active").Default(true),
		field.Int("position").Default(0),
	}
}
