package recovery_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

// seededMonth seeds a month of history of about that many cases, drawn
// from seed, up to 18 March 2026 15:00, and returns the team that worked it
// and a clock set to that moment.
func seededMonth(t *testing.T, d *db.DB, cases int, seed uint64) (demodata.Team, *clock.Adjustable) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 3, 18, 15, 0, 0, 0, rules.Shanghai)
	team, err := demodata.CreateTeam(ctx, d, "x", demodata.Team{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := demodata.Generate(ctx, d, demodata.Options{Cases: cases, Months: 1, Now: now, Seed: seed, Team: team, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewAdjustable()
	clk.Set(now)
	return team, clk
}

// queueFixture seeds a month of history (about 3 000 cases) and returns the
// service, on a clock at the end of that month, and the team.
func queueFixture(t *testing.T, d *db.DB) (*recovery.Service, demodata.Team) {
	t.Helper()
	team, clk := seededMonth(t, d, 3000, 7)
	return recovery.New(recovery.Deps{DB: d, Clock: clk}), team
}

// TestQueueKeysetPagesListEveryCaseOnceInOrder walks every page of every
// tab for reviewers of the province, one city (one query per county, merged),
// one county and two cities, and compares with the cases that really are in
// their regions.
func TestQueueKeysetPagesListEveryCaseOnceInOrder(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc, team := queueFixture(t, d)
		all := d.Ent.RecoveryCase.Query().Where(recoverycase.SubmittedAtNotNil()).AllX(ctx)
		for _, regions := range [][]string{{"44"}, {"4401"}, {"440106"}, {"4401", "4403"}} {
			rv := recovery.Reviewer{ID: team.Reviewers[0].ID, Username: team.Reviewers[0].Username, Regions: regions}
			for _, tab := range []string{recovery.TabPending, recovery.TabReturned, recovery.TabDone} {
				var want []string
				for _, c := range all {
					if inTab(c, tab) && slices.ContainsFunc(regions, func(r string) bool { return rules.RegionCovers(r, c.RegionCode) }) {
						want = append(want, *c.CaseNumber)
					}
				}
				var got []string
				var prev *recovery.QueueRow
				after := ""
				for pages := 0; ; pages++ {
					if pages > 200 {
						t.Fatalf("%v %s: more than 200 pages", regions, tab)
					}
					page, err := svc.Queue(ctx, rv, recovery.QueueFilter{Tab: tab, After: after, Limit: 40})
					if err != nil {
						t.Fatal(err)
					}
					for i := range page.Rows {
						r := &page.Rows[i]
						if prev != nil && tab != recovery.TabReturned && r.DueBy != nil && prev.DueBy != nil && r.DueBy.Before(*prev.DueBy) {
							t.Fatalf("%v %s: %s (due %v) after %s (due %v)", regions, tab, r.CaseNumber, r.DueBy, prev.CaseNumber, prev.DueBy)
						}
						got = append(got, r.CaseNumber)
						prev = r
					}
					if page.Next == "" {
						break
					}
					after = page.Next
				}
				slices.Sort(got)
				slices.Sort(want)
				if len(want) == 0 && tab != recovery.TabReturned {
					t.Fatalf("%v %s: the fixture has no case here", regions, tab)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%v %s: listed %d cases (%d distinct), want %d", regions, tab, len(got), len(slices.Compact(slices.Clone(got))), len(want))
				}
			}
		}
	})
}

func inTab(c *ent.RecoveryCase, tab string) bool {
	switch tab {
	case recovery.TabPending:
		return c.Status == state.Submitted
	case recovery.TabReturned:
		return c.Status == state.Returned
	case recovery.TabDone:
		return c.Status == state.Approved || c.Status == state.Rejected
	}
	return false
}

// TestQueueCountsAreCappedAndFollowAClaimAtOnce: a tab past CountCap reads
// "999+", the others are exact, and a case the reviewer claims leaves 待审核
// and appears under 我的 on the very next page (counts are never cached).
func TestQueueCountsAreCappedAndFollowAClaimAtOnce(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	svc, team := queueFixture(t, d)
	rv := recovery.Reviewer{ID: team.Reviewers[0].ID, Username: team.Reviewers[0].Username, Regions: []string{"44"}}
	page, err := svc.Queue(ctx, rv, recovery.QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	done := d.Ent.RecoveryCase.Query().Where(recoverycase.StatusIn(state.Approved, state.Rejected)).CountX(ctx)
	pending := d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted)).CountX(ctx)
	if done <= recovery.CountCap || pending == 0 || pending > recovery.CountCap {
		t.Fatalf("fixture: %d done, %d pending", done, pending)
	}
	if got := page.CountLabel(recovery.TabDone); got != "999+" {
		t.Errorf("已完成 reads %q for %d cases", got, done)
	}
	if got := page.CountLabel(recovery.TabPending); got != fmt.Sprint(pending) {
		t.Errorf("待审核 reads %q, want %d", got, pending)
	}
	mine := page.Counts[recovery.TabMine]
	number := page.Rows[0].CaseNumber
	if _, err := svc.Claim(ctx, rv, number); err != nil {
		t.Fatal(err)
	}
	page, err = svc.Queue(ctx, rv, recovery.QueueFilter{Tab: recovery.TabMine})
	if err != nil {
		t.Fatal(err)
	}
	if page.Counts[recovery.TabPending] != pending-1 || page.Counts[recovery.TabMine] != mine+1 {
		t.Errorf("after the claim: 待审核 %d (was %d), 我的 %d (was %d)", page.Counts[recovery.TabPending], pending,
			page.Counts[recovery.TabMine], mine)
	}
	if !slices.ContainsFunc(page.Rows, func(r recovery.QueueRow) bool { return r.CaseNumber == number && r.ClaimedByMe }) {
		t.Errorf("the claimed case %s is not under 我的", number)
	}
}
