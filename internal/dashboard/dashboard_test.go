package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

// at is a moment in Asia/Shanghai: at("2026-04-24 16:00").
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, rules.Shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// day is midnight of a date in Asia/Shanghai, as due dates are stored.
func day(t testing.TB, s string) time.Time { return at(t, s+" 00:00") }

// seed writes cases, their decision events and QA reviews directly with ent.
type seed struct {
	t   testing.TB
	ctx context.Context
	c   *ent.Client
	acc *ent.Account
	n   int
}

func newSeed(t testing.TB, d *db.DB) *seed {
	ctx := context.Background()
	acc := d.Ent.Account.Create().SetKind("person").SetUsername("zhang_san").SetUsernameKey("zhang_san").
		SetPasswordHash("x").SetName("张三").SetCertType("id_card").SetCertNumber(rules.CompleteIDNumber("44070319900101001")).
		SetPhone("13800001234").SaveX(ctx)
	for _, u := range [][2]string{{"rv_a", "甲审核员"}, {"rv_b", "乙审核员"}} {
		d.Ent.StaffUser.Create().SetUsername(u[0]).SetUsernameKey(u[0]).SetName(u[1]).SetPasswordHash("x").SaveX(ctx)
	}
	return &seed{t: t, ctx: ctx, c: d.Ent, acc: acc}
}

// paths are the legal status walks from a draft to each status.
var paths = map[state.Status][]state.Status{
	state.Draft:          nil,
	state.Submitted:      {state.Submitted},
	state.InReview:       {state.Submitted, state.InReview},
	state.AwaitingSecond: {state.Submitted, state.InReview, state.AwaitingSecond},
	state.Returned:       {state.Submitted, state.InReview, state.Returned},
	state.Approved:       {state.Submitted, state.InReview, state.Approved},
	state.Rejected:       {state.Submitted, state.InReview, state.Rejected},
	// A decision a supervisor's QA reopened: back in the queue.
	"reopened": {state.Submitted, state.InReview, state.Approved, state.Submitted},
}

// kase is one seeded case: its final row values.
type kase struct {
	region         string
	status         state.Status // or "reopened"
	submitted, due string       // "2026-04-24 16:00", "2026-04-28"
	decided        string
	decidedBy      string // a staff username
	outcome        string
}

func (s *seed) add(k kase) uuid.UUID {
	s.n++
	rc := s.c.RecoveryCase.Create().SetKind("person").SetRegionCode(k.region).SetTypedCertType("id_card").
		SetTypedCertNumber("x").SetTokenHash([]byte{1}).SetAccount(s.acc).
		SetCaseNumber(fmt.Sprintf("ZH20260401%06d", s.n)).SaveX(s.ctx)
	for _, st := range paths[k.status] {
		rc = rc.Update().SetStatus(st).SaveX(s.ctx)
	}
	u := rc.Update()
	if k.submitted != "" {
		u.SetSubmittedAt(at(s.t, k.submitted))
	}
	if k.due != "" {
		u.SetDueBy(day(s.t, k.due))
	}
	if k.decided != "" {
		u.SetDecidedAt(at(s.t, k.decided)).SetOutcome(recoverycase.Outcome(k.outcome))
		id := s.c.StaffUser.Query().AllX(s.ctx)
		for _, su := range id {
			if su.Username == k.decidedBy {
				u.SetDecidedBy(su.ID)
			}
		}
	}
	u.SaveX(s.ctx)
	return rc.ID
}

// event records one history entry of a case.
func (s *seed) event(id uuid.UUID, typ, actor, when, outcome string) {
	e := s.c.CaseEvent.Create().SetCaseID(id).SetType(typ).SetActor(actor).SetCreatedAt(at(s.t, when))
	if outcome != "" {
		e.SetAfter(map[string]any{"status": "x", "outcome": outcome})
	}
	e.SaveX(s.ctx)
}

// decide is a case decided once, with its event.
func (s *seed) decide(k kase) uuid.UUID {
	id := s.add(k)
	s.event(id, "decided", "staff:"+k.decidedBy, k.decided, k.outcome)
	return id
}

func (s *seed) qa(id uuid.UUID, region string, status qareview.Status, reviewed string) {
	q := s.c.QAReview.Create().SetCaseID(id).SetOutcome("approve").SetDecidedBy(1).SetDecidedAt(at(s.t, "2026-04-01 10:00")).
		SetRegionCode(region).SetWhy("sampled").SetStatus(status)
	if reviewed != "" {
		q.SetReviewedAt(at(s.t, reviewed))
	}
	q.SaveX(s.ctx)
}

// seedSet is the known data set; the expected figures in the tests below are
// worked out from it by hand. Dates are Asia/Shanghai; the 2026 calendar has
// 1–5 May off (劳动节) and Saturday 9 May as a make-up working day.
//
// Final decisions (approved/rejected), with working time from (last)
// submission to decision, counting only working days:
//
//	A 440703 江门 submitted Fri 04-24 16:00, due Tue 04-28, approved Mon 04-27 10:00 by rv_a
//	  on time (04-27 ≤ 04-28); Fri 16–24 = 8h, Sat/Sun 0, Mon 0–10 = 10h → 18h. Week of 04-27.
//	B 440106 广州 submitted Wed 04-29 09:00, due Wed 05-06, rejected Thu 05-07 11:00 by rv_b
//	  late (05-07 > 05-06); Wed 15h + Thu 04-30 24h + 05-01..05-05 0 + Wed 05-06 24h + Thu 11h → 74h. Week of 05-04.
//	C 440781 江门 submitted Mon 04-20 10:00, returned Mon 04-20 15:00 by rv_a (event only),
//	  resubmitted Tue 04-21 09:00 (the row's submitted_at), due Thu 04-23, approved Thu 04-23 17:00 by rv_b
//	  on time; Tue 15h + Wed 24h + Thu 17h → 56h. Week of 04-20.
//	D 440103 广州 submitted Fri 05-08 14:00, due Mon 05-11, approved Sat 05-09 11:00 by rv_a
//	  on time; Fri 10h + Sat 05-09 (a working day) 11h → 21h. Week of 05-04.
//	E 440703 江门 submitted Mon 04-20 09:00, due Wed 04-22, rejected Fri 04-24 09:30 by rv_a
//	  late; Mon 15h + Tue, Wed, Thu 72h + Fri 9.5h → 96.5h. Week of 04-20.
//	F 440104 广州 approved Fri 04-17 by rv_b: before the range, counted nowhere.
//	K 440104 广州 approved Mon 05-11 00:30 by rv_b: after the range (it is still 05-10 in UTC).
//
// Decisions that are not final:
//
//	G 440106 广州 approved Wed 04-22 11:00 by rv_b, then reopened by QA: now submitted.
//	H 440703 江门 approved Fri 05-08 10:00 by rv_a, flagged: awaiting_second.
//
// Open cases now: 江门 J1, J2 submitted, J3 in_review, H awaiting_second,
// J4 returned; 广州 G submitted; 深圳 S1 in_review. Not open: a draft in
// 广州, and every decided case.
//
// QA reviews: agreed 04-25 (440703), disagreed 05-06 (440106), agreed 05-01
// (440103), one still open, one disagreed 04-10 (before the range).
func seedSet(t testing.TB, d *db.DB) {
	s := newSeed(t, d)
	a := s.decide(kase{region: "440703", status: state.Approved, submitted: "2026-04-24 16:00", due: "2026-04-28", decided: "2026-04-27 10:00", decidedBy: "rv_a", outcome: "approve"})
	s.decide(kase{region: "440106", status: state.Rejected, submitted: "2026-04-29 09:00", due: "2026-05-06", decided: "2026-05-07 11:00", decidedBy: "rv_b", outcome: "reject"})
	c := s.decide(kase{region: "440781", status: state.Approved, submitted: "2026-04-21 09:00", due: "2026-04-23", decided: "2026-04-23 17:00", decidedBy: "rv_b", outcome: "approve"})
	s.event(c, "decided", "staff:rv_a", "2026-04-20 15:00", "return")
	s.event(c, "claimed", "staff:rv_b", "2026-04-23 16:00", "")
	dd := s.decide(kase{region: "440103", status: state.Approved, submitted: "2026-05-08 14:00", due: "2026-05-11", decided: "2026-05-09 11:00", decidedBy: "rv_a", outcome: "approve"})
	s.decide(kase{region: "440703", status: state.Rejected, submitted: "2026-04-20 09:00", due: "2026-04-22", decided: "2026-04-24 09:30", decidedBy: "rv_a", outcome: "reject"})
	s.decide(kase{region: "440104", status: state.Approved, submitted: "2026-04-16 09:00", due: "2026-04-20", decided: "2026-04-17 09:00", decidedBy: "rv_b", outcome: "approve"})
	s.decide(kase{region: "440104", status: state.Approved, submitted: "2026-05-08 09:00", due: "2026-05-11", decided: "2026-05-11 00:30", decidedBy: "rv_b", outcome: "approve"})
	g := s.decide(kase{region: "440106", status: "reopened", submitted: "2026-04-21 09:00", due: "2026-04-23", decided: "2026-04-22 11:00", decidedBy: "rv_b", outcome: "approve"})
	s.decide(kase{region: "440703", status: state.AwaitingSecond, submitted: "2026-05-07 09:00", due: "2026-05-11", decided: "2026-05-08 10:00", decidedBy: "rv_a", outcome: "approve"})
	for _, k := range []kase{
		{region: "440703", status: state.Submitted, submitted: "2026-05-10 09:00", due: "2026-05-12"},
		{region: "440704", status: state.Submitted, submitted: "2026-05-10 10:00", due: "2026-05-12"},
		{region: "440781", status: state.InReview, submitted: "2026-05-10 11:00", due: "2026-05-12"},
		{region: "440703", status: state.Returned, submitted: "2026-05-06 11:00"},
		{region: "440305", status: state.InReview, submitted: "2026-05-10 11:00", due: "2026-05-12"},
		{region: "440106", status: state.Draft},
	} {
		s.add(k)
	}
	s.qa(a, "440703", qareview.StatusAgreed, "2026-04-25 10:00")
	s.qa(g, "440106", qareview.StatusDisagreed, "2026-05-06 10:00")
	s.qa(dd, "440103", qareview.StatusAgreed, "2026-05-01 10:00")
	s.qa(c, "440781", qareview.StatusOpen, "")
	s.qa(a, "440703", qareview.StatusDisagreed, "2026-04-10 10:00")
}

func newService(t testing.TB, d *db.DB) *dashboard.Service {
	clk := clock.NewAdjustable()
	clk.Set(at(t, "2026-05-11 10:00"))
	return dashboard.New(d, clk, rules.NewCalendar())
}

// week is what one week of the SLA chart must show.
type week struct {
	monday      string
	onTime, all int
}

func checkWeeks(t *testing.T, got []dashboard.WeekSLA, want []week) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("weeks: %d, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Monday.Format(time.DateOnly) != w.monday || g.Num != w.onTime || g.Den != w.all {
			t.Errorf("week %d: %s %d/%d, want %s %d/%d", i, g.Monday.Format(time.DateOnly), g.Num, g.Den, w.monday, w.onTime, w.all)
		}
	}
}

func TestDashboardFiguresOfAKnownDataSet(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		seedSet(t, d)
		svc := newService(t, d)
		ctx := context.Background()
		f, err := svc.ParseFilter("2026-04-20", "2026-05-10", "")
		if err != nil {
			t.Fatal(err)
		}
		r, err := svc.Compute(ctx, []string{"44"}, f)
		if err != nil {
			t.Fatal(err)
		}

		// Backlog: 江门 J1, J2 submitted, J3 in review, H awaiting the
		// second approval, J4 returned; 广州 G (reopened) submitted; 深圳 S1
		// in review; the draft and the decided cases are not backlog.
		if got, want := r.Backlog.Total, (dashboard.BacklogCounts{Submitted: 3, InReview: 2, AwaitingSecond: 1, Returned: 1}); got != want {
			t.Errorf("backlog total %+v, want %+v", got, want)
		}
		if len(r.Backlog.Rows) != 21 {
			t.Errorf("backlog rows: %d, want the 21 cities", len(r.Backlog.Rows))
		}
		byCity := map[string]dashboard.BacklogRow{}
		for _, row := range r.Backlog.Rows {
			byCity[row.Name] = row
		}
		for name, want := range map[string]dashboard.BacklogCounts{
			"江门市": {Submitted: 2, InReview: 1, AwaitingSecond: 1, Returned: 1},
			"广州市": {Submitted: 1},
			"深圳市": {InReview: 1},
			"珠海市": {},
		} {
			if got := byCity[name].BacklogCounts; got != want {
				t.Errorf("backlog %s %+v, want %+v", name, got, want)
			}
		}

		// SLA by week of the decision: week of 04-20: C on time, E late →
		// 1 of 2; week of 04-27: A on time → 1 of 1; week of 05-04: B late,
		// D on time → 1 of 2. F and K lie outside the range; G and H are not
		// final. Over the range 3 of 5 = 60.0%.
		checkWeeks(t, r.Weeks, []week{{"2026-04-20", 1, 2}, {"2026-04-27", 1, 1}, {"2026-05-04", 1, 2}})
		if r.SLA.Num != 3 || r.SLA.Den != 5 || r.SLA.String() != "60.0%" {
			t.Errorf("SLA %+v %s, want 3 of 5, 60.0%%", r.SLA, r.SLA)
		}

		// Working time: A 18h, D 21h, C 56h, B 74h, E 96.5h; the median of
		// five is the third, 56h = 2.33 working days.
		if r.Median.Cases != 5 || r.Median.Median != 56*time.Hour {
			t.Errorf("median %v over %d, want 56h over 5", r.Median.Median, r.Median.Cases)
		}

		// Throughput from the decision events: rv_a approved A, D, H,
		// rejected E, returned C → 5 decisions, approval rate 3/(3+1) = 75.0%;
		// rv_b approved C and G, rejected B → 3, 2/(2+1) = 66.7%. F (04-17)
		// and K (05-11 00:30) are outside; the claim is no decision.
		if len(r.Reviewers) != 2 {
			t.Fatalf("reviewers %+v, want rv_a and rv_b", r.Reviewers)
		}
		a, b := r.Reviewers[0], r.Reviewers[1]
		if a.Username != "rv_a" || a.Name != "甲审核员" || a.Approved != 3 || a.Rejected != 1 || a.Returned != 1 ||
			a.Decisions() != 5 || a.ApprovalRate().String() != "75.0%" {
			t.Errorf("rv_a %+v (%d, %s)", a, a.Decisions(), a.ApprovalRate())
		}
		if b.Username != "rv_b" || b.Approved != 2 || b.Rejected != 1 || b.Returned != 0 || b.Decisions() != 3 ||
			b.ApprovalRate().String() != "66.7%" {
			t.Errorf("rv_b %+v (%d, %s)", b, b.Decisions(), b.ApprovalRate())
		}

		// QA: reviewed in range: agreed 04-25, disagreed 05-06, agreed 05-01
		// → 1 of 3 = 33.3%; the open one and the 04-10 one do not count.
		if r.QA.Reviewed != 3 || r.QA.Disagreed != 1 || r.QA.Rate().String() != "33.3%" {
			t.Errorf("QA %+v %s, want 1 of 3", r.QA, r.QA.Rate())
		}
	})
}

func TestDashboardCityFilterAndViewerScope(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		seedSet(t, d)
		svc := newService(t, d)
		ctx := context.Background()
		f, err := svc.ParseFilter("2026-04-20", "2026-05-10", "4407")
		if err != nil {
			t.Fatal(err)
		}
		// The same figures for a province-wide viewer filtering 江门 and
		// for a viewer whose scope is 江门.
		for _, scope := range [][]string{{"44"}, {"4407"}} {
			one := f
			if scope[0] == "4407" {
				one.City = ""
			}
			r, err := svc.Compute(ctx, scope, one)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Backlog.Rows) != 1 || r.Backlog.Rows[0].Name != "江门市" ||
				r.Backlog.Total != (dashboard.BacklogCounts{Submitted: 2, InReview: 1, AwaitingSecond: 1, Returned: 1}) {
				t.Errorf("scope %v: backlog %+v", scope, r.Backlog)
			}
			// 江门's final decisions: C (week of 04-20, on time), E (same
			// week, late), A (week of 04-27, on time) → 2 of 3; the median of
			// 18h, 56h, 96.5h is 56h.
			checkWeeks(t, r.Weeks, []week{{"2026-04-20", 1, 2}, {"2026-04-27", 1, 1}, {"2026-05-04", 0, 0}})
			if r.SLA != (dashboard.Ratio{Num: 2, Den: 3}) || r.Weeks[2].String() != "—" {
				t.Errorf("scope %v: SLA %+v, empty week %s", scope, r.SLA, r.Weeks[2])
			}
			if r.Median.Median != 56*time.Hour || r.Median.Cases != 3 {
				t.Errorf("scope %v: median %v over %d", scope, r.Median.Median, r.Median.Cases)
			}
			// rv_a in 江门: approved A and H, rejected E, returned C → 4;
			// rv_b: approved C → 1.
			if len(r.Reviewers) != 2 || r.Reviewers[0].Username != "rv_a" || r.Reviewers[0].Decisions() != 4 ||
				r.Reviewers[0].Approved != 2 || r.Reviewers[1].Username != "rv_b" || r.Reviewers[1].Decisions() != 1 {
				t.Errorf("scope %v: reviewers %+v", scope, r.Reviewers)
			}
			// QA in 江门: the agreed review of A on 04-25 → 0 of 1.
			if r.QA != (dashboard.QAStats{Reviewed: 1}) {
				t.Errorf("scope %v: QA %+v", scope, r.QA)
			}
		}

		// A viewer of 深圳 sees S1 and nothing decided; one of nowhere sees nothing.
		r, err := svc.Compute(ctx, []string{"4403"}, dashboard.Filter{From: f.From, To: f.To})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Backlog.Rows) != 1 || r.Backlog.Total.InReview != 1 || r.Backlog.Total.Total() != 1 || r.SLA.Den != 0 || len(r.Reviewers) != 0 || r.QA.Reviewed != 0 {
			t.Errorf("深圳 viewer: %+v", r)
		}
		r, err = svc.Compute(ctx, nil, dashboard.Filter{From: f.From, To: f.To})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Backlog.Rows) != 0 || r.Backlog.Total.Total() != 0 || r.SLA.Den != 0 || len(r.Reviewers) != 0 || r.QA.Reviewed != 0 {
			t.Errorf("viewer without regions: %+v", r)
		}
	})
}

func TestDashboardFilterDefaultsAndRefusals(t *testing.T) {
	svc := newService(t, nil)
	// Now is Monday 2026-05-11 10:00: the default is this week and the 7
	// before it, from Monday 03-23 to today.
	f := svc.DefaultFilter()
	if f.From.Format(time.DateOnly) != "2026-03-23" || f.To.Format(time.DateOnly) != "2026-05-11" || f.City != "" {
		t.Errorf("default filter %v – %v %q", f.From, f.To, f.City)
	}
	if g, err := svc.ParseFilter(" ", "", ""); err != nil || g != f {
		t.Errorf("empty fields: %+v %v, want the default", g, err)
	}
	for _, c := range []struct{ from, to, city, code, field string }{
		{"2026-5-1", "", "", "invalid_date", "from"},
		{"", "2026/05/01", "", "invalid_date", "to"},
		{"2026-05-02", "2026-05-01", "", "invalid_date_range", "to"},
		{"2025-01-01", "2026-05-01", "", "date_range_too_long", "from"},
		{"", "", "4499", "invalid_city", "city"},
		{"", "", "440703", "invalid_city", "city"},
		{"", "", "44", "invalid_city", "city"},
	} {
		_, err := svc.ParseFilter(c.from, c.to, c.city)
		var e *apperr.Error
		if !errors.As(err, &e) || e.Code != c.code || e.Field != c.field || e.Kind != apperr.Invalid {
			t.Errorf("ParseFilter(%q, %q, %q) = %v, want %s on %s", c.from, c.to, c.city, err, c.code, c.field)
		}
	}
	if g, err := svc.ParseFilter("2026-04-01", "2026-04-30", "440700"); err != nil || g.City != "4407" {
		t.Errorf("6-digit city code: %+v %v", g, err)
	}
}

func TestWorkingDurationCountsOnlyWorkingDays(t *testing.T) {
	cal := rules.NewCalendar()
	for _, c := range []struct {
		a, b string
		want time.Duration
	}{
		{"2026-04-24 16:00", "2026-04-27 10:00", 18 * time.Hour},    // Fri 8h, weekend 0, Mon 10h
		{"2026-04-25 09:00", "2026-04-26 18:00", 0},                 // all on a weekend
		{"2026-04-30 20:00", "2026-05-06 01:00", 5 * time.Hour},     // Thu 4h, 1–5 May off, Wed 1h
		{"2026-05-08 23:00", "2026-05-11 01:00", 26 * time.Hour},    // Fri 1h, make-up Sat 24h, Sun 0, Mon 1h
		{"2026-04-21 09:00", "2026-04-21 09:45", 45 * time.Minute},  // within one day
		{"2026-04-21 09:00", "2026-04-20 09:00", 0},                 // backwards
		{"2026-04-19 22:00", "2026-04-20 02:30", 150 * time.Minute}, // Sun 0, Mon 2.5h
	} {
		if got := dashboard.WorkingDuration(cal, at(t, c.a), at(t, c.b)); got != c.want {
			t.Errorf("%s → %s: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
