package recovery

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/casbinrule"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// Auto-assignment (RD_ASSIGNMENT=auto): a submitted case is given, as a
// claim, to the on-duty reviewer of its region who holds the fewest open
// claims, while that number is under the reviewer's cap. A case nobody can
// take waits in 待审核 (the queue's 待分配 tab) and is assigned by a sweep as
// soon as capacity appears: a decision or reassignment frees a claim, a
// lease runs out, a reviewer signs in or resumes, a supervisor raises a cap.
//
// Every transaction that assigns takes one lock first (assignmentLock), so
// loads are counted from the database and used under the same lock on every
// instance: PostgreSQL serialises it with an advisory lock, SQLite by its
// single writer. One lock for the province, not one per city: reviewers are
// granted at province, city or county level, so a province-wide reviewer's
// load is shared by every city's cases. It is taken before anything else
// that locks (the case-number sequence, the audit chain), which every
// assigning transaction also takes, so the order is the same everywhere.

// DefaultAssignCap is the most open claims auto-assignment gives a reviewer
// whose supervisor set no cap of their own.
const DefaultAssignCap = 10

// MaxAssignCap bounds the cap a supervisor may set.
const MaxAssignCap = 100

// AssignTTL is the lease of an assigned case. A reviewer holds up to their
// cap of assigned cases while working on one at a time, so the lease of a
// case they have not opened yet must outlast a working day (ClaimTTL, the
// lease of a case being worked, would hand nine of ten back every half
// hour); and it must end, so that the cases of someone who stopped coming
// return to the pool within a day. Opening the case never shortens it.
const AssignTTL = 24 * time.Hour

// assignmentLock is the lock every assigning transaction takes first.
const assignmentLock = "assignment"

// Bounds of one sweep: how many waiting cases it looks at.
const (
	sweepLimit   = 500 // a reviewer comes on duty, a lease expiry: fill everyone
	sweepOnFreed = 20  // one claim freed (a decision, a reassignment)
)

// ErrBadCap is a cap outside 0–MaxAssignCap.
var ErrBadCap = apperr.New(apperr.Invalid, "invalid_cap", fmt.Sprintf("接单上限须为0到%d之间的整数", MaxAssignCap))

// AutoAssign says whether this service assigns cases (RD_ASSIGNMENT=auto).
func (s *Service) AutoAssign() bool { return s.auto }

// lockAssignment takes the assignment lock in tx when cases are assigned.
func (s *Service) lockAssignment(ctx context.Context, tx *db.Tx) error {
	if !s.auto {
		return nil
	}
	return tx.LockKey(ctx, assignmentLock)
}

// OnDutySince is the earliest sign-in that keeps a reviewer on duty at now:
// the start of the last working day before today (Asia/Shanghai), so that
// whoever signed in on Friday still gets cases on Monday morning before
// signing in again, and whoever missed a whole working day gets none.
func (s *Service) OnDutySince(now time.Time) time.Time {
	return s.calendar.AddWorkdays(now, -1)
}

// Duty is where the staff user stands for auto-assignment at now.
func (s *Service) Duty(u *ent.StaffUser, now time.Time) vocab.Duty {
	switch {
	case u.Paused:
		return vocab.DutyPaused
	case u.LastLoginAt == nil || u.LastLoginAt.Before(s.OnDutySince(now)):
		return vocab.DutyAway
	}
	return vocab.DutyOn
}

// capOf is the staff user's cap.
func capOf(u *ent.StaffUser) int {
	if u.AssignCap != nil {
		return *u.AssignCap
	}
	return DefaultAssignCap
}

// assignee is a reviewer who may be given cases, with their open claims.
type assignee struct {
	id       int
	username string
	cap      int
	load     int
	regions  []string // the region prefixes of their reviewer grants
}

// assigner is one transaction's view of who can take cases: every
// reviewer on duty with their reviewer grants and their loads, read once
// under the assignment lock (three queries, however many regions the
// waiting cases come from) and kept up to date as it assigns.
type assigner struct {
	s      *Service
	tx     *db.Tx
	now    time.Time
	loaded bool
	pool   []*assignee // on duty and granted the reviewer role somewhere, by id
	ofReg  map[string][]*assignee
}

func (s *Service) newAssigner(tx *db.Tx, now time.Time) *assigner {
	return &assigner{s: s, tx: tx, now: now, ofReg: map[string][]*assignee{}}
}

// prefixesOf are the grant regions that cover a case's region code: the
// province, its city, its county.
func prefixesOf(region string) []string {
	var out []string
	for _, n := range []int{2, 4, 6} {
		if len(region) >= n {
			out = append(out, region[:n])
		}
	}
	return out
}

// load reads the pool once: the staff users on duty, their reviewer grants
// and their open claims. Only the reviewer role is assigned work: a
// supervisor's queue is the second approvals and escalations, not a share
// of the intake.
func (a *assigner) load(ctx context.Context) error {
	if a.loaded {
		return nil
	}
	a.loaded = true
	users, err := a.tx.Ent.StaffUser.Query().Where(staffuser.Disabled(false), staffuser.Paused(false),
		staffuser.LastLoginAtGTE(a.s.OnDutySince(a.now))).Order(ent.Asc(staffuser.FieldID)).All(ctx)
	if err != nil || len(users) == 0 {
		return err
	}
	subjects := make([]string, len(users))
	for i, u := range users {
		subjects[i] = policies.Subject(u.UsernameKey)
	}
	var grants []struct {
		V0 string `json:"v0"`
		V2 string `json:"v2"`
	}
	if err := a.tx.Ent.CasbinRule.Query().Where(casbinrule.Ptype("g"), casbinrule.V1(string(vocab.RoleReviewer)),
		casbinrule.V0In(subjects...)).Select(casbinrule.FieldV0, casbinrule.FieldV2).Scan(ctx, &grants); err != nil {
		return err
	}
	regions := map[string][]string{}
	for _, g := range grants {
		regions[g.V0] = append(regions[g.V0], g.V2)
	}
	for i, u := range users {
		if rs := regions[subjects[i]]; len(rs) > 0 {
			a.pool = append(a.pool, &assignee{id: u.ID, username: u.Username, cap: capOf(u), regions: rs})
		}
	}
	return a.count(ctx, a.pool)
}

// candidates are the on-duty reviewers whose reviewer grant covers region,
// in the order of their ids.
func (a *assigner) candidates(ctx context.Context, region string) ([]*assignee, error) {
	if c, ok := a.ofReg[region]; ok {
		return c, nil
	}
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	prefixes := prefixesOf(region)
	var out []*assignee
	for _, c := range a.pool {
		if slices.ContainsFunc(c.regions, func(r string) bool { return slices.Contains(prefixes, r) }) {
			out = append(out, c)
		}
	}
	a.ofReg[region] = out
	return out, nil
}

// roomLeft says whether anyone on duty can take another case: when nobody
// can, a sweep has nothing to do and reads no waiting case.
func (a *assigner) roomLeft(ctx context.Context) (bool, error) {
	if err := a.load(ctx); err != nil {
		return false, err
	}
	return pick(a.pool) != nil, nil
}

// count reads the open claims of each reviewer from the database.
func (a *assigner) count(ctx context.Context, list []*assignee) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int, len(list))
	for i, c := range list {
		ids[i] = c.id
	}
	loads, err := OpenClaims(ctx, a.tx.Ent, ids, a.now)
	if err != nil {
		return err
	}
	for _, c := range list {
		c.load = loads[c.id]
	}
	return nil
}

// OpenClaims counts the live claims (assigned or claimed) of each staff user.
func OpenClaims(ctx context.Context, client *ent.Client, ids []int, now time.Time) (map[int]int, error) {
	var rows []struct {
		ClaimedBy int `json:"claimed_by"`
		Count     int `json:"count"`
	}
	err := client.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimedByIn(ids...),
		recoverycase.ClaimExpiresAtGT(now)).GroupBy(recoverycase.FieldClaimedBy).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int, len(rows))
	for _, r := range rows {
		out[r.ClaimedBy] = r.Count
	}
	return out, nil
}

// pick is the candidate with the fewest open claims under their cap (the
// lowest id among equals), or nil.
func pick(cands []*assignee) *assignee {
	var best *assignee
	for _, c := range cands {
		if c.load < c.cap && (best == nil || c.load < best.load) {
			best = c
		}
	}
	return best
}

// The outcomes of one assignment.
type assigned int

const (
	assignedNone  assigned = iota // nobody of the region has room
	assignedMoved                 // the case changed meanwhile (claimed by hand)
	assignedOK
)

// assign gives rc, a waiting (submitted) case as read in this transaction,
// to the least-loaded candidate.
func (a *assigner) assign(ctx context.Context, rc *ent.RecoveryCase) (assigned, error) {
	cands, err := a.candidates(ctx, rc.RegionCode)
	if err != nil {
		return assignedNone, err
	}
	to := pick(cands)
	if to == nil {
		return assignedNone, nil
	}
	err = a.tx.Ent.RecoveryCase.UpdateOneID(rc.ID).Where(recoverycase.Version(rc.Version), recoverycase.StatusEQ(state.Submitted)).
		SetStatus(state.InReview).SetClaimedBy(to.id).SetClaimExpiresAt(a.now.Add(AssignTTL)).SetUpdatedAt(a.now).AddVersion(1).Exec(ctx)
	if ent.IsNotFound(err) {
		return assignedMoved, nil
	}
	if err != nil {
		return assignedNone, err
	}
	to.load++
	return assignedOK, a.s.record(ctx, a.tx, rc, a.now, actorSystem, vocab.EventAssigned, map[string]any{"status": string(state.Submitted)},
		map[string]any{"status": string(state.InReview), "claimed_by": to.username})
}

// assignSubmitted assigns the case just submitted in tx (its id), when
// cases are assigned.
func (s *Service) assignSubmitted(ctx context.Context, tx *db.Tx, id uuid.UUID, now time.Time) error {
	if !s.auto {
		return nil
	}
	rc, err := tx.Ent.RecoveryCase.Get(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.newAssigner(tx, now).assign(ctx, rc)
	return err
}

// sweep assigns waiting cases in queue order (due date, then submission),
// those under scope's region prefixes (all when scope is nil), looking at
// up to limit of them; a region code found without room is not tried again
// in the same sweep. The assignment lock must be held.
func (s *Service) sweep(ctx context.Context, tx *db.Tx, now time.Time, scope []string, limit int) (int, error) {
	if !s.auto {
		return 0, nil
	}
	q := tx.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted))
	if scope != nil {
		if slices.Contains(scope, rules.ProvinceCode) {
			scope = nil
		} else {
			var ps []predicate.RecoveryCase
			for _, r := range scope {
				ps = append(ps, regionPrefix(r))
			}
			if len(ps) == 0 {
				return 0, nil
			}
			q = q.Where(recoverycase.Or(ps...))
		}
	}
	// A decision usually frees a claim of someone at their cap: with
	// nobody on duty who has room, there is nothing to assign and no
	// waiting case is read.
	a := s.newAssigner(tx, now)
	if room, err := a.roomLeft(ctx); err != nil || !room {
		return 0, err
	}
	waiting, err := q.Order(ent.Asc(recoverycase.FieldDueBy), ent.Asc(recoverycase.FieldSubmittedAt), ent.Asc(recoverycase.FieldID)).
		Limit(limit).All(ctx)
	if err != nil {
		return 0, err
	}
	full := map[string]bool{}
	n := 0
	for _, rc := range waiting {
		if full[rc.RegionCode] {
			continue
		}
		if room, err := a.roomLeft(ctx); err != nil || !room {
			return n, err
		}
		res, err := a.assign(ctx, rc)
		if err != nil {
			return n, fmt.Errorf("assign %v: %w", rc.CaseNumber, err)
		}
		switch res {
		case assignedOK:
			n++
		case assignedNone:
			full[rc.RegionCode] = true
		}
	}
	return n, nil
}

// AssignWaiting assigns waiting cases to whoever has room: what happens when
// a reviewer comes on duty by signing in. It returns how many it assigned.
func (s *Service) AssignWaiting(ctx context.Context) (int, error) {
	if !s.auto {
		return 0, nil
	}
	n := 0
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		var err error
		n, err = s.sweep(ctx, tx, s.clock.Now(), nil, sweepLimit)
		return err
	})
	return n, err
}

// SetPaused is the reviewer's own 暂停接单 toggle: paused, auto-assignment
// gives them nothing new (what they hold stays theirs); resumed, they get
// their share of the waiting cases at once. Audited.
func (s *Service) SetPaused(ctx context.Context, rv Reviewer, paused bool) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		n, err := tx.Ent.StaffUser.Update().Where(staffuser.ID(rv.ID), staffuser.Paused(!paused)).SetPaused(paused).SetUpdatedAt(now).Save(ctx)
		if err != nil || n == 0 {
			return err // already as asked: nothing to record
		}
		action := vocab.ActionStaffResumed
		if paused {
			action = vocab.ActionStaffPaused
		}
		if err := audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorStaff, Actor: rv.Username, Action: action,
			ObjectType: string(vocab.ObjectStaff), ObjectID: rv.Username}); err != nil {
			return err
		}
		if !paused {
			_, err = s.sweep(ctx, tx, now, rv.Regions, sweepLimit)
		}
		return err
	})
}

// ErrNotSupervised is a cap set on someone who is not a reviewer of the
// supervisor's regions.
var ErrNotSupervised = apperr.New(apperr.NotFound, "not_found", "该人员不是您所辖地区的审核员")

// SetCap sets the most open claims auto-assignment gives the reviewer
// (username) of one of the supervisor's regions. Raising it assigns waiting
// cases at once. Audited with the cap before and after.
func (s *Service) SetCap(ctx context.Context, sup Reviewer, username string, cap int) error {
	if cap < 0 || cap > MaxAssignCap {
		return ErrBadCap.WithField("cap")
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		u, err := s.supervised(ctx, tx.Ent, sup, username)
		if err != nil {
			return err
		}
		before := capOf(u)
		if before == cap && u.AssignCap != nil {
			return nil
		}
		if err := tx.Ent.StaffUser.UpdateOne(u).SetAssignCap(cap).SetUpdatedAt(now).Exec(ctx); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorStaff, Actor: sup.Username, Action: vocab.ActionStaffCapSet,
			ObjectType: string(vocab.ObjectStaff), ObjectID: u.Username,
			Detail: map[string]any{string(vocab.DetailBefore): before, string(vocab.DetailCap): cap}}); err != nil {
			return err
		}
		if cap > before {
			_, err = s.sweep(ctx, tx, now, sup.Regions, sweepLimit)
		}
		return err
	})
}

// supervised finds the reviewer (by username) among those of sup's regions.
func (s *Service) supervised(ctx context.Context, client *ent.Client, sup Reviewer, username string) (*ent.StaffUser, error) {
	grants, err := s.reviewerGrants(ctx, client, sup)
	if err != nil {
		return nil, err
	}
	key := rules.NormalizeUsername(strings.TrimSpace(username))
	if _, ok := grants[key]; !ok {
		return nil, ErrNotSupervised
	}
	u, err := client.StaffUser.Query().Where(staffuser.UsernameKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrNotSupervised
	}
	return u, err
}

// reviewerGrants are the reviewer grants that overlap sup's regions, by
// username key: a grant inside one of them, or one covering it (a
// province-wide reviewer takes a city's cases too).
func (s *Service) reviewerGrants(ctx context.Context, client *ent.Client, sup Reviewer) (map[string][]string, error) {
	rows, err := client.CasbinRule.Query().Where(casbinrule.Ptype("g"), casbinrule.V1(string(vocab.RoleReviewer))).All(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, r := range rows {
		key, ok := policies.KeyOf(r.V0)
		if !ok {
			continue
		}
		if slices.ContainsFunc(sup.Regions, func(p string) bool { return rules.RegionCovers(p, r.V2) || rules.RegionCovers(r.V2, p) }) {
			out[key] = append(out[key], r.V2)
		}
	}
	return out, nil
}

// ReviewerLoad is one reviewer's line on the supervisors' workload page.
type ReviewerLoad struct {
	Username, Name string
	Regions        []string // grant prefixes
	RegionNames    []string
	Duty           vocab.Duty
	Load, Cap      int
	LastLoginAt    *time.Time
	Disabled       bool
}

// Workload lists the reviewers of sup's regions with their duty, open
// claims and cap, by username.
func (s *Service) Workload(ctx context.Context, sup Reviewer) ([]ReviewerLoad, error) {
	grants, err := s.reviewerGrants(ctx, s.db.Ent, sup)
	if err != nil || len(grants) == 0 {
		return nil, err
	}
	keys := make([]string, 0, len(grants))
	for k := range grants {
		keys = append(keys, k)
	}
	users, err := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKeyIn(keys...)).Order(ent.Asc(staffuser.FieldUsernameKey)).All(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	ids := make([]int, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	loads, err := OpenClaims(ctx, s.db.Ent, ids, now)
	if err != nil {
		return nil, err
	}
	out := make([]ReviewerLoad, len(users))
	for i, u := range users {
		regions := grants[u.UsernameKey]
		slices.Sort(regions)
		names := make([]string, len(regions))
		for j, r := range regions {
			names[j] = rules.RegionFullName(r)
		}
		out[i] = ReviewerLoad{Username: u.Username, Name: u.Name, Regions: regions, RegionNames: names, Duty: s.Duty(u, now), Load: loads[u.ID],
			Cap: capOf(u), LastLoginAt: u.LastLoginAt, Disabled: u.Disabled}
	}
	return out, nil
}
