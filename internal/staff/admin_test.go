package staff_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/casbinrule"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/testenv"
	"recoverydesk/policies"
)

func TestCheckNewNamesEveryWrongField(t *testing.T) {
	for _, tc := range []struct {
		n    staff.NewStaff
		want []string // fields
	}{
		{staff.NewStaff{Username: "jm_reviewer", Name: "李审核", Role: "reviewer", Region: "4407"}, nil},
		{staff.NewStaff{Username: "gd_admin", Name: "陈管理", Role: "admin", Region: "44"}, nil},
		{staff.NewStaff{Username: "pj_reviewer", Name: "区审核", Role: "reviewer", Region: "440703"}, nil},
		{staff.NewStaff{Username: "1abc", Name: "", Role: "boss", Region: "4499"}, []string{"username", "name", "role", "region"}},
		{staff.NewStaff{Username: "jm_reviewer", Name: strings.Repeat("名", 51), Role: "reviewer", Region: "4407"}, []string{"name"}},
		{staff.NewStaff{Username: "jm_reviewer", Name: "李审核", Role: "reviewer", Region: "440700"}, []string{"region"}},
		{staff.NewStaff{Username: "jm_reviewer", Name: "李审核", Role: "reviewer", Region: "4507"}, []string{"region"}},
	} {
		var got []string
		for _, p := range staff.CheckNew(tc.n) {
			if p.Message == "" || p.Code == "" {
				t.Errorf("%+v: a problem without a message or code: %+v", tc.n, p)
			}
			if len(got) == 0 || got[len(got)-1] != p.Field {
				got = append(got, p.Field)
			}
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%+v: fields %v, want %v", tc.n, got, tc.want)
		}
	}
}

// fixture is a staff service with its enforcer on a fresh database.
type fixture struct {
	d     *db.DB
	enf   *policies.Enforcer
	admin *staff.Admin
	svc   *staff.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	d := testenv.SQLite(t)
	keys, err := secret.New(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := staff.New(d, clock.NewAdjustable(), passhash.Hasher{Params: passhash.Testing}, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	enf, err := policies.NewEnforcer(context.Background(), d.Ent)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, enf: enf, admin: svc.Admin(enf), svc: svc}
}

// add creates a staff user through the shared creation path and returns
// them as an actor.
func (f *fixture) add(t *testing.T, username, role, region string) staff.Actor {
	t.Helper()
	ctx := context.Background()
	err := staff.Create(ctx, f.d, staff.Creator{Kind: audit.ActorSystem, Actor: "test"},
		staff.NewStaff{Username: username, Name: username, Role: role, Region: region}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.enf.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	u := f.d.Ent.StaffUser.Query().Where(staffuser.UsernameKey(username)).OnlyX(ctx)
	return staff.Actor{ID: u.ID, Key: u.UsernameKey}
}

func TestCreateCommitsTheUserTheGrantAndTheAuditEntryTogether(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// An audit entry that cannot be stored (actor longer than the column)
	// must take the user and the grant down with it.
	err := staff.Create(ctx, f.d, staff.Creator{Kind: audit.ActorSystem, Actor: strings.Repeat("x", 65)},
		staff.NewStaff{Username: "jm_reviewer", Name: "李审核", Role: "reviewer", Region: "4407"}, "hash")
	if err == nil {
		t.Fatal("an unstorable audit entry did not fail the creation")
	}
	if n := f.d.Ent.StaffUser.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d staff users after a failed creation", n)
	}
	if n := f.d.Ent.CasbinRule.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d grants after a failed creation", n)
	}
	f.add(t, "jm_reviewer", "reviewer", "4407")
	if got := f.enf.RolesOf(policies.Subject("jm_reviewer")); len(got) != 1 || got[0] != (policies.Grant{Role: "reviewer", Region: "4407"}) {
		t.Fatalf("grants %v", got)
	}
	err = staff.Create(ctx, f.d, staff.Creator{Kind: audit.ActorSystem, Actor: "test"},
		staff.NewStaff{Username: "JM_Reviewer", Name: "重名", Role: "admin", Region: "44"}, "hash")
	if !errors.Is(err, staff.ErrUsernameTaken) {
		t.Fatalf("same username in another case: %v", err)
	}
	if n := f.d.Ent.CasbinRule.Query().Where(casbinrule.V1("admin")).CountX(ctx); n != 0 {
		t.Fatal("a refused creation left its grant behind")
	}
}

func TestAdministratorsActOnlyOnOthersAndWithinTheirRegions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gd := f.add(t, "gd_admin", "admin", "44")
	jm := f.add(t, "jm_admin", "admin", "4407")
	f.add(t, "gd_super", "supervisor", "44")
	f.add(t, "pj_reviewer", "reviewer", "440703")

	if _, err := f.admin.Grant(ctx, gd, "gd_admin", "reviewer", "44"); !errors.Is(err, staff.ErrSelfRoles) {
		t.Fatalf("self-grant: %v", err)
	}
	if err := f.admin.Revoke(ctx, gd, "gd_admin", "admin", "44"); !errors.Is(err, staff.ErrSelfRoles) {
		t.Fatalf("self-revoke: %v", err)
	}
	if _, err := f.admin.ResetPassword(ctx, gd, "GD_Admin"); !errors.Is(err, staff.ErrSelfAccount) {
		t.Fatalf("self-reset: %v", err)
	}
	// The city administrator works inside 江门 only.
	if _, err := f.admin.Grant(ctx, jm, "pj_reviewer", "supervisor", "44"); !errors.Is(err, staff.ErrOutOfScope) {
		t.Fatalf("city admin grants the province: %v", err)
	}
	if pending, err := f.admin.Grant(ctx, jm, "pj_reviewer", "supervisor", "440703"); err != nil || !pending {
		t.Fatalf("city admin grants in the city: pending %v, %v", pending, err)
	}
	// A supervisor sees evidence: the grant waits for a second administrator,
	// and the one who asked for it cannot confirm it.
	if ok, _ := f.enf.Allowed(policies.Subject("pj_reviewer"), "440703", policies.ObjCase, policies.ActReassign); ok {
		t.Fatal("the requested supervisor role is in force before a second administrator confirmed it")
	}
	if err := f.admin.Confirm(ctx, jm, "pj_reviewer", "supervisor", "440703"); !errors.Is(err, staff.ErrOwnRequest) {
		t.Fatalf("the requester confirms their own request: %v", err)
	}
	if err := f.admin.Confirm(ctx, gd, "pj_reviewer", "supervisor", "440703"); err != nil {
		t.Fatalf("a second administrator confirms: %v", err)
	}
	if err := f.admin.Confirm(ctx, gd, "pj_reviewer", "supervisor", "440703"); !errors.Is(err, staff.ErrNoSuchRequest) {
		t.Fatalf("confirm twice: %v", err)
	}
	if err := f.admin.SetDisabled(ctx, jm, "gd_super", true); !errors.Is(err, staff.ErrOutOfScope) {
		t.Fatalf("city admin disables a province supervisor: %v", err)
	}
	if _, err := f.admin.Create(ctx, jm, staff.NewStaff{Username: "sz_reviewer", Name: "深圳", Role: "reviewer", Region: "4403"}); !errors.Is(err, staff.ErrOutOfScope) {
		t.Fatalf("city admin creates staff elsewhere: %v", err)
	}
	// The grant is in force on this enforcer at once, and stored for others.
	if ok, _ := f.enf.Allowed(policies.Subject("pj_reviewer"), "440703", policies.ObjCase, policies.ActReassign); !ok {
		t.Fatal("the granted supervisor role is not in force")
	}
	other, err := policies.NewEnforcer(ctx, f.d.Ent)
	if err != nil {
		t.Fatal(err)
	}
	if got := other.RolesOf(policies.Subject("pj_reviewer")); len(got) != 2 {
		t.Fatalf("another instance sees %v", got)
	}
	if _, err := f.admin.Grant(ctx, gd, "pj_reviewer", "supervisor", "440703"); !errors.Is(err, staff.ErrAlreadyGranted) {
		t.Fatalf("grant twice: %v", err)
	}
	if err := f.admin.Revoke(ctx, gd, "pj_reviewer", "supervisor", "4407"); !errors.Is(err, staff.ErrNoSuchGrant) {
		t.Fatalf("revoke a grant not held: %v", err)
	}
	if n := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("staff.role_requested"), auditevent.Actor("jm_admin")).CountX(ctx); n != 1 {
		t.Fatalf("%d staff.role_requested entries by jm_admin, want the one that happened", n)
	}
	if n := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("staff.role_confirmed"), auditevent.Actor("gd_admin")).CountX(ctx); n != 1 {
		t.Fatalf("%d staff.role_confirmed entries by gd_admin, want the one that happened", n)
	}
	if n := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("staff.role_granted")).CountX(ctx); n != 0 {
		t.Fatalf("%d staff.role_granted entries: a supervisor role is confirmed, never granted by one administrator", n)
	}
}

func TestResetPasswordReplacesTheOldOneAndLiftsTheLock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gd := f.add(t, "gd_admin", "admin", "44")
	hash, _ := passhash.Hasher{Params: passhash.Testing}.Hash("Old#Pass2468")
	f.d.Ent.StaffUser.Update().Where(staffuser.UsernameKey("gd_admin")).SetPasswordHash(hash).ExecX(ctx)
	target := f.add(t, "jm_reviewer", "reviewer", "4407")
	f.d.Ent.StaffUser.UpdateOneID(target.ID).SetPasswordHash(hash).ExecX(ctx)
	before, err := f.svc.SignIn(ctx, "jm_reviewer", "Old#Pass2468", "") // a session open before the reset
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID, before.SessionEpoch); err != nil {
		t.Fatalf("the session before the reset: %v", err)
	}
	f.d.Ent.StaffUser.UpdateOneID(target.ID).SetFailedLogins(4).SetLockedUntil(time.Now().Add(24 * time.Hour)).ExecX(ctx)
	password, err := f.admin.ResetPassword(ctx, gd, "jm_reviewer")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID, before.SessionEpoch); !errors.Is(err, staff.ErrSessionEnded) {
		t.Fatalf("the session before the reset still stands: %v", err)
	}
	if _, err := f.svc.SignIn(ctx, "jm_reviewer", "Old#Pass2468", ""); !errors.Is(err, staff.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	after, err := f.svc.SignIn(ctx, "jm_reviewer", password, "")
	if err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID, after.SessionEpoch); err != nil {
		t.Fatalf("a session signed in with the new password: %v", err)
	}
	ev := f.d.Ent.AuditEvent.Query().Where(auditevent.Action("staff.password_reset")).OnlyX(ctx)
	if ev.Actor != "gd_admin" || ev.ObjectID != "jm_reviewer" {
		t.Fatalf("audit entry %+v", ev)
	}
	if strings.Contains(ev.String(), password) {
		t.Fatal("the audit entry holds the password")
	}
}

func TestDisablingEndsTheSessionsForGoodAndEnablingDoesNotBringThemBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gd := f.add(t, "gd_admin", "admin", "44")
	target := f.add(t, "jm_reviewer", "reviewer", "4407")
	hash, _ := passhash.Hasher{Params: passhash.Testing}.Hash("Old#Pass2468")
	f.d.Ent.StaffUser.UpdateOneID(target.ID).SetPasswordHash(hash).ExecX(ctx)
	u, err := f.svc.SignIn(ctx, "jm_reviewer", "Old#Pass2468", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.SetDisabled(ctx, gd, "jm_reviewer", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID, u.SessionEpoch); !errors.Is(err, staff.ErrSessionEnded) {
		t.Fatalf("a disabled user's session: %v", err)
	}
	if err := f.admin.SetDisabled(ctx, gd, "jm_reviewer", false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID, u.SessionEpoch); !errors.Is(err, staff.ErrSessionEnded) {
		t.Fatalf("the session opened before disabling came back with enabling: %v", err)
	}
	again, err := f.svc.SignIn(ctx, "jm_reviewer", "Old#Pass2468", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.svc.SessionUser(ctx, target.ID, again.SessionEpoch); err != nil || got.ID != target.ID {
		t.Fatalf("a new session after enabling: %v", err)
	}
	if _, err := f.svc.SessionUser(ctx, target.ID+1000, 0); !errors.Is(err, staff.ErrSessionEnded) {
		t.Fatalf("a session of nobody: %v", err)
	}
}
