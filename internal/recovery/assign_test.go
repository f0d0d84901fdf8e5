package recovery_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// desk is a city's review desk on a shared database, worked by three
// instances (each its own pool and service stack) with auto-assignment on.
type desk struct {
	d     *db.DB
	clock *clock.Adjustable
	inst  []*recovery.Service
	enf   *policies.Enforcer
	n     int
}

func newDesk(t *testing.T, d *db.DB) *desk {
	t.Helper()
	keys, err := secret.New(bytes.Repeat([]byte("a"), 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewAdjustable()
	clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai)) // a Monday
	k := &desk{d: d, clock: clk}
	for i, pool := range []*db.DB{d, testenv.AnotherInstance(t, d), testenv.AnotherInstance(t, d)} {
		svc, err := services.New(services.Options{DB: pool, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing},
			AutoAssign: true})
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		k.inst = append(k.inst, svc.Recovery)
	}
	if k.enf, err = policies.NewEnforcer(context.Background(), d.Ent); err != nil {
		t.Fatal(err)
	}
	return k
}

// member adds a staff user with a role in region, signed in to the console
// at lastLogin (nil: never).
func (k *desk) member(t *testing.T, username, role, region string, lastLogin *time.Time) recovery.Reviewer {
	t.Helper()
	ctx := context.Background()
	c := k.d.Ent.StaffUser.Create().SetUsername(username).SetUsernameKey(username).SetName(username).SetPasswordHash("x")
	if lastLogin != nil {
		c.SetLastLoginAt(*lastLogin)
	}
	u := c.SaveX(ctx)
	if err := k.enf.Grant(ctx, policies.Subject(username), role, region); err != nil {
		t.Fatal(err)
	}
	return recovery.Reviewer{ID: u.ID, Username: username, Regions: []string{region}}
}

// ready puts n verified person cases of 江门市蓬江区 with their evidence rows
// in place, as the applicant API leaves them before submission.
func (k *desk) ready(t *testing.T, n int) []*ent.RecoveryCase {
	t.Helper()
	ctx := context.Background()
	out := make([]*ent.RecoveryCase, n)
	for i := range out {
		k.n++
		acc := k.d.Ent.Account.Create().SetKind("person").SetUsername(fmt.Sprintf("user_%d", k.n)).
			SetUsernameKey(fmt.Sprintf("user_%d", k.n)).SetPasswordHash("x").SetName("张三").SetCertType("id_card").
			SetCertNumber(fmt.Sprintf("cert-%d", k.n)).SetPhone(fmt.Sprintf("1390000%04d", k.n)).SetRegionCode("440703").
			SetVerified(true).SaveX(ctx)
		rc := k.d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
			SetTypedCertNumber("x").SetTypedName("张三").SetNameSimilarity(100).SetTokenHash([]byte{byte(k.n)}).
			SetAccount(acc).SetPhoneVerifiedAt(k.clock.Now()).SaveX(ctx)
		for _, kind := range recovery.RequiredEvidence("person") {
			k.d.Ent.Evidence.Create().SetCaseID(rc.ID).SetObjectKey(rc.ID.String() + kind).
				SetSha256(fmt.Sprintf("%064x", rand.Uint64())).SetPhash(rand.Int64()).SetSize(1).SetWidth(1).SetHeight(1).
				SetContentType("image/png").SetKind(evidence.Kind(kind)).ExecX(ctx)
		}
		out[i] = rc
	}
	return out
}

// submitAll submits the cases at once, two workers per instance.
func (k *desk) submitAll(t *testing.T, cases []*ent.RecoveryCase) {
	t.Helper()
	work := make(chan *ent.RecoveryCase)
	var wg sync.WaitGroup
	for w := 0; w < 2*len(k.inst); w++ {
		svc := k.inst[w%len(k.inst)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rc := range work {
				if _, err := svc.Submit(context.Background(), rc); err != nil {
					t.Errorf("submit: %v", err)
				}
			}
		}()
	}
	for _, rc := range cases {
		work <- rc
	}
	close(work)
	wg.Wait()
}

// loads are the open claims of each reviewer, by username, read from the
// cases themselves.
func (k *desk) loads(t *testing.T, who ...recovery.Reviewer) map[string]int {
	t.Helper()
	ctx := context.Background()
	out := map[string]int{}
	for _, rv := range who {
		out[rv.Username] = k.d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimedBy(rv.ID),
			recoverycase.ClaimExpiresAtGT(k.clock.Now())).CountX(ctx)
	}
	return out
}

func (k *desk) waiting(t *testing.T) int {
	t.Helper()
	return k.d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted)).CountX(context.Background())
}

// spread is max − min of the loads.
func spread(loads map[string]int) int {
	var vs []int
	for _, v := range loads {
		vs = append(vs, v)
	}
	return slices.Max(vs) - slices.Min(vs)
}

func TestAutoAssignmentBalancesLoadUnderTheCapAcrossInstancesAndFillsFreedClaims(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k := newDesk(t, d)
		now := k.clock.Now()
		signedIn := now.Add(-30 * time.Minute)
		friday := time.Date(2026, 3, 13, 17, 0, 0, 0, rules.Shanghai)   // the last working day: still on duty
		thursday := time.Date(2026, 3, 12, 17, 0, 0, 0, rules.Shanghai) // a whole working day missed: away
		var active []recovery.Reviewer
		for i := 1; i <= 5; i++ {
			at := signedIn
			if i == 5 {
				at = friday
			}
			active = append(active, k.member(t, fmt.Sprintf("jm_rv%d", i), "reviewer", "4407", &at))
		}
		paused := k.member(t, "jm_rv6", "reviewer", "4407", &signedIn)
		away := k.member(t, "jm_away", "reviewer", "4407", &thursday)
		never := k.member(t, "jm_new", "reviewer", "4407", nil)
		guangzhou := k.member(t, "gz_rv", "reviewer", "4401", &signedIn)
		super := k.member(t, "jm_super", "supervisor", "4407", &signedIn)
		if err := k.inst[0].SetPaused(ctx, paused, true); err != nil {
			t.Fatal(err)
		}
		others := []recovery.Reviewer{paused, away, never, guangzhou, super}

		// 48 submissions at once, on three instances: 5 on-duty reviewers
		// with room for 50 share them within one case of each other.
		k.submitAll(t, k.ready(t, 48))
		loads := k.loads(t, active...)
		t.Logf("after 48 submissions: %v (spread %d)", loads, spread(loads))
		if spread(loads) > 1 {
			t.Fatalf("loads differ by more than 1: %v", loads)
		}
		for u, n := range k.loads(t, others...) {
			if n != 0 {
				t.Errorf("%s (paused, away, never signed in, another city or a supervisor) was assigned %d", u, n)
			}
		}
		if w := k.waiting(t); w != 0 {
			t.Fatalf("%d cases wait while reviewers have room", w)
		}

		// 152 more: everyone on duty reaches the cap of 10, the other 150 wait.
		k.submitAll(t, k.ready(t, 152))
		loads = k.loads(t, active...)
		t.Logf("after 200 submissions: %v (spread %d), %d waiting", loads, spread(loads), k.waiting(t))
		for u, n := range loads {
			if n != recovery.DefaultAssignCap {
				t.Errorf("%s holds %d, want the cap %d", u, n, recovery.DefaultAssignCap)
			}
		}
		for u, n := range k.loads(t, others...) {
			if n != 0 {
				t.Errorf("%s was assigned %d", u, n)
			}
		}
		if w := k.waiting(t); w != 150 {
			t.Fatalf("%d waiting, want 150", w)
		}
		// They wait in the region's pending tab (待分配), where any reviewer
		// of the region can still claim them.
		page, err := k.inst[1].Queue(ctx, paused, recovery.QueueFilter{Tab: recovery.TabPending})
		if err != nil || page.Counts[recovery.TabPending] != 150 {
			t.Fatalf("pending tab: %v %v", page.Counts, err)
		}
		// Each assignment is a claim with its lease, a case event and an audit entry.
		if n := d.Ent.CaseEvent.Query().Where(caseevent.Type(string(vocab.EventAssigned))).CountX(ctx); n != 50 {
			t.Fatalf("%d assigned events for 50 assignments", n)
		}
		if n := d.Ent.AuditEvent.Query().Where(auditevent.Action(string(vocab.EventAssigned.Action()))).CountX(ctx); n != 50 {
			t.Fatalf("%d audit entries for 50 assignments", n)
		}
		one := d.Ent.RecoveryCase.Query().Where(recoverycase.ClaimedBy(active[0].ID)).FirstX(ctx)
		if one.ClaimExpiresAt == nil || one.ClaimExpiresAt.Before(now.Add(recovery.AssignTTL)) || one.ClaimExpiresAt.After(k.clock.Now().Add(recovery.AssignTTL)) {
			t.Fatalf("an assignment's lease ends %v", one.ClaimExpiresAt)
		}
		// Claiming a case already yours changes nothing.
		if _, err := k.inst[2].Claim(ctx, active[0], *one.CaseNumber); err != nil {
			t.Fatal(err)
		}
		if again := d.Ent.RecoveryCase.GetX(ctx, one.ID); again.Version != one.Version || !again.ClaimExpiresAt.Equal(*one.ClaimExpiresAt) {
			t.Fatalf("claiming an assigned case changed it: version %d→%d, lease %v→%v", one.Version, again.Version, one.ClaimExpiresAt, again.ClaimExpiresAt)
		}

		// A decision frees a claim: the oldest waiting case takes it, in the
		// decision's transaction.
		oldest := d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted)).
			Order(ent.Asc(recoverycase.FieldDueBy), ent.Asc(recoverycase.FieldSubmittedAt), ent.Asc(recoverycase.FieldID)).FirstX(ctx)
		if err := k.inst[1].Decide(ctx, active[0], *one.CaseNumber, recovery.Decision{Outcome: vocab.OutcomeApprove, Version: one.Version}); err != nil {
			t.Fatal(err)
		}
		if got := d.Ent.RecoveryCase.GetX(ctx, oldest.ID); got.Status != state.InReview || got.ClaimedBy == nil || *got.ClaimedBy != active[0].ID {
			t.Fatalf("after the decision the oldest waiting case is %s, claimed by %v", got.Status, got.ClaimedBy)
		}
		if w := k.waiting(t); w != 149 {
			t.Fatalf("%d waiting after a decision, want 149", w)
		}

		// Resuming takes a share at once; so does signing in, and a raised cap.
		if err := k.inst[2].SetPaused(ctx, paused, false); err != nil {
			t.Fatal(err)
		}
		if n := k.loads(t, paused)[paused.Username]; n != recovery.DefaultAssignCap {
			t.Fatalf("resumed reviewer holds %d", n)
		}
		// Signing in on one instance sweeps while the others sweep too (a
		// lease expiry, another sign-in): the newcomer gets the cap, no more.
		d.Ent.StaffUser.UpdateOneID(away.ID).SetLastLoginAt(k.clock.Now()).ExecX(ctx)
		var total atomic.Int64
		var wg sync.WaitGroup
		for _, svc := range k.inst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := svc.AssignWaiting(ctx)
				if err != nil {
					t.Errorf("sweep: %v", err)
				}
				total.Add(int64(n))
			}()
		}
		wg.Wait()
		if total.Load() != recovery.DefaultAssignCap {
			t.Fatalf("three sweeps at once assigned %d, want %d", total.Load(), recovery.DefaultAssignCap)
		}
		sup := recovery.Reviewer{ID: super.ID, Username: super.Username, Regions: []string{"4407"}}
		if err := k.inst[1].SetCap(ctx, sup, active[1].Username, 12); err != nil {
			t.Fatal(err)
		}
		if err := k.inst[1].SetCap(ctx, recovery.Reviewer{ID: super.ID, Username: super.Username, Regions: []string{"4401"}}, active[2].Username, 50); err == nil {
			t.Fatal("a supervisor of another city set a 江门 reviewer's cap")
		}
		if err := k.inst[1].SetCap(ctx, sup, active[2].Username, recovery.MaxAssignCap+1); err == nil {
			t.Fatal("a cap above the maximum was accepted")
		}
		caps := map[string]int{active[1].Username: 12}
		everyone := append(slices.Clone(active), paused, away)
		check := func(when string, offDuty ...recovery.Reviewer) {
			t.Helper()
			loads := k.loads(t, everyone...)
			t.Logf("%s: %v, %d waiting", when, loads, k.waiting(t))
			for _, rv := range everyone {
				want := recovery.DefaultAssignCap
				if c, ok := caps[rv.Username]; ok {
					want = c
				}
				if slices.ContainsFunc(offDuty, func(o recovery.Reviewer) bool { return o.ID == rv.ID }) {
					want = 0
				}
				if loads[rv.Username] != want {
					t.Errorf("%s: %s holds %d, want %d (the cap, with cases waiting)", when, rv.Username, loads[rv.Username], want)
				}
			}
			if n := k.loads(t, never, guangzhou, super)[never.Username]; n != 0 {
				t.Errorf("%s: a reviewer who never signed in holds %d", when, n)
			}
		}
		check("after a resume, a sign-in and a raised cap")
		if w := k.waiting(t); w != 200-1-72 {
			t.Fatalf("%d waiting, want %d", w, 200-1-72)
		}
		if n := d.Ent.AuditEvent.Query().Where(auditevent.ActionIn(string(vocab.ActionStaffPaused), string(vocab.ActionStaffResumed),
			string(vocab.ActionStaffCapSet))).CountX(ctx); n != 3 {
			t.Fatalf("%d audit entries for a pause, a resume and a cap", n)
		}

		// The next day every lease has run out: the expiry releases them and
		// the same sweep gives them out again, under the same caps, to those
		// still on duty: jm_rv5 last signed in on Friday, and on Tuesday
		// Monday is the last working day.
		k.clock.Advance(25 * time.Hour)
		if _, err := k.inst[2].ReleaseExpiredClaims(ctx); err != nil {
			t.Fatal(err)
		}
		check("after the leases ran out", active[4])
		if w := k.waiting(t); w != 200-1-62 {
			t.Fatalf("%d waiting, want %d", w, 200-1-62)
		}
		if u := d.Ent.StaffUser.Query().Where(staffuser.ID(paused.ID)).OnlyX(ctx); u.Paused {
			t.Fatal("still paused")
		}
	})
}
