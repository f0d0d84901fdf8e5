package recovery_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

// lapsedQueue seeds a month of history (about 600 cases) and returns the
// service an hour after it, when every seeded claim has lapsed, with a
// reviewer of the whole province.
func lapsedQueue(t *testing.T, d *db.DB) (*recovery.Service, recovery.Reviewer, *clock.Adjustable) {
	t.Helper()
	team, clk := seededMonth(t, d, 600, 3)
	clk.Advance(time.Hour)
	rv := recovery.Reviewer{ID: team.Reviewers[0].ID, Username: team.Reviewers[0].Username, Regions: []string{"44"}}
	return recovery.New(recovery.Deps{DB: d, Clock: clk}), rv, clk
}

// TestClaimNextTakesOneClaimAtATime: a reviewer who opens 下一件 in several
// tabs at once gets one case claimed, never two; once they hold it, 下一件
// shows the next case unclaimed.
func TestClaimNextTakesOneClaimAtATime(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc, rv, clk := lapsedQueue(t, d)
		live := func() int {
			return d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimedBy(rv.ID),
				recoverycase.ClaimExpiresAtGT(clk.Now())).CountX(ctx)
		}
		if live() != 0 {
			t.Fatal("fixture: the reviewer holds a live claim")
		}
		var wg sync.WaitGroup
		numbers := make([]string, 4)
		claimed := make([]bool, 4)
		for i := range numbers {
			wg.Go(func() {
				var err error
				if numbers[i], claimed[i], err = svc.ClaimNext(ctx, rv); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n := 0
		for i := range claimed {
			if claimed[i] {
				n++
			}
			if numbers[i] == "" {
				t.Fatal("下一件 found no case in a full queue")
			}
		}
		if n != 1 || live() != 1 {
			t.Fatalf("four tabs at once: %d said claimed, %d live claims; want 1 and 1", n, live())
		}
		number, ok, err := svc.ClaimNext(ctx, rv)
		if err != nil || ok || number == "" || live() != 1 {
			t.Fatalf("holding a claim: %q claimed=%v %v, %d live claims", number, ok, err, live())
		}
	})
}
