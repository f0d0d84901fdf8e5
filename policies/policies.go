// Package policies decides who may do what, where, in the staff console.
//
// It is Casbin RBAC with domains, where a domain is a GB/T 2260 region prefix
// of Guangdong: a role granted at 4407 (江门市) applies to every case whose
// region code starts with 4407, a role granted at 44 to the whole province.
//
// Three sources make up the rules:
//
//   - model.conf (embedded): the request shape (subject, region, object,
//     action) and the matcher; the prefix test on regions is registered in
//     code as the domain matching function of g.
//   - policy.csv (embedded): what each role may do. It is under version
//     control and reviewed like code; it is never written to the database.
//   - the casbin_rules table: the role assignments (g rules), changed at run
//     time through Enforcer.Grant and Enforcer.Revoke and shared by every
//     instance of the server on the same database.
//
// Subjects are "staff:" + the staff user's username_key (the lower-case
// username), built with Subject. Usernames are unique and readable, so an
// audit line or a row of casbin_rules says who it is about without a join,
// and the prefix keeps a subject from ever colliding with a role name.
package policies

import (
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var policyText string

// Roles. A staff user holds any number of (role, region) grants.
const (
	// RoleReviewer works the case queue: list, read, claim, decide, note,
	// and view evidence.
	RoleReviewer = string(vocab.RoleReviewer)
	// RoleSupervisor has every reviewer permission plus reassignment, the
	// second approval of four-eyes cases, audit, QA and the dashboard.
	RoleSupervisor = string(vocab.RoleSupervisor)
	// RoleAdmin manages staff and the reason catalogue and reads the audit
	// log and the dashboard, but by separation of duties never sees
	// evidence nor claims or decides cases.
	RoleAdmin = string(vocab.RoleAdmin)
)

// Objects: what a permission is about. Routes name an object and an action;
// policy.csv may use no other values (the tests check it).
const (
	// ObjCase is a recovery case (actions list, read, claim, decide, note,
	// reassign, approve_second). Check it with the case's region code.
	ObjCase = "case"
	// ObjEvidence is an applicant's evidence image (action view). Kept apart
	// from ObjCase so that a role may read a case without seeing the
	// identity documents.
	ObjEvidence = "evidence"
	// ObjAudit is the audit log (actions read, export).
	ObjAudit = "audit"
	// ObjQA is the quality-assurance sample of decided cases (action review).
	ObjQA = "qa"
	// ObjDashboard is the statistics page (action read).
	ObjDashboard = "dashboard"
	// ObjStaff is the staff accounts and their grants (action manage). A
	// handler that grants a role at region R should also check
	// Allowed(granter, R, ObjStaff, ActManage), so that an admin of one city
	// cannot hand out province-wide roles.
	ObjStaff = "staff"
	// ObjReasons is the catalogue of decision reasons (action manage).
	ObjReasons = "reasons"
	// ObjWorkload is the reviewers' load under auto-assignment: their open
	// claims, duty and caps (action manage: see them and set the caps).
	ObjWorkload = "workload"
)

// Actions.
const (
	// ActList shows a queue of cases.
	ActList = "list"
	// ActRead opens one item.
	ActRead = "read"
	// ActClaim takes a case (a lease) so that only the claimant decides it.
	ActClaim = "claim"
	// ActDecide approves, rejects or returns a case.
	ActDecide = "decide"
	// ActNote adds an internal note to a case.
	ActNote = "note"
	// ActView looks at an evidence image.
	ActView = "view"
	// ActReassign moves a claimed case to another reviewer.
	ActReassign = "reassign"
	// ActApproveSecond is the second, independent approval of a four-eyes
	// case. The rule that the second approver differs from the first is the
	// workflow's (internal/recovery), not the policy's.
	ActApproveSecond = "approve_second"
	// ActResendSMS sends a message about a case that failed for good once
	// more, with the same text.
	ActResendSMS = "resend_sms"
	// ActHold places a case under legal hold (保全) and lifts it: the
	// retention purge leaves a held case's evidence alone.
	ActHold = "hold"
	// ActBulkAssign reassigns or releases many cases of the queue at once
	// (a supervisor's move, one audit entry per case).
	ActBulkAssign = "bulk_assign"
	// ActExport downloads the audit log.
	ActExport = "export"
	// ActReview records a QA review of a decided case.
	ActReview = "review"
	// ActManage creates, changes and removes items of a catalogue.
	ActManage = "manage"
)

// subjectPrefix marks staff subjects; see Subject.
const subjectPrefix = "staff:"

// Permission is one (object, action) pair, the unit a route asks for.
type Permission struct {
	Obj, Act string
}

// String renders the permission as "obj:act", the form used in messages.
func (p Permission) String() string { return p.Obj + ":" + p.Act }

// The permissions the application checks, each named once: the route
// table asks for them, the handlers scope their queries by them, and
// policy.csv may grant only these.
var (
	PermCaseList          = Permission{ObjCase, ActList}
	PermCaseRead          = Permission{ObjCase, ActRead}
	PermCaseClaim         = Permission{ObjCase, ActClaim}
	PermCaseDecide        = Permission{ObjCase, ActDecide}
	PermCaseNote          = Permission{ObjCase, ActNote}
	PermCaseReassign      = Permission{ObjCase, ActReassign}
	PermCaseApproveSecond = Permission{ObjCase, ActApproveSecond}
	PermCaseResendSMS     = Permission{ObjCase, ActResendSMS}
	PermCaseHold          = Permission{ObjCase, ActHold}
	PermCaseBulkAssign    = Permission{ObjCase, ActBulkAssign}
	PermEvidenceView      = Permission{ObjEvidence, ActView}
	PermAuditRead         = Permission{ObjAudit, ActRead}
	PermAuditExport       = Permission{ObjAudit, ActExport}
	PermQAReview          = Permission{ObjQA, ActReview}
	PermDashboardRead     = Permission{ObjDashboard, ActRead}
	PermStaffManage       = Permission{ObjStaff, ActManage}
	PermReasonsManage     = Permission{ObjReasons, ActManage}
	PermWorkloadManage    = Permission{ObjWorkload, ActManage}
)

// KnownPermissions lists every (object, action) pair the application checks.
// policy.csv may grant only these, which turns a typo in the file into a
// start-up error instead of a silently missing permission.
func KnownPermissions() []Permission {
	return []Permission{
		PermCaseList, PermCaseRead, PermCaseClaim, PermCaseDecide, PermCaseNote, PermCaseReassign, PermCaseApproveSecond,
		PermCaseResendSMS, PermCaseHold, PermCaseBulkAssign,
		PermEvidenceView,
		PermAuditRead, PermAuditExport,
		PermQAReview,
		PermDashboardRead,
		PermStaffManage,
		PermReasonsManage,
		PermWorkloadManage,
	}
}

// Roles lists the roles that can be granted, in order of increasing reach,
// for a role picker or a CLI flag check.
func Roles() []string { return []string{RoleReviewer, RoleSupervisor, RoleAdmin} }

// RolePermissions returns what each role may do according to the embedded
// policy.csv, for pages that explain a role and for tests that compare routes
// with roles.
func RolePermissions() (map[string][]Permission, error) {
	rules, err := parsePolicy(policyText)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Permission)
	for _, r := range rules {
		out[r[0]] = append(out[r[0]], Permission{Obj: r[1], Act: r[2]})
	}
	return out, nil
}

// NeedsSecondAdmin reports whether granting role in the console takes a
// second administrator's confirmation (三员分立): true for every role whose
// permissions in policy.csv include seeing evidence or deciding a case, so
// a permission added to a role later brings the rule with it.
func NeedsSecondAdmin(role string) bool {
	perms, err := RolePermissions()
	if err != nil {
		return true // the embedded file is checked at start; err on the safe side
	}
	return slices.ContainsFunc(perms[role], func(p Permission) bool {
		return p == PermEvidenceView || p == PermCaseDecide
	})
}

// Subject is the Casbin subject of a staff user: "staff:" + username_key.
// It lower-cases its argument, so a username and its key give the same
// subject.
func Subject(usernameKey string) string {
	return subjectPrefix + strings.ToLower(usernameKey)
}

// Errors returned by this package; wrap-aware, test them with errors.Is.
var (
	// ErrInvalidSubject means a subject was not of the form Subject builds.
	ErrInvalidSubject = errors.New("invalid subject")
	// ErrInvalidRole means a role is not one of Roles().
	ErrInvalidRole = errors.New("invalid role")
	// ErrInvalidRegion means a region is not a Guangdong code prefix of the
	// accepted shape.
	ErrInvalidRegion = errors.New("invalid region")
	// ErrUnknownStaff means Grant named a subject with no staff user behind
	// it. Refusing it keeps a grant from waiting for whoever is later
	// created under that username.
	ErrUnknownStaff = errors.New("no such staff user")
	// ErrAlreadyGranted means Grant found the grant already in force; the
	// state is as asked, so callers may treat it as success, but need not
	// write an audit entry.
	ErrAlreadyGranted = errors.New("already granted")
	// ErrNoSuchGrant means Revoke found nothing to revoke.
	ErrNoSuchGrant = errors.New("no such grant")
	// ErrPermissionsReadOnly means someone tried to store a role permission
	// (a p rule) in the database; those live in policy.csv only.
	ErrPermissionsReadOnly = errors.New("role permissions live in policies/policy.csv, not in the database")
)

// ValidateGrant checks a (role, region) pair before anything is stored, so
// the staff CLI and the admin form can refuse bad input with the same rules
// as Grant. A region is 2, 4 or 6 digits starting with 44: 44 (province),
// 4407 (city), 440703 (county). A 4- or 6-digit code with a 00 part
// (4400, 440700) is refused: it would name the city or province while
// covering only itself, so the shorter prefix (44, 4407) must be used.
func ValidateGrant(role, region string) error {
	if !slices.Contains(Roles(), role) {
		return fmt.Errorf("%w %q: want one of %s", ErrInvalidRole, role, strings.Join(Roles(), ", "))
	}
	if !regionShape(region) {
		return fmt.Errorf("%w %q: want 44, a city prefix like 4407 or a county code like 440703", ErrInvalidRegion, region)
	}
	if len(region) >= 4 && region[2:4] == "00" {
		return fmt.Errorf("%w %q: a 00 part names the level above; grant the province as 44", ErrInvalidRegion, region)
	}
	if len(region) == 6 && region[4:6] == "00" {
		return fmt.Errorf("%w %q: a 00 part names the level above; grant the city as %s", ErrInvalidRegion, region, region[:4])
	}
	if _, ok := rules.LookupRegion(region); !ok {
		return fmt.Errorf("%w %q: not a Guangdong region code", ErrInvalidRegion, region)
	}
	return nil
}

// regionShape reports whether s is 2, 4 or 6 ASCII digits starting with 44,
// the shape of both grant regions and the region codes of cases.
func regionShape(s string) bool {
	if len(s) != 2 && len(s) != 4 && len(s) != 6 || !strings.HasPrefix(s, "44") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validateSubject accepts exactly what Subject produces for a username_key
// that follows the username rules: 1–20 of a–z, 0–9 and _.
func validateSubject(s string) error {
	key, ok := strings.CutPrefix(s, subjectPrefix)
	if !ok || len(key) == 0 || len(key) > 20 {
		return fmt.Errorf("%w %q", ErrInvalidSubject, s)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%w %q", ErrInvalidSubject, s)
		}
	}
	return nil
}

// validateGrouping checks a g rule (subject, role, region) as stored.
func validateGrouping(rule []string) error {
	if len(rule) != 3 {
		return fmt.Errorf("grouping rule %q: want subject, role, region", rule)
	}
	if err := validateSubject(rule[0]); err != nil {
		return err
	}
	return ValidateGrant(rule[1], rule[2])
}

// parsePolicy reads policy.csv into (role, obj, act) rows, refusing anything
// but p rows of known roles and permissions.
func parsePolicy(text string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	known := KnownPermissions()
	var rules [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("policy.csv: %w", err)
		}
		line, _ := r.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) != 4 || rec[0] != "p" {
			return nil, fmt.Errorf("policy.csv line %d: want \"p, role, object, action\", got %q", line, rec)
		}
		role, perm := rec[1], Permission{Obj: rec[2], Act: rec[3]}
		if !slices.Contains(Roles(), role) {
			return nil, fmt.Errorf("policy.csv line %d: %w %q", line, ErrInvalidRole, role)
		}
		if !slices.Contains(known, perm) {
			return nil, fmt.Errorf("policy.csv line %d: unknown permission %s", line, perm)
		}
		rules = append(rules, rec[1:])
	}
	if len(rules) == 0 {
		return nil, errors.New("policy.csv: no rules")
	}
	return rules, nil
}

// KeyOf is the username_key of a subject Subject built, and whether s is
// one: the way back from a stored g rule to the staff user.
func KeyOf(s string) (string, bool) {
	return strings.CutPrefix(s, subjectPrefix)
}
