package recovery

import (
	"context"
	"fmt"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Escalation before breach: a periodic job marks each undecided case
// 临近超期 (due_soon) once its due date is the next working day (or today),
// and 已超期 (overdue) once the due date has passed. The marks are stored,
// each change a case event, so that the queue's tabs, the dashboard, the
// metrics and the supervisors' 待关注 list all read the same thing.
//
// Marks change on working days only: escalation is for the people who work
// those days, and a case due on the last day before a holiday becomes
// 已超期 on the first working day after it, not on the holiday. The job is
// idempotent: each change is a conditional update from the mark it read,
// so runs on several instances, or one run repeated, change a mark once.

// EscalateInterval is how often the escalation job runs.
const EscalateInterval = 10 * time.Minute

// escalateBatch bounds the cases one run changes per mark.
const escalateBatch = 1000

// UndecidedStatuses are the statuses an SLA mark applies to (state.Undecided).
var UndecidedStatuses = state.Undecided

// SLAMarkAt is the mark an undecided case due on due should carry at now by
// cal: overdue past the due date, due_soon when due on the next working day
// or today, none otherwise.
func SLAMarkAt(cal *rules.Calendar, due, now time.Time) string {
	today := rules.StartOfDay(now)
	switch {
	case due.Before(today):
		return string(vocab.SLAOverdue)
	case !due.After(cal.AddWorkdays(now, 1)):
		return string(vocab.SLADueSoon)
	}
	return ""
}

// EscalateSLA brings the SLA marks of undecided cases up to date and
// returns how many it changed. On a day that is not a working day it
// changes nothing.
func (s *Service) EscalateSLA(ctx context.Context) (int, error) {
	now := s.clock.Now()
	if !s.calendar.IsWorkday(now) {
		return 0, nil
	}
	today, next := rules.StartOfDay(now), s.calendar.AddWorkdays(now, 1)
	targets := []struct {
		mark string
		due  []predicate.RecoveryCase
	}{
		{string(vocab.SLAOverdue), []predicate.RecoveryCase{recoverycase.DueByLT(today)}},
		{string(vocab.SLADueSoon), []predicate.RecoveryCase{recoverycase.DueByGTE(today), recoverycase.DueByLTE(next)}},
		// A mark that no longer holds (the dev clock moved back).
		{"", []predicate.RecoveryCase{recoverycase.Or(recoverycase.DueByGT(next), recoverycase.DueByIsNil())}},
	}
	changed := 0
	for _, t := range targets {
		rows, err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusIn(UndecidedStatuses...), recoverycase.SLAMarkNEQ(t.mark)).
			Where(t.due...).Limit(escalateBatch).All(ctx)
		if err != nil {
			return changed, err
		}
		for _, rc := range rows {
			ok, err := s.mark(ctx, rc, t.mark, now)
			if err != nil {
				return changed, fmt.Errorf("escalate %v: %w", rc.CaseNumber, err)
			}
			if ok {
				changed++
			}
		}
	}
	return changed, nil
}

// mark moves rc's SLA mark from what was read to mark, with its case event;
// false when another run (or a decision) got there first. The case's
// version stays: a mark is no change a reviewer's open form conflicts with.
func (s *Service) mark(ctx context.Context, rc *ent.RecoveryCase, mark string, now time.Time) (bool, error) {
	ok := false
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		n, err := tx.Ent.RecoveryCase.Update().Where(recoverycase.ID(rc.ID), recoverycase.SLAMark(rc.SLAMark),
			recoverycase.StatusIn(UndecidedStatuses...)).SetSLAMark(mark).Save(ctx)
		if err != nil || n == 0 {
			return err
		}
		ok = true
		after := map[string]any{"sla": mark}
		if rc.DueBy != nil {
			after["due_by"] = rc.DueBy.In(rules.Shanghai).Format(time.DateOnly)
		}
		return s.record(ctx, tx, rc, now, actorSystem, vocab.EventSLAMarked, map[string]any{"sla": rc.SLAMark}, after)
	})
	return ok, err
}

// EscalateArgs is the periodic job that brings SLA marks up to date.
type EscalateArgs struct{}

// Kind names the job in River's table.
func (EscalateArgs) Kind() string { return "recovery_escalate_sla" }

// WatchLimit bounds the supervisors' 待关注 list.
const WatchLimit = 50

// Watchlist is a supervisor's 待关注 list: the undecided cases of their
// regions that the escalation job marked, 已超期 before 临近超期, each by due
// date, at most WatchLimit.
func (s *Service) Watchlist(ctx context.Context, sup Reviewer) ([]QueueRow, error) {
	now := s.clock.Now()
	var out []QueueRow
	for _, mark := range vocab.SLAMarks {
		rows, err := s.db.Ent.RecoveryCase.Query().Where(s.filters(sup, QueueFilter{}, now)...).
			Where(recoverycase.StatusIn(UndecidedStatuses...), recoverycase.SLAMark(string(mark))).WithAccount().
			Order(ent.Asc(recoverycase.FieldDueBy), ent.Asc(recoverycase.FieldSubmittedAt), ent.Asc(recoverycase.FieldID)).
			Limit(WatchLimit - len(out)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, rc := range rows {
			r := s.row(rc, sup, now)
			r.SLA = string(mark)
			out = append(out, r)
		}
		if len(out) >= WatchLimit {
			break
		}
	}
	return out, nil
}
