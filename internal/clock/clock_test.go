package clock

import (
	"testing"
	"time"
)

func TestAdjustableAdvanceAndSet(t *testing.T) {
	c := NewAdjustable()
	before := c.Now()
	c.Advance(4 * time.Hour)
	if got := c.Now().Sub(before); got < 4*time.Hour || got > 4*time.Hour+time.Second {
		t.Fatalf("advance 4h moved the clock by %v", got)
	}
	target := time.Date(2026, 9, 30, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	c.Set(target)
	if d := c.Now().Sub(target); d < 0 || d > time.Second {
		t.Fatalf("after Set, Now is %v away from the target", d)
	}
}
