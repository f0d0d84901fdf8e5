package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// CasbinRule stores the Casbin rules that change at run time: role
// assignments of staff with their region scope (g, staff, role, region).
// Role permissions stay in policies/policy.csv under version control.
type CasbinRule struct{ ent.Schema }

// Fields of CasbinRule.
func (CasbinRule) Fields() []ent.Field {
	return []ent.Field{
		field.String("ptype").MaxLen(8),
		field.String("v0").MaxLen(100).Default(""),
		field.String("v1").MaxLen(100).Default(""),
		field.String("v2").MaxLen(100).Default(""),
		field.String("v3").MaxLen(100).Default(""),
		field.String("v4").MaxLen(100).Default(""),
		field.String("v5").MaxLen(100).Default(""),
	}
}

// Indexes of CasbinRule.
func (CasbinRule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("ptype", "v0", "v1", "v2", "v3", "v4", "v5").Unique()}
}
