package recovery_test

import (
	"context"
	"testing"
	"time"

	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
)

// day is 10:00 in Shanghai on that day of 2026, the autumn of 国庆.
func day(m time.Month, dd int) time.Time { return time.Date(2026, m, dd, 10, 0, 0, 0, rules.Shanghai) }

// TestEscalationMarksAppearOnTheRightWorkingDaysOverNationalDay steps the
// dev clock day by day through 国庆 2026 (1–7 October off, Saturday 10
// October a make-up working day) and runs the job twice a day.
func TestEscalationMarksAppearOnTheRightWorkingDaysOverNationalDay(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r := newReview(t, d, 0)
		jm := r.staff(t, "jm_reviewer", "4407")

		r.clock.Set(day(9, 28))
		a, _ := r.submitted(t, false) // due 30 September
		decided, _ := r.submitted(t, false)
		r.clock.Set(day(9, 29))
		b, _ := r.submitted(t, false) // due 8 October: the holiday lies between
		r.clock.Set(day(9, 30))
		c, _ := r.submitted(t, false) // due 9 October
		for number, want := range map[string]string{a: "2026-09-30", b: "2026-10-08", c: "2026-10-09"} {
			if got := r.get(t, number).DueBy.In(rules.Shanghai).Format(time.DateOnly); got != want {
				t.Fatalf("%s due %s, want %s", number, got, want)
			}
		}
		// A case being reviewed is undecided too; a decided one is done with.
		r.clock.Set(day(9, 28))
		r.claimed(t, jm, b)
		v := r.claimed(t, jm, decided)
		if err := r.svc.Decide(ctx, jm, decided, recovery.Decision{Outcome: vocab.OutcomeApprove, Version: v}); err != nil {
			t.Fatal(err)
		}

		const none, soon, over = "", "due_soon", "overdue"
		steps := []struct {
			at      time.Time
			a, b, c string
		}{
			{day(9, 28), none, none, none},
			{day(9, 29), soon, none, none}, // a is due on the next working day
			{day(9, 30), soon, soon, none}, // a due today; b due on the next working day, 8 October
			// The holiday: a is past due from 1 October, but marks change on working days only.
			{day(10, 1), soon, soon, none},
			{day(10, 4), soon, soon, none},
			{day(10, 7), soon, soon, none},
			{day(10, 8), over, soon, soon}, // the first working day after: a 已超期; c due on the next working day
			{day(10, 9), over, over, soon},
			{day(10, 10), over, over, over}, // Saturday, a make-up working day
			{day(10, 11), over, over, over},
		}
		events := 0
		for _, st := range steps {
			r.clock.Set(st.at)
			for run := 0; run < 2; run++ { // the second run changes nothing
				if _, err := r.svc.EscalateSLA(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for number, want := range map[string]string{a: st.a, b: st.b, c: st.c, decided: none} {
				if got := r.get(t, number).SLAMark; got != want {
					t.Errorf("%s: %s marked %q, want %q", st.at.Format("01-02"), number, got, want)
				}
			}
			events = d.Ent.CaseEvent.Query().Where(caseevent.Type(string(vocab.EventSLAMarked))).CountX(ctx)
		}
		// One event per change: a none→soon→over, b none→soon→over, c none→soon→over.
		if events != 6 {
			t.Fatalf("%d SLA events, want 6 (one per change)", events)
		}
		// The tabs count the marks (all three 已超期 after 11 October), and
		// the 待关注 list puts the case due first first.
		page, err := r.svc.Queue(ctx, jm, recovery.QueueFilter{Tab: recovery.TabOverdue})
		if err != nil {
			t.Fatal(err)
		}
		if page.Counts[recovery.TabOverdue] != 3 || page.Counts[recovery.TabDueSoon] != 0 || len(page.Rows) != 3 {
			t.Fatalf("escalation tabs: %v, %d rows", page.Counts, len(page.Rows))
		}
		watch, err := r.svc.Watchlist(ctx, jm)
		if err != nil || len(watch) != 3 || watch[0].CaseNumber != a || watch[0].SLA != over {
			t.Fatalf("watch list %+v %v", watch, err)
		}
		if n := d.Ent.RecoveryCase.Query().Where(recoverycase.SLAMark(over)).CountX(ctx); n != 3 {
			t.Fatalf("%d cases marked overdue, want 3", n)
		}
	})
}
