package kvstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/testenv"
)

// sharedClock is the dev clock of one instance on d, as serve starts it,
// re-reading the shared offset every 10 ms.
func sharedClock(t *testing.T, d *db.DB) *clock.Adjustable {
	t.Helper()
	c, err := clock.NewShared(context.Background(), kvstore.ClockOffset{DB: d}, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two instances of a dev deployment share one database: a move of the clock
// on one is seen by the other, and moves made at the same moment all count.
func TestTheDevClockIsSharedByInstances(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a, b := sharedClock(t, d), sharedClock(t, d)
		if err := a.AdvanceShared(ctx, 4*time.Hour); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if skew := b.Now().Sub(time.Now()); skew < 4*time.Hour-time.Second || skew > 4*time.Hour+time.Second {
			t.Fatalf("the other instance is %v ahead, want 4h", skew)
		}
		var wg sync.WaitGroup
		for _, c := range []*clock.Adjustable{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.AdvanceShared(ctx, time.Hour); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		time.Sleep(20 * time.Millisecond)
		for name, c := range map[string]*clock.Adjustable{"a": a, "b": b} {
			if skew := c.Now().Sub(time.Now()); skew < 8*time.Hour-time.Second || skew > 8*time.Hour+time.Second {
				t.Fatalf("instance %s is %v ahead after four concurrent 1h moves, want 8h", name, skew)
			}
		}
		set := time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC)
		if err := b.SetShared(ctx, set); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if got := a.Now(); got.Sub(set).Abs() > time.Second {
			t.Fatalf("after a set on b, a reads %v", got)
		}
	})
}
