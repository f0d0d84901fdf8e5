package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// KVEntry backs server-side sessions and CSRF tokens (a fiber.Storage on the
// database) and rate-limit counters, so several instances share them.
type KVEntry struct{ ent.Schema }

// Annotations of KVEntry.
func (KVEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: "kv_entries"}}
}

// Fields of KVEntry.
func (KVEntry) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").MaxLen(200).Unique(),
		field.Bytes("value"),
		// expires_at is Unix seconds; 0 means no expiry.
		field.Int64("expires_at").Default(0),
		// hits is a rate-limit counter's count in its window, changed only
		// by one atomic upsert (kvstore.Counters), never read-modify-write.
		field.Int("hits").Default(0),
	}
}

// Indexes of KVEntry.
func (KVEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}
