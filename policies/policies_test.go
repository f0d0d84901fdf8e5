package policies_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"

	"recoverydesk/ent"
	"recoverydesk/ent/casbinrule"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
	"recoverydesk/policies"
)

// staff creates staff users and returns their subjects, in order.
func staff(t *testing.T, client *ent.Client, usernames ...string) []string {
	t.Helper()
	var subs []string
	for _, u := range usernames {
		key := strings.ToLower(u)
		err := client.StaffUser.Create().
			SetUsername(u).SetUsernameKey(key).SetName(u).SetPasswordHash("x").
			Exec(context.Background())
		if err != nil {
			t.Fatalf("create staff %s: %v", u, err)
		}
		subs = append(subs, policies.Subject(key))
	}
	return subs
}

func newEnforcer(t *testing.T, d *db.DB) *policies.Enforcer {
	t.Helper()
	e, err := policies.NewEnforcer(context.Background(), d.Ent)
	if err != nil {
		t.Fatalf("NewEnforcer: %v", err)
	}
	return e
}

func mustGrant(t *testing.T, e *policies.Enforcer, subject, role, region string) {
	t.Helper()
	if err := e.Grant(context.Background(), subject, role, region); err != nil {
		t.Fatalf("Grant(%s, %s, %s): %v", subject, role, region, err)
	}
}

func allowed(t *testing.T, e *policies.Enforcer, subject, region, obj, act string) bool {
	t.Helper()
	ok, err := e.Allowed(subject, region, obj, act)
	if err != nil {
		t.Fatalf("Allowed(%s, %s, %s, %s): %v", subject, region, obj, act, err)
	}
	return ok
}

func TestAllowed(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		e := newEnforcer(t, d)
		s := staff(t, d.Ent, "Alice", "bob_44", "carol", "dave", "erin")
		alice, bob, carol, dave, erin := s[0], s[1], s[2], s[3], s[4]
		mustGrant(t, e, alice, policies.RoleReviewer, "4407")
		mustGrant(t, e, bob, policies.RoleReviewer, "44")
		mustGrant(t, e, carol, policies.RoleSupervisor, "4407")
		mustGrant(t, e, dave, policies.RoleAdmin, "44")
		// erin exists and holds nothing; ghost does not even exist.
		ghost := policies.Subject("ghost")

		if alice != "staff:alice" {
			t.Fatalf("Subject lower-cases the key: got %q", alice)
		}
		tests := []struct {
			who, sub, region, obj, act string
			want                       bool
		}{
			{"alice", alice, "440703", policies.ObjCase, policies.ActDecide, true},
			{"alice", alice, "4407", policies.ObjCase, policies.ActDecide, true},
			{"alice", alice, "440700", policies.ObjCase, policies.ActDecide, true},
			{"alice", alice, "440703", policies.ObjEvidence, policies.ActView, true},
			{"alice", alice, "440703", policies.ObjCase, policies.ActClaim, true},
			{"alice", alice, "440103", policies.ObjCase, policies.ActDecide, false}, // 广州 is not 江门
			{"alice", alice, "44", policies.ObjCase, policies.ActDecide, false},     // province-level case
			{"alice", alice, "440000", policies.ObjCase, policies.ActDecide, false},
			{"alice", alice, "4401", policies.ObjCase, policies.ActRead, false},
			{"alice", alice, "440703", policies.ObjCase, policies.ActReassign, false},
			{"alice", alice, "440703", policies.ObjCase, policies.ActApproveSecond, false},
			{"alice", alice, "440703", policies.ObjAudit, policies.ActRead, false},
			{"alice", alice, "440703", policies.ObjStaff, policies.ActManage, false},
			{"bob", bob, "440103", policies.ObjCase, policies.ActDecide, true},
			{"bob", bob, "445381", policies.ObjCase, policies.ActDecide, true},
			{"bob", bob, "4407", policies.ObjEvidence, policies.ActView, true},
			{"bob", bob, "44", policies.ObjCase, policies.ActList, true},
			{"bob", bob, "440103", policies.ObjCase, policies.ActReassign, false},
			{"carol", carol, "440703", policies.ObjCase, policies.ActReassign, true},
			{"carol", carol, "440703", policies.ObjCase, policies.ActApproveSecond, true},
			{"carol", carol, "440703", policies.ObjCase, policies.ActDecide, true},
			{"carol", carol, "440703", policies.ObjEvidence, policies.ActView, true},
			{"carol", carol, "4407", policies.ObjAudit, policies.ActExport, true},
			{"carol", carol, "440103", policies.ObjCase, policies.ActReassign, false},
			{"carol", carol, "440703", policies.ObjStaff, policies.ActManage, false},
			{"dave", dave, "440703", policies.ObjEvidence, policies.ActView, false},
			{"dave", dave, "44", policies.ObjEvidence, policies.ActView, false},
			{"dave", dave, "440703", policies.ObjCase, policies.ActDecide, false},
			{"dave", dave, "440703", policies.ObjCase, policies.ActClaim, false},
			{"dave", dave, "44", policies.ObjStaff, policies.ActManage, true},
			{"dave", dave, "440703", policies.ObjStaff, policies.ActManage, true},
			{"dave", dave, "44", policies.ObjReasons, policies.ActManage, true},
			{"dave", dave, "44", policies.ObjAudit, policies.ActRead, true},
			{"dave", dave, "44", policies.ObjAudit, policies.ActExport, false},
			{"dave", dave, "44", policies.ObjDashboard, policies.ActRead, true},
			{"erin", erin, "440703", policies.ObjCase, policies.ActRead, false},
			{"ghost", ghost, "440703", policies.ObjCase, policies.ActRead, false},
			{"ghost", ghost, "44", policies.ObjDashboard, policies.ActRead, false},
		}
		for _, tt := range tests {
			if got := allowed(t, e, tt.sub, tt.region, tt.obj, tt.act); got != tt.want {
				t.Errorf("%s %s:%s in %s = %v, want %v", tt.who, tt.obj, tt.act, tt.region, got, tt.want)
			}
		}

		// A role name is not a subject: without the staff: prefix Casbin
		// would treat "reviewer" as holding its own permissions everywhere.
		for _, bad := range []string{"reviewer", "alice", "staff:", "staff:Alice", "staff:a b", ""} {
			if _, err := e.Allowed(bad, "440703", policies.ObjCase, policies.ActRead); !errors.Is(err, policies.ErrInvalidSubject) {
				t.Errorf("Allowed(subject %q) error = %v, want ErrInvalidSubject", bad, err)
			}
		}
		for _, bad := range []string{"", "4", "45", "4407x", "44070", "4407031", "440703%"} {
			if _, err := e.Allowed(alice, bad, policies.ObjCase, policies.ActRead); !errors.Is(err, policies.ErrInvalidRegion) {
				t.Errorf("Allowed(region %q) error = %v, want ErrInvalidRegion", bad, err)
			}
		}
	})
}

func TestRevoke(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnforcer(t, d)
		alice := staff(t, d.Ent, "alice")[0]
		mustGrant(t, e, alice, policies.RoleReviewer, "4407")
		if !allowed(t, e, alice, "440703", policies.ObjCase, policies.ActDecide) {
			t.Fatal("granted reviewer@4407 may not decide in 440703")
		}
		if err := e.Revoke(ctx, alice, policies.RoleReviewer, "4407"); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if allowed(t, e, alice, "440703", policies.ObjCase, policies.ActDecide) {
			t.Fatal("revoked reviewer@4407 may still decide in 440703")
		}
		if err := e.Revoke(ctx, alice, policies.RoleReviewer, "4407"); !errors.Is(err, policies.ErrNoSuchGrant) {
			t.Fatalf("second Revoke error = %v, want ErrNoSuchGrant", err)
		}
		if n := d.Ent.CasbinRule.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d rows left after revoking the only grant", n)
		}

		// Overlapping grants: revoking the province grant must leave the
		// city grant working (Casbin's incremental link removal under a
		// domain matching function would drop it too).
		mustGrant(t, e, alice, policies.RoleReviewer, "4407")
		mustGrant(t, e, alice, policies.RoleReviewer, "44")
		if err := e.Revoke(ctx, alice, policies.RoleReviewer, "44"); err != nil {
			t.Fatalf("Revoke 44: %v", err)
		}
		if !allowed(t, e, alice, "440703", policies.ObjCase, policies.ActDecide) {
			t.Error("revoking reviewer@44 also ended reviewer@4407")
		}
		if allowed(t, e, alice, "440103", policies.ObjCase, policies.ActDecide) {
			t.Error("revoked reviewer@44 still decides in 440103")
		}

		// RevokeAll, for a deleted staff user.
		mustGrant(t, e, alice, policies.RoleSupervisor, "4401")
		n, err := e.RevokeAll(ctx, alice)
		if err != nil || n != 2 {
			t.Fatalf("RevokeAll = %d, %v; want 2, nil", n, err)
		}
		if got := e.RolesOf(alice); len(got) != 0 {
			t.Fatalf("RolesOf after RevokeAll = %v", got)
		}
	})
}

func TestGrantsAreSharedBetweenInstances(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := staff(t, d.Ent, "alice", "bob_1")
		alice, bob := s[0], s[1]
		e1 := newEnforcer(t, d)
		mustGrant(t, e1, alice, policies.RoleSupervisor, "4407")

		// A second instance started later sees the stored grant.
		e2 := newEnforcer(t, d)
		if !allowed(t, e2, alice, "440703", policies.ObjCase, policies.ActReassign) {
			t.Fatal("second enforcer does not see the stored grant")
		}

		// A grant made on e1 reaches e2 at its next Reload, not before.
		mustGrant(t, e1, bob, policies.RoleReviewer, "4401")
		if allowed(t, e2, bob, "440103", policies.ObjCase, policies.ActDecide) {
			t.Fatal("e2 saw e1's grant without reloading (test assumption broken)")
		}
		if err := e2.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		if !allowed(t, e2, bob, "440103", policies.ObjCase, policies.ActDecide) {
			t.Fatal("e2 does not see e1's grant after Reload")
		}

		// A revocation on e2 reaches e1 at its next Reload; and e1, whose
		// copy is now stale, must still be able to grant it again (its
		// stale copy must not make it skip the database write).
		if err := e2.Revoke(ctx, bob, policies.RoleReviewer, "4401"); err != nil {
			t.Fatalf("Revoke on e2: %v", err)
		}
		if err := e1.Grant(ctx, bob, policies.RoleReviewer, "4401"); err != nil {
			t.Fatalf("re-Grant on stale e1: %v", err)
		}
		if err := e2.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		if !allowed(t, e2, bob, "440103", policies.ObjCase, policies.ActDecide) {
			t.Fatal("grant made on a stale instance was lost")
		}
		if err := e2.Revoke(ctx, bob, policies.RoleReviewer, "4401"); err != nil {
			t.Fatalf("Revoke on e2: %v", err)
		}
		if err := e1.Reload(ctx); err != nil {
			t.Fatalf("Reload: %v", err)
		}
		if allowed(t, e1, bob, "440103", policies.ObjCase, policies.ActDecide) {
			t.Fatal("e1 still honours a grant revoked on e2 after Reload")
		}

		// StartAutoReload brings e2 up to date on its own and stops with ctx.
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		e2.StartAutoReload(actx, 20*time.Millisecond)
		mustGrant(t, e1, bob, policies.RoleAdmin, "44")
		deadline := time.Now().Add(5 * time.Second)
		for !allowed(t, e2, bob, "44", policies.ObjStaff, policies.ActManage) {
			if time.Now().After(deadline) {
				t.Fatal("auto-reload did not pick up the grant within 5 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestRegionsAndRoles(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		e := newEnforcer(t, d)
		s := staff(t, d.Ent, "alice", "bob_1", "carol")
		alice, bob, carol := s[0], s[1], s[2]
		mustGrant(t, e, alice, policies.RoleReviewer, "4407")
		mustGrant(t, e, alice, policies.RoleReviewer, "440103")
		mustGrant(t, e, alice, policies.RoleReviewer, "440704") // inside 4407: not listed
		mustGrant(t, e, alice, policies.RoleAdmin, "44")
		mustGrant(t, e, bob, policies.RoleReviewer, "4407")
		mustGrant(t, e, bob, policies.RoleSupervisor, "4401")
		mustGrant(t, e, bob, policies.RoleReviewer, "44")

		tests := []struct {
			sub, obj, act string
			want          []string
		}{
			{alice, policies.ObjCase, policies.ActDecide, []string{"440103", "4407"}},
			{alice, policies.ObjEvidence, policies.ActView, []string{"440103", "4407"}},
			{alice, policies.ObjStaff, policies.ActManage, []string{"44"}},
			{alice, policies.ObjCase, policies.ActReassign, nil},
			{bob, policies.ObjCase, policies.ActList, []string{"44"}},
			{bob, policies.ObjCase, policies.ActReassign, []string{"4401"}},
			{carol, policies.ObjCase, policies.ActList, nil},
			{policies.Subject("ghost"), policies.ObjCase, policies.ActList, nil},
			{"reviewer", policies.ObjCase, policies.ActList, nil},
		}
		for _, tt := range tests {
			got := e.Regions(tt.sub, tt.obj, tt.act)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Regions(%s, %s:%s) = %q, want %q", tt.sub, tt.obj, tt.act, got, tt.want)
			}
			if anywhere := e.AllowedAnywhere(tt.sub, tt.obj, tt.act); anywhere != (len(tt.want) > 0) {
				t.Errorf("AllowedAnywhere(%s, %s:%s) = %v", tt.sub, tt.obj, tt.act, anywhere)
			}
		}

		wantRoles := []policies.Grant{
			{Role: policies.RoleAdmin, Region: "44"},
			{Role: policies.RoleReviewer, Region: "440103"},
			{Role: policies.RoleReviewer, Region: "4407"},
			{Role: policies.RoleReviewer, Region: "440704"},
		}
		if got := e.RolesOf(alice); !slices.Equal(got, wantRoles) {
			t.Errorf("RolesOf(alice) = %v, want %v", got, wantRoles)
		}
		if got := e.RolesOf(carol); len(got) != 0 {
			t.Errorf("RolesOf(carol) = %v, want none", got)
		}
	})
}

func TestGrantRefusesBadInput(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnforcer(t, d)
		alice := staff(t, d.Ent, "alice")[0]
		tests := []struct {
			sub, role, region string
			want              error
		}{
			{alice, "root", "44", policies.ErrInvalidRole},
			{alice, "Reviewer", "44", policies.ErrInvalidRole},
			{alice, "", "44", policies.ErrInvalidRole},
			{alice, policies.RoleReviewer, "", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "4", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "45", policies.ErrInvalidRegion},   // not Guangdong
			{alice, policies.RoleReviewer, "1101", policies.ErrInvalidRegion}, // Beijing
			{alice, policies.RoleReviewer, "440", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "44070", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "4407031", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "44o7", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, " 4407", policies.ErrInvalidRegion},
			{alice, policies.RoleReviewer, "4400", policies.ErrInvalidRegion},   // use 44
			{alice, policies.RoleReviewer, "440700", policies.ErrInvalidRegion}, // use 4407
			{alice, policies.RoleReviewer, "440001", policies.ErrInvalidRegion},
			{"alice", policies.RoleReviewer, "44", policies.ErrInvalidSubject},
			{"staff:Alice", policies.RoleReviewer, "44", policies.ErrInvalidSubject},
			{"reviewer", policies.RoleAdmin, "44", policies.ErrInvalidSubject},
			{policies.Subject("nobody"), policies.RoleReviewer, "44", policies.ErrUnknownStaff},
		}
		for _, tt := range tests {
			if err := e.Grant(ctx, tt.sub, tt.role, tt.region); !errors.Is(err, tt.want) {
				t.Errorf("Grant(%q, %q, %q) error = %v, want %v", tt.sub, tt.role, tt.region, err, tt.want)
			}
			if err := e.Revoke(ctx, tt.sub, tt.role, tt.region); tt.want != policies.ErrUnknownStaff && !errors.Is(err, tt.want) {
				t.Errorf("Revoke(%q, %q, %q) error = %v, want %v", tt.sub, tt.role, tt.region, err, tt.want)
			}
		}
		if n := d.Ent.CasbinRule.Query().CountX(ctx); n != 0 {
			t.Fatalf("refused grants left %d rows", n)
		}

		mustGrant(t, e, alice, policies.RoleReviewer, "440703")
		if err := e.Grant(ctx, alice, policies.RoleReviewer, "440703"); !errors.Is(err, policies.ErrAlreadyGranted) {
			t.Fatalf("duplicate Grant error = %v, want ErrAlreadyGranted", err)
		}
		if n := d.Ent.CasbinRule.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d rows after a duplicate grant, want 1", n)
		}
		if err := policies.ValidateGrant(policies.RoleSupervisor, "4407"); err != nil {
			t.Fatalf("ValidateGrant(supervisor, 4407) = %v", err)
		}
	})
}

// TestAdapter drives the adapter the way Casbin does and checks the rows.
func TestAdapter(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, err := policies.NewAdapter(d.Ent)
		if err != nil {
			t.Fatal(err)
		}
		rules := [][]string{
			{"staff:alice", "reviewer", "4407"},
			{"staff:alice", "supervisor", "4401"},
			{"staff:bob_1", "admin", "44"},
		}
		if err := a.AddPoliciesCtx(ctx, "g", "g", rules); err != nil {
			t.Fatalf("AddPolicies: %v", err)
		}
		// Again, plus one new: the stored ones are skipped, not an error.
		if err := a.AddPolicies("g", "g", append(rules, []string{"staff:carol", "reviewer", "44"})); err != nil {
			t.Fatalf("AddPolicies again: %v", err)
		}
		if err := a.AddPolicy("g", "g", rules[0]); err != nil {
			t.Fatalf("AddPolicy of a stored rule: %v", err)
		}
		if n := d.Ent.CasbinRule.Query().CountX(ctx); n != 4 {
			t.Fatalf("%d rows, want 4", n)
		}
		// A batch with one bad rule stores nothing.
		if err := a.AddPolicies("g", "g", [][]string{{"staff:dave", "reviewer", "44"}, {"staff:dave", "root", "44"}}); err == nil {
			t.Fatal("AddPolicies with an invalid role succeeded")
		}
		// Permissions are read-only.
		if err := a.AddPolicy("p", "p", []string{"reviewer", "staff", "manage"}); !errors.Is(err, policies.ErrPermissionsReadOnly) {
			t.Fatalf("AddPolicy(p) error = %v, want ErrPermissionsReadOnly", err)
		}
		if err := a.RemovePolicy("p", "p", []string{"reviewer", "case", "read"}); !errors.Is(err, policies.ErrPermissionsReadOnly) {
			t.Fatalf("RemovePolicy(p) error = %v, want ErrPermissionsReadOnly", err)
		}

		if err := a.RemovePolicies("g", "g", [][]string{rules[1]}); err != nil {
			t.Fatalf("RemovePolicies: %v", err)
		}
		if err := a.RemoveFilteredPolicy("g", "g", 1, "", "44"); err != nil { // every grant at 44
			t.Fatalf("RemoveFilteredPolicy: %v", err)
		}
		if err := a.RemoveFilteredPolicy("g", "g", 0, ""); err == nil {
			t.Fatal("RemoveFilteredPolicy with an empty filter succeeded")
		}
		rows := d.Ent.CasbinRule.Query().AllX(ctx)
		if len(rows) != 1 || rows[0].Ptype != "g" || rows[0].V0 != "staff:alice" || rows[0].V1 != "reviewer" || rows[0].V2 != "4407" {
			t.Fatalf("rows = %v, want only g staff:alice reviewer 4407", rows)
		}

		// A hand-inserted p row or malformed g row grants nothing.
		d.Ent.CasbinRule.Create().SetPtype("p").SetV0("reviewer").SetV1("staff").SetV2("manage").ExecX(ctx)
		d.Ent.CasbinRule.Create().SetPtype("g").SetV0("staff:mallory").SetV1("root").SetV2("44").ExecX(ctx)
		m := loadModel(t)
		if err := a.LoadPolicyCtx(ctx, m); err != nil {
			t.Fatalf("LoadPolicy: %v", err)
		}
		g, _ := m.GetPolicy("g", "g")
		if !slices.EqualFunc(g, [][]string{{"staff:alice", "reviewer", "4407"}}, slices.Equal) {
			t.Fatalf("loaded g rules = %q", g)
		}
		p, _ := m.GetPolicy("p", "p")
		perms, err := policies.RolePermissions()
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, ps := range perms {
			total += len(ps)
		}
		if len(p) != total || slices.ContainsFunc(p, func(r []string) bool { return r[0] == "reviewer" && r[1] == "staff" }) {
			t.Fatalf("loaded p rules = %q, want exactly policy.csv's %d", p, total)
		}

		// SavePolicy rewrites the g rows from the model and leaves p alone.
		if err := m.AddPolicy("g", "g", []string{"staff:bob_1", "admin", "44"}); err != nil {
			t.Fatal(err)
		}
		if err := a.SavePolicyCtx(ctx, m); err != nil {
			t.Fatalf("SavePolicy: %v", err)
		}
		if n := d.Ent.CasbinRule.Query().Where(casbinrule.Ptype("g")).CountX(ctx); n != 2 {
			t.Fatalf("%d g rows after SavePolicy, want 2", n)
		}
		if n := d.Ent.CasbinRule.Query().Where(casbinrule.Ptype("p"), casbinrule.V0("reviewer")).CountX(ctx); n != 1 {
			t.Fatalf("SavePolicy touched p rows")
		}
	})
}

func loadModel(t *testing.T) model.Model {
	t.Helper()
	text, err := os.ReadFile("model.conf")
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.NewModelFromString(string(text))
	if err != nil {
		t.Fatalf("model.conf: %v", err)
	}
	return m
}

// TestPolicyFile checks policy.csv with Casbin's own line parser, and the
// role rows against the application's permissions and separation of duties.
func TestPolicyFile(t *testing.T) {
	text, err := os.ReadFile("policy.csv")
	if err != nil {
		t.Fatal(err)
	}
	known := policies.KnownPermissions()
	m := loadModel(t)
	byRole := map[string][]policies.Permission{}
	for i, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := persist.LoadPolicyLine(line, m); err != nil {
			t.Errorf("line %d %q: Casbin cannot parse it: %v", i+1, line, err)
			continue
		}
		f := strings.Split(line, ",")
		for j := range f {
			f[j] = strings.TrimSpace(f[j])
		}
		if len(f) != 4 || f[0] != "p" {
			t.Errorf("line %d %q: want p, role, object, action", i+1, line)
			continue
		}
		perm := policies.Permission{Obj: f[2], Act: f[3]}
		if !slices.Contains(policies.Roles(), f[1]) {
			t.Errorf("line %d: unknown role %q", i+1, f[1])
		}
		if !slices.Contains(known, perm) {
			t.Errorf("line %d: unknown permission %s", i+1, perm)
		}
		if slices.Contains(byRole[f[1]], perm) {
			t.Errorf("line %d: %s %s listed twice", i+1, f[1], perm)
		}
		byRole[f[1]] = append(byRole[f[1]], perm)
	}

	// The package reads the file the same way.
	parsed, err := policies.RolePermissions()
	if err != nil {
		t.Fatalf("RolePermissions: %v", err)
	}
	for _, role := range policies.Roles() {
		if len(byRole[role]) == 0 {
			t.Errorf("role %s has no permissions", role)
		}
		if !slices.Equal(parsed[role], byRole[role]) {
			t.Errorf("RolePermissions()[%s] = %v, file says %v", role, parsed[role], byRole[role])
		}
	}

	has := func(role, obj, act string) bool {
		return slices.Contains(byRole[role], policies.Permission{Obj: obj, Act: act})
	}
	for _, p := range byRole[policies.RoleReviewer] {
		if !has(policies.RoleSupervisor, p.Obj, p.Act) {
			t.Errorf("supervisor lacks reviewer permission %s", p)
		}
	}
	for _, p := range []policies.Permission{
		{policies.ObjCase, policies.ActReassign}, {policies.ObjCase, policies.ActApproveSecond},
		{policies.ObjCase, policies.ActResendSMS}, {policies.ObjCase, policies.ActHold},
		{policies.ObjCase, policies.ActBulkAssign},
		{policies.ObjAudit, policies.ActRead}, {policies.ObjAudit, policies.ActExport},
		{policies.ObjQA, policies.ActReview}, {policies.ObjDashboard, policies.ActRead},
	} {
		if !has(policies.RoleSupervisor, p.Obj, p.Act) {
			t.Errorf("supervisor lacks %s", p)
		}
		if has(policies.RoleReviewer, p.Obj, p.Act) {
			t.Errorf("reviewer has supervisor-only %s", p)
		}
	}
	// Separation of duties: whoever hands out roles never sees evidence nor
	// works cases.
	for _, p := range []policies.Permission{
		{policies.ObjEvidence, policies.ActView}, {policies.ObjCase, policies.ActDecide},
		{policies.ObjCase, policies.ActClaim}, {policies.ObjCase, policies.ActApproveSecond},
		{policies.ObjCase, policies.ActReassign}, {policies.ObjCase, policies.ActResendSMS},
		{policies.ObjCase, policies.ActHold}, {policies.ObjCase, policies.ActBulkAssign},
	} {
		if has(policies.RoleAdmin, p.Obj, p.Act) {
			t.Errorf("admin holds %s, against separation of duties", p)
		}
	}
	for _, p := range []policies.Permission{{policies.ObjStaff, policies.ActManage}, {policies.ObjReasons, policies.ActManage}} {
		if !has(policies.RoleAdmin, p.Obj, p.Act) {
			t.Errorf("admin lacks %s", p)
		}
		if has(policies.RoleReviewer, p.Obj, p.Act) || has(policies.RoleSupervisor, p.Obj, p.Act) {
			t.Errorf("a case worker holds %s, against separation of duties", p)
		}
	}
	// Every permission the application checks is held by some role, so no
	// route is unreachable by construction.
	for _, p := range known {
		if !slices.ContainsFunc(policies.Roles(), func(r string) bool { return has(r, p.Obj, p.Act) }) {
			t.Errorf("no role holds %s", p)
		}
	}
}

// TestChecksDuringReloads runs permission checks while grants change, for
// the race detector: checks read a snapshot that reloads replace whole.
func TestChecksDuringReloads(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		e := newEnforcer(t, d)
		alice := staff(t, d.Ent, "alice")[0]
		mustGrant(t, e, alice, policies.RoleReviewer, "44")
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				// alice keeps reviewer@44 throughout, so this never fails.
				if ok, err := e.Allowed(alice, "440703", policies.ObjCase, policies.ActRead); err != nil || !ok {
					t.Errorf("Allowed during reload = %v, %v", ok, err)
					return
				}
				e.Regions(alice, policies.ObjCase, policies.ActReassign)
			}
		}()
		for range 10 {
			mustGrant(t, e, alice, policies.RoleSupervisor, "4407")
			if err := e.Revoke(ctx, alice, policies.RoleSupervisor, "4407"); err != nil {
				t.Fatal(err)
			}
		}
		close(stop)
		<-done
	})
}
