package kvstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/testenv"
)

// Hits from three instances at once on one database are counted exactly:
// 90 concurrent hits number 1 … 90, each once; a new window starts at 1.
func TestCountersExactAcrossInstances(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewAdjustable()
		instances := []*kvstore.Counters{
			kvstore.NewCounters(d, "rl:", clk),
			kvstore.NewCounters(testenv.AnotherInstance(t, d), "rl:", clk),
			kvstore.NewCounters(testenv.AnotherInstance(t, d), "rl:", clk),
		}
		seen := make([]atomic.Int32, 91)
		var wg sync.WaitGroup
		for i := range 90 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, left, err := instances[i%3].Hit(context.Background(), "login:203.0.113.7", time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if n < 1 || n > 90 {
					t.Errorf("hit count %d out of 1…90", n)
					return
				}
				// Whole seconds, from the first hit's time.
				if left > time.Minute || left < 50*time.Second {
					t.Errorf("window ends in %v, want about a minute", left)
				}
				seen[n].Add(1)
			}()
		}
		wg.Wait()
		for n := 1; n <= 90; n++ {
			if c := seen[n].Load(); c != 1 {
				t.Errorf("count %d returned %d times, want once", n, c)
			}
		}
		// Another key counts on its own; the window's end starts over.
		if n, _, err := instances[1].Hit(context.Background(), "login:203.0.113.8", time.Minute); err != nil || n != 1 {
			t.Fatalf("another key: %d %v", n, err)
		}
		clk.Advance(61 * time.Second)
		n, left, err := instances[2].Hit(context.Background(), "login:203.0.113.7", time.Minute)
		if err != nil || n != 1 || left != time.Minute {
			t.Fatalf("after the window: %d (ends in %v) %v, want 1 in a fresh minute", n, left, err)
		}
	})
}
