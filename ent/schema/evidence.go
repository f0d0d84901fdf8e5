package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
	"github.com/google/uuid"
)

// Evidence is one uploaded image of a case; the bytes live in MinIO under
// object_key. A row without destroyed_at exists exactly when its object
// exists; once the retention purge destroys the object, the row stays with
// destroyed_at set (kind, size and both hashes still serve duplicate
// detection and the case's history).
type Evidence struct{ ent.Schema }

// Mixin of Evidence.
func (Evidence) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Evidence.
func (Evidence) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("case_id", uuid.UUID{}),
		field.Enum("kind").Values("id_front", "id_handheld", "unit_license", "authorization_letter"),
		field.String("object_key").MaxLen(200).Unique(),
		field.String("sha256").MaxLen(64),
		// phash is a perceptual hash for near-duplicate detection.
		field.Int64("phash").Optional(), // the 64-bit hash bit-cast: database/sql refuses uint64 with the high bit set
		// phash_b0 … phash_b6 are the hash's bands (imagecheck.Bands), set
		// from phash by the phashBands hook and indexed with the kind: the
		// near-duplicate search looks candidates up by band equality.
		field.Int("phash_b0").Optional().Nillable(),
		field.Int("phash_b1").Optional().Nillable(),
		field.Int("phash_b2").Optional().Nillable(),
		field.Int("phash_b3").Optional().Nillable(),
		field.Int("phash_b4").Optional().Nillable(),
		field.Int("phash_b5").Optional().Nillable(),
		field.Int("phash_b6").Optional().Nillable(),
		field.Int64("size"),
		field.Int("width"),
		field.Int("height"),
		field.String("content_type").MaxLen(32),
		// destroyed_at is when the retention purge destroyed the object
		// (RD_EVIDENCE_RETENTION after the final decision).
		field.Time("destroyed_at").Optional().Nillable(),
	}
}

// Edges of Evidence.
func (Evidence) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("case", RecoveryCase.Type).Ref("evidence").Field("case_id").Unique().Required(),
	}
}

// Indexes of Evidence: one image per kind per case; duplicate search by
// hash; and the near-duplicate search, one index per band of the perceptual
// hash with the kind first (two images within imagecheck.NearDuplicateDistance
// share a whole band, so 7 index lookups find every candidate whatever the
// table's size), each ending in the hash so candidates are checked from the
// indexes alone, without a table read per candidate.
func (Evidence) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("case_id", "kind").Unique(),
		index.Fields("sha256"),
		index.Fields("kind", "phash_b0", "phash"),
		index.Fields("kind", "phash_b1", "phash"),
		index.Fields("kind", "phash_b2", "phash"),
		index.Fields("kind", "phash_b3", "phash"),
		index.Fields("kind", "phash_b4", "phash"),
		index.Fields("kind", "phash_b5", "phash"),
		index.Fields("kind", "phash_b6", "phash"),
	}
}

// Hooks of Evidence.
func (Evidence) Hooks() []ent.Hook {
	return []ent.Hook{phashBands()}
}
