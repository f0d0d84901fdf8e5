package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
)

// StaffUser is a reviewer, supervisor or administrator of the console. Roles
// and their regions live in Casbin rules, not here.
type StaffUser struct{ ent.Schema }

// Mixin of StaffUser.
func (StaffUser) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of StaffUser.
func (StaffUser) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").MaxLen(20),
		field.String("username_key").MaxLen(20).Unique(),
		field.String("name").MaxLen(50),
		field.String("password_hash").Sensitive(),
		// totp_secret is sealed with RD_SECRET_KEY.
		field.Bytes("totp_secret").Optional().Sensitive(),
		field.Bool("totp_required").Default(false),
		field.Bool("disabled").Default(false),
		field.Int("failed_logins").Default(0),
		field.Time("locked_until").Optional().Nillable(),
		field.Time("last_login_at").Optional().Nillable(),
		// session_epoch moves on whenever every console session of the
		// user must end (a password reset, disabling). A session keeps the
		// epoch it signed in under and stands only while it is still the
		// user's: the product's own index of a person's sessions, in the
		// database so that every instance refuses an ended session at once.
		field.Int("session_epoch").Default(0),
		// totp_last_step is the TOTP time step (Unix time / 30 s) of the last
		// code accepted for the user. A code is accepted only by moving it
		// forward in one conditional UPDATE, so a code works once, on
		// whichever instance sees it first.
		field.Int64("totp_last_step").Default(0),
		// password_temporary marks a password an administrator issued
		// (creation or reset in the console): it signs in only to the page
		// where the person sets their own password and enrols TOTP, so the
		// administrator who saw it cannot work as that person.
		field.Bool("password_temporary").Default(false),
		// paused is the reviewer's own 暂停接单: while set, auto-assignment
		// gives them nothing new (what they hold stays theirs).
		field.Bool("paused").Default(false),
		// assign_cap is the most open claims auto-assignment lets the
		// reviewer hold, set by a supervisor; nil is the default
		// (recovery.DefaultAssignCap).
		field.Int("assign_cap").Optional().Nillable(),
	}
}
