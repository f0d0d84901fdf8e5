package recovery

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
)

// nextTries bounds how many cases ClaimNext tries when others claim the
// first ones at the same moment.
const nextTries = 5

// ClaimNext finds the next case of the reviewer's pending queue and, when the
// reviewer holds no other live claim, claims it for them, so that "下一件"
// opens a case ready to decide (one claim at a time stays the rule: a
// reviewer who holds a case gets the next one to look at, unclaimed). It
// returns "" when the queue is empty. A case claimed by someone else between
// the listing and the claim is skipped for the one after it.
//
// With auto-assignment a reviewer holds up to their cap of assigned cases:
// "下一件" then opens the oldest of them (the one due first), and pulls from
// the pending queue as above only when they hold none.
func (s *Service) ClaimNext(ctx context.Context, rv Reviewer) (number string, claimed bool, err error) {
	if s.auto {
		mine, err := s.Queue(ctx, rv, QueueFilter{Tab: TabMine, Limit: 1})
		if err != nil {
			return "", false, err
		}
		if len(mine.Rows) > 0 {
			return mine.Rows[0].CaseNumber, true, nil
		}
	}
	page, err := s.Queue(ctx, rv, QueueFilter{Tab: TabPending, Limit: nextTries})
	if err != nil || len(page.Rows) == 0 {
		return "", false, err
	}
	holds, err := s.holdsClaim(ctx, rv)
	if err != nil || holds {
		return page.Rows[0].CaseNumber, false, err
	}
	for _, row := range page.Rows {
		ok, err := s.claimIfFree(ctx, rv, row.CaseNumber)
		if err != nil {
			return "", false, err
		}
		if ok {
			return row.CaseNumber, true, nil
		}
	}
	return page.Rows[0].CaseNumber, false, nil
}

// holdsClaim says whether the reviewer holds a live claim on any case.
func (s *Service) holdsClaim(ctx context.Context, rv Reviewer) (bool, error) {
	return s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimedBy(rv.ID),
		recoverycase.ClaimExpiresAtGT(s.clock.Now())).Exist(ctx)
}

// claimIfFree claims a case that is pending (submitted) for the reviewer,
// serialised per reviewer so that two tabs opening "下一件" at once cannot
// give them two claims; false when the case is no longer free or the
// reviewer took another claim meanwhile.
func (s *Service) claimIfFree(ctx context.Context, rv Reviewer, number string) (bool, error) {
	var ok bool
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.LockKey(ctx, fmt.Sprintf("claimer:%d", rv.ID)); err != nil {
			return err
		}
		held, err := tx.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.InReview), recoverycase.ClaimedBy(rv.ID),
			recoverycase.ClaimExpiresAtGT(s.clock.Now())).Exist(ctx)
		if err != nil || held {
			return err
		}
		rc, err := s.lockedCase(ctx, tx, rv, number)
		if err != nil {
			return err
		}
		if rc.Status != state.Submitted {
			return nil
		}
		ok = true
		return s.claimLocked(ctx, tx, rv, rc)
	})
	if errors.Is(err, ErrCaseNotFound) {
		return false, nil
	}
	return ok, err
}

// OpenClaimed is how a reviewer opens a pending case from the queue: it is
// claimed for them when it is free and they hold no other live claim (one
// claim at a time), and otherwise left as it is — opening a case already
// theirs, or one someone else holds, changes nothing. It says whether the
// case was claimed now. Outside the reviewer's regions: ErrCaseNotFound.
func (s *Service) OpenClaimed(ctx context.Context, rv Reviewer, number string) (bool, error) {
	if _, err := s.CaseFor(ctx, rv, number); err != nil {
		return false, err
	}
	return s.claimIfFree(ctx, rv, number)
}

// NextCase is the case "下一件" would open for the reviewer now: the first of
// their pending queue, with the evidence kinds it still has. It claims
// nothing, so that the page of the case being decided can prepare the next
// one's images without taking it from anyone. Zero when the queue is empty.
type NextCase struct {
	Number string
	Kinds  []string
}

// PeekNext returns the case ClaimNext would take first once the reviewer is
// done with current (the case they are deciding; "" for none), without
// claiming it. Under auto-assignment that is the next of the cases assigned
// to them while they hold one besides current.
func (s *Service) PeekNext(ctx context.Context, rv Reviewer, current string) (NextCase, error) {
	var rows []QueueRow
	if s.auto {
		mine, err := s.Queue(ctx, rv, QueueFilter{Tab: TabMine, Limit: 2})
		if err != nil {
			return NextCase{}, err
		}
		rows = slices.DeleteFunc(mine.Rows, func(r QueueRow) bool { return r.CaseNumber == current })
	}
	if len(rows) == 0 {
		page, err := s.Queue(ctx, rv, QueueFilter{Tab: TabPending, Limit: 1})
		if err != nil || len(page.Rows) == 0 {
			return NextCase{}, err
		}
		rows = page.Rows
	}
	number := rows[0].CaseNumber
	evs, err := s.db.Ent.Evidence.Query().Where(evidence.HasCaseWith(recoverycase.CaseNumber(number)), evidence.DestroyedAtIsNil()).
		Select(evidence.FieldKind).Strings(ctx)
	if err != nil {
		return NextCase{}, err
	}
	next := NextCase{Number: number}
	for _, k := range RequiredEvidence(string(rows[0].Kind)) {
		if slices.Contains(evs, k) {
			next.Kinds = append(next.Kinds, k)
		}
	}
	return next, nil
}
