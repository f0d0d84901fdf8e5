package schema

import (
	"github.com/google/uuid"

	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"recoverydesk/internal/recovery/state"
)

// RecoveryCase is one password-recovery application (密码找回), from the
// applicant's draft to the reviewer's decision.
type RecoveryCase struct{ ent.Schema }

// Mixin of RecoveryCase.
func (RecoveryCase) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of RecoveryCase.
func (RecoveryCase) Fields() []ent.Field {
	return []ent.Field{
		// id is random so that a case's URL does not enumerate cases.
		field.UUID("id", uuid.UUID{}).Default(uuid.New),
		// case_number (ZH + YYYYMMDD + 6 digits) is given at submission.
		field.String("case_number").MaxLen(16).Optional().Nillable().Unique(),
		field.Enum("kind").Values("person", "unit"),
		field.Enum("status").GoType(state.Status("")).Default(string(state.Draft)),
		// version increases on every change; decisions carry the version
		// they were based on (optimistic locking).
		field.Int("version").Default(1),
		field.String("region_code").MaxLen(12),
		// What the applicant typed, kept beside the record for the reviewer.
		field.String("typed_username").MaxLen(64).Default(""),
		field.String("typed_name").MaxLen(200).Default(""),
		field.String("typed_cert_type").MaxLen(16),
		// typed_cert_number is sealed for a person's case (an ID number) and
		// clear for a unit's; typed_cert_hmac, its keyed hash, is what the
		// queue's search by number finds.
		field.String("typed_cert_number").MaxLen(96),
		field.String("typed_cert_hmac").MaxLen(32).Default(""),
		field.Int("username_similarity").Default(0),
		field.Int("name_similarity").Default(0),
		// token_hash authorises the applicant's later calls (SHA-256 of the
		// bearer token; the token itself is never stored).
		field.Bytes("token_hash").Sensitive(),
		field.Time("phone_verified_at").Optional().Nillable(),
		field.Time("submitted_at").Optional().Nillable(),
		field.Time("due_by").Optional().Nillable(),
		field.Int("claimed_by").Optional().Nillable(),
		field.Time("claim_expires_at").Optional().Nillable(),
		field.Enum("outcome").Values("approve", "reject", "return").Optional().Nillable(),
		field.JSON("reasons", []string{}).Optional(),
		// return_kinds names the evidence to upload again after a return (补正).
		field.JSON("return_kinds", []string{}).Optional(),
		// decision_note is internal (staff only); decision_message is the
		// reviewer's words to the applicant, shown on the status page and in
		// the decision's SMS.
		field.Text("decision_note").Default(""),
		field.Text("decision_message").Default(""),
		// return_hashes are the SHA-256 of each returned kind's image at the
		// time of the return: a resubmission needs a different image of every
		// one (a byte-identical re-upload is not a replacement).
		field.JSON("return_hashes", map[string]string{}).Optional(),
		field.Int("decided_by").Optional().Nillable(),
		field.Time("decided_at").Optional().Nillable(),
		// risk_flags are the four-eyes reasons found when the reviewer
		// approved (duplicate_evidence, low_similarity, recently_locked,
		// recently_rejected); any flag holds the approval for a supervisor.
		field.JSON("risk_flags", []string{}).Optional(),
		// first_approved_by/at record the reviewer's approval of a flagged
		// case while it awaits the supervisor's second approval.
		field.Int("first_approved_by").Optional().Nillable(),
		field.Time("first_approved_at").Optional().Nillable(),
		// hold_reason is set while a supervisor keeps the case under legal
		// hold (保全): the retention purge leaves its evidence alone.
		field.Text("hold_reason").Optional().Nillable(),
		field.Int("held_by").Optional().Nillable(),
		field.Time("held_at").Optional().Nillable(),
		// sla_mark is the escalation the periodic job last set on an
		// undecided case: "" (none), due_soon (临近超期: due on the next
		// working day or today) or overdue (已超期); vocab.SLA words. A
		// stored mark, not a computed one, so that each change is a case
		// event and the queue tabs count an indexed column.
		field.String("sla_mark").MaxLen(16).Default(""),
	}
}

// Edges of RecoveryCase.
func (RecoveryCase) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("cases").Unique().Required(),
		edge.To("evidence", Evidence.Type),
		edge.To("events", CaseEvent.Type),
		edge.To("qa_reviews", QAReview.Type),
	}
}

// Indexes of RecoveryCase: the queue reads by status and region, ordered by
// due date then submission time.
func (RecoveryCase) Indexes() []ent.Index {
	return []ent.Index{
		// The queue's order within a status: a province-wide reviewer walks
		// it directly; a narrower one filters region codes along the way.
		index.Fields("status", "due_by", "submitted_at", "id"),
		index.Fields("status", "region_code", "due_by", "submitted_at", "id"),
		index.Fields("status", "claimed_by"),
		// An account's cases: the earlier cases on every case page ask by
		// account alone; the open-case check at every start, the four-eyes
		// flags and reopening ask by account and status. Both equalities in
		// one index make SQLite's planner (which has no statistics) prefer
		// it to a status-and-date range over every account's cases.
		index.Edges("account"),
		index.Fields("status").Edges("account"),
		index.Fields("typed_cert_hmac"),
		// The dashboard reads the decisions of a date range.
		index.Fields("status", "decided_at"),
		// The escalation tabs and gauges read marked undecided cases.
		index.Fields("sla_mark", "status", "region_code"),
	}
}

// Hooks of RecoveryCase.
func (RecoveryCase) Hooks() []ent.Hook {
	return []ent.Hook{guardCaseTransition()}
}
