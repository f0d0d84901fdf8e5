package state

import "testing"

func TestTransitions(t *testing.T) {
	cases := []struct {
		from, to Status
		ok       bool
	}{
		{Draft, Submitted, true},
		{Draft, Expired, true},
		{Draft, Approved, false},
		{Submitted, InReview, true},
		{Submitted, Approved, false},
		{InReview, Approved, true},
		{InReview, Rejected, true},
		{InReview, Returned, true},
		{InReview, Submitted, true},
		{Returned, Submitted, true},
		{Returned, Approved, false},
		{Approved, Rejected, false},
		{Approved, Submitted, true},
		{Rejected, Approved, false},
		{Expired, Submitted, false},
		{Approved, Draft, false},
		{"bogus", Submitted, false},
		{Draft, "bogus", false},
		{InReview, InReview, true},
	}
	for _, c := range cases {
		if got := CanTransition(c.from, c.to); got != c.ok {
			t.Errorf("%s → %s: got %v want %v", c.from, c.to, got, c.ok)
		}
		if err := Check(c.from, c.to); (err == nil) != c.ok {
			t.Errorf("Check(%s, %s) = %v", c.from, c.to, err)
		}
	}
}

// Labels: vocab.TestEveryStatusHasALabel.
func TestEveryStatusIsValid(t *testing.T) {
	for _, s := range All {
		if !Valid(s) {
			t.Errorf("status %s is not valid", s)
		}
	}
}
