// Package state holds the statuses of a recovery case and the transitions
// between them. It is a leaf package (no imports from the project) so that
// the ent hook that guards every status change and the workflow code read the
// same table.
package state

import "fmt"

// Status is the status of a recovery case.
type Status string

// The statuses of a recovery case. The first six are the ones an applicant
// can see (CONTRACT §4); expired is where an abandoned draft ends.
const (
	Draft     Status = "draft"     // being filled in by the applicant
	Submitted Status = "submitted" // waiting in the regional queue, unclaimed
	InReview  Status = "in_review" // claimed by a reviewer
	// AwaitingSecond is a flagged case its reviewer approved, waiting for a
	// supervisor's second approval before the password is issued (四眼复核).
	// Applicants see it as in_review.
	AwaitingSecond Status = "awaiting_second"
	Returned       Status = "returned" // 补正: the applicant must re-upload named evidence
	Approved       Status = "approved" // a new password was issued
	Rejected       Status = "rejected" // refused with reasons
	Expired        Status = "expired"  // a draft or return not completed in time
)

// All lists every status, in workflow order.
var All = []Status{Draft, Submitted, InReview, AwaitingSecond, Returned, Approved, Rejected, Expired}

// Undecided are the statuses that wait for staff's decision (a returned
// case waits for the applicant): the ones an SLA escalation mark applies to.
var Undecided = []Status{Submitted, InReview, AwaitingSecond}

// transitions is the one table of legal moves. Approved and rejected cases
// can go back to submitted only through a supervisor's reopening (QA).
var transitions = map[Status][]Status{
	Draft:     {Submitted, Expired},
	Submitted: {InReview},
	InReview:  {Submitted, Approved, Rejected, Returned, AwaitingSecond},
	// The supervisor co-signs (approved) or declines (back to the queue).
	AwaitingSecond: {Approved, Submitted},
	Returned:       {Submitted, Expired},
	Approved:       {Submitted},
	Rejected:       {Submitted},
	Expired:        {},
}

// Values lists the statuses as strings; ent uses it for the enum column.
func (Status) Values() []string {
	v := make([]string, len(All))
	for i, s := range All {
		v[i] = string(s)
	}
	return v
}

// Valid reports whether s is a known status.
func Valid(s Status) bool {
	_, ok := transitions[s]
	return ok
}

// CanTransition reports whether a case may move from one status to another.
// Staying in the same status is not a transition and is always allowed.
func CanTransition(from, to Status) bool {
	if !Valid(from) || !Valid(to) {
		return false
	}
	if from == to {
		return true
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Next lists the statuses a case in status s may move to.
func Next(s Status) []Status { return append([]Status(nil), transitions[s]...) }

// Open reports whether a case in status s still occupies its account: an
// account with an open case cannot start another one.
func Open(s Status) bool {
	return s == Draft || s == Submitted || s == InReview || s == AwaitingSecond || s == Returned
}

// IllegalTransitionError is returned when a status change is not in the table.
type IllegalTransitionError struct{ From, To Status }

func (e *IllegalTransitionError) Error() string {
	return fmt.Sprintf("illegal case status transition %s → %s", e.From, e.To)
}

// Check returns an *IllegalTransitionError when from → to is not allowed.
func Check(from, to Status) error {
	if CanTransition(from, to) {
		return nil
	}
	return &IllegalTransitionError{From: from, To: to}
}
