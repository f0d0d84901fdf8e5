// Package dashboard computes the supervisors' figures: backlog, SLA
// compliance, time to decision, reviewer throughput and QA disagreement.
//
// Counting is done by the database where it is a plain GROUP BY (backlog,
// decisions per reviewer, QA reviews), with SQL that SQLite and PostgreSQL
// both run; figures that need the working-day calendar (SLA weeks, working
// time to a decision) are computed in Go over the decisions of the chosen
// date range only, never over every case.
package dashboard

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"recoverydesk/ent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
)

// Service computes dashboard figures from the database.
type Service struct {
	db       *db.DB
	clock    clock.Clock
	calendar *rules.Calendar
}

// New returns the dashboard service.
func New(d *db.DB, c clock.Clock, cal *rules.Calendar) *Service {
	return &Service{db: d, clock: c, calendar: cal}
}

// DefaultWeeks is how many weeks the dashboard shows when no range is
// chosen: the current week (to today) and the 7 before it.
const DefaultWeeks = 8

// MaxRangeDays bounds a chosen range, so that the figures computed in Go
// stay bounded too.
const MaxRangeDays = 366

// The refusals of a filter a user can fix.
var (
	ErrBadDate  = apperr.New(apperr.Invalid, "invalid_date", "日期格式应为 YYYY-MM-DD")
	ErrBadRange = apperr.New(apperr.Invalid, "invalid_date_range", "开始日期不能晚于结束日期")
	ErrLong     = apperr.New(apperr.Invalid, "date_range_too_long", fmt.Sprintf("日期范围不能超过 %d 天", MaxRangeDays))
	ErrBadCity  = apperr.New(apperr.Invalid, "invalid_city", "请选择广东省的地级市").WithField("city")
)

// Filter chooses what the dashboard counts. From and To are dates
// (midnight, Asia/Shanghai), both included; City is a 4-digit city code or
// empty for every city the viewer may see.
type Filter struct {
	From, To time.Time
	City     string
}

// start and end are the half-open instant range [From 00:00, To+1 00:00).
func (f Filter) start() time.Time { return f.From }
func (f Filter) end() time.Time   { return f.To.AddDate(0, 0, 1) }

// DefaultFilter is the last DefaultWeeks weeks: from the Monday 7 weeks
// before this week's Monday to today (Asia/Shanghai).
func (s *Service) DefaultFilter() Filter {
	today := rules.StartOfDay(s.clock.Now())
	return Filter{From: monday(today).AddDate(0, 0, -7*(DefaultWeeks-1)), To: today}
}

// ParseFilter reads the page's filter fields: from and to as YYYY-MM-DD
// (an empty one keeps its default), city as a city code or empty. A refusal
// is an *apperr.Error naming the field.
func (s *Service) ParseFilter(from, to, city string) (Filter, error) {
	f := s.DefaultFilter()
	for _, p := range []struct {
		field, value string
		into         *time.Time
	}{{"from", from, &f.From}, {"to", to, &f.To}} {
		v := strings.TrimSpace(p.value)
		if v == "" {
			continue
		}
		d, err := rules.ParseDateList(v)
		if err != nil || len(d) != 1 {
			return Filter{}, ErrBadDate.WithField(p.field)
		}
		*p.into = d[0]
	}
	if f.To.Before(f.From) {
		return Filter{}, ErrBadRange.WithField("to")
	}
	if f.end().Sub(f.From) > MaxRangeDays*24*time.Hour {
		return Filter{}, ErrLong.WithField("from")
	}
	if city = strings.TrimSpace(city); city != "" {
		r, ok := rules.LookupRegion(city)
		if !ok || r.Level != rules.LevelCity {
			return Filter{}, ErrBadCity
		}
		f.City = r.Code
	}
	return f, nil
}

// Report is everything the dashboard shows for one filter.
type Report struct {
	Filter    Filter
	Backlog   Backlog
	Weeks     []WeekSLA
	SLA       Ratio // over the whole range
	Median    WorkingTime
	Reviewers []ReviewerStats
	QA        QAStats
	// Escalated counts the undecided cases the escalation job marked, by
	// mark (vocab.SLADueSoon, vocab.SLAOverdue).
	Escalated map[string]int
}

// Ratio is a share: Num of Den. Den 0 means there is nothing to measure.
type Ratio struct{ Num, Den int }

// Percent is the share in percent; 0 when Den is 0.
func (r Ratio) Percent() float64 {
	if r.Den == 0 {
		return 0
	}
	return 100 * float64(r.Num) / float64(r.Den)
}

// String is the share as staff read it, "87.5%", or "—" with nothing to
// measure.
func (r Ratio) String() string {
	if r.Den == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", r.Percent())
}

// Compute builds the report for a viewer who may see the regions in scope
// (region prefixes, as policies.Enforcer.Regions returns them).
func (s *Service) Compute(ctx context.Context, scope []string, f Filter) (*Report, error) {
	r := &Report{Filter: f}
	var err error
	if r.Backlog, err = s.backlog(ctx, scope, f); err != nil {
		return nil, fmt.Errorf("dashboard backlog: %w", err)
	}
	if err := s.decisions(ctx, scope, f, r); err != nil {
		return nil, fmt.Errorf("dashboard decisions: %w", err)
	}
	if r.Reviewers, err = s.reviewers(ctx, scope, f); err != nil {
		return nil, fmt.Errorf("dashboard reviewers: %w", err)
	}
	if r.QA, err = s.qa(ctx, scope, f); err != nil {
		return nil, fmt.Errorf("dashboard qa: %w", err)
	}
	rows, err := CountSLAMarksByCity(ctx, s.db.Ent, caseRegions(scope, f.City)...)
	if err != nil {
		return nil, fmt.Errorf("dashboard escalations: %w", err)
	}
	r.Escalated = map[string]int{}
	for _, row := range rows {
		r.Escalated[row.Value] += row.N
	}
	return r, nil
}

// cityOf is a case's city in SQL: the first 4 digits of its region code.
func cityOf(sel *sql.Selector) sql.Querier {
	return sql.ExprFunc(func(b *sql.Builder) {
		b.WriteString("SUBSTR(").Ident(sel.C(recoverycase.FieldRegionCode)).WriteString(", 1, 4)")
	})
}

// CountSLAMarksByCity counts the marked undecided cases (the escalation
// job's 临近超期 and 已超期) by mark (Value) and city in the database: the
// dashboard's figures and the operators' gauge read it.
func CountSLAMarksByCity(ctx context.Context, client *ent.Client, where ...predicate.RecoveryCase) ([]CityCount, error) {
	where = append(where, recoverycase.StatusIn(state.Undecided...), recoverycase.SLAMarkNEQ(""))
	return countByCity(ctx, client, recoverycase.FieldSLAMark, where...)
}

// ---- backlog ----

// OpenStatuses are the statuses counted as backlog: cases waiting for
// staff (submitted, in_review, awaiting_second) or for the applicant's
// re-upload after a return (returned). Drafts are not yet cases.
var OpenStatuses = []state.Status{state.Submitted, state.InReview, state.AwaitingSecond, state.Returned}

// BacklogCounts are open cases by status.
type BacklogCounts struct {
	Submitted, InReview, AwaitingSecond, Returned int
}

// Total is every open case.
func (c BacklogCounts) Total() int { return c.Submitted + c.InReview + c.AwaitingSecond + c.Returned }

func (c *BacklogCounts) add(st state.Status, n int) {
	switch st {
	case state.Submitted:
		c.Submitted += n
	case state.InReview:
		c.InReview += n
	case state.AwaitingSecond:
		c.AwaitingSecond += n
	case state.Returned:
		c.Returned += n
	}
}

// BacklogRow is one city's open cases. A case's city is the first 4 digits
// of its region code; Code is empty for cases without a known city.
type BacklogRow struct {
	Code, Name string
	BacklogCounts
}

// Backlog is the open cases now (the date range does not apply: a backlog
// is a snapshot), by city and in total.
type Backlog struct {
	Rows  []BacklogRow
	Total BacklogCounts
}

// CityCount is how many cases with one value of a column (a status, an
// SLA mark) lie in one city: City is the first four digits of their region
// code (a province-level code gives "44" or "4400", which is no city).
type CityCount struct {
	Value string `sql:"value"`
	City  string `sql:"city"`
	N     int    `sql:"n"`
}

// CountByStatusAndCity counts the cases matching where GROUP BY status
// (Value) and city in the database; on the (status, region_code, …) index
// it returns at most a row per status and city. The dashboard's backlog and
// the operators' gauges read it.
func CountByStatusAndCity(ctx context.Context, client *ent.Client, where ...predicate.RecoveryCase) ([]CityCount, error) {
	return countByCity(ctx, client, recoverycase.FieldStatus, where...)
}

// countByCity counts cases GROUP BY column and city.
func countByCity(ctx context.Context, client *ent.Client, column string, where ...predicate.RecoveryCase) ([]CityCount, error) {
	var rows []CityCount
	err := client.RecoveryCase.Query().Where(where...).
		Modify(func(sel *sql.Selector) {
			sel.Select(sql.As(sel.C(column), "value")).
				AppendSelectExprAs(cityOf(sel), "city").
				AppendSelectExprAs(sql.Raw("COUNT(*)"), "n").
				GroupBy(sel.C(column), "city")
		}).Scan(ctx, &rows)
	return rows, err
}

// backlog counts the open cases of the viewer's scope by status and city.
func (s *Service) backlog(ctx context.Context, scope []string, f Filter) (Backlog, error) {
	open := make([]state.Status, len(OpenStatuses))
	copy(open, OpenStatuses)
	rows, err := CountByStatusAndCity(ctx, s.db.Ent, append(caseRegions(scope, f.City), recoverycase.StatusIn(open...))...)
	if err != nil {
		return Backlog{}, err
	}
	var out Backlog
	byCity := map[string]*BacklogCounts{}
	for _, r := range rows {
		code := r.City
		if reg, ok := rules.LookupRegion(code); !ok || reg.Level != rules.LevelCity {
			code = ""
		}
		c := byCity[code]
		if c == nil {
			c = &BacklogCounts{}
			byCity[code] = c
		}
		c.add(state.Status(r.Value), r.N)
		out.Total.add(state.Status(r.Value), r.N)
	}
	// Every city the viewer may see gets a row, with zeros where nothing
	// waits, so a quiet city is visible as quiet.
	for _, c := range rules.Cities() {
		if f.City != "" && c.Code != f.City {
			continue
		}
		counts, seen := byCity[c.Code]
		if !seen && !visibleCity(scope, c.Code) {
			continue
		}
		row := BacklogRow{Code: c.Code, Name: c.Name}
		if counts != nil {
			row.BacklogCounts = *counts
		}
		out.Rows = append(out.Rows, row)
	}
	if c := byCity[""]; c != nil {
		out.Rows = append(out.Rows, BacklogRow{Name: "未归属地市", BacklogCounts: *c})
	}
	return out, nil
}

// visibleCity reports whether a viewer with scope sees some of city.
func visibleCity(scope []string, city string) bool {
	for _, p := range scope {
		if strings.HasPrefix(city, p) || strings.HasPrefix(p, city) {
			return true
		}
	}
	return false
}

// ---- decisions: SLA and working time ----

// WeekSLA is one week's SLA compliance: of the cases finally decided in the
// week (Monday to Sunday, Asia/Shanghai, within the range), how many on or
// before their due date.
type WeekSLA struct {
	Monday time.Time // the week's first day (it may start before the range)
	Ratio            // OnTime of Decided
}

// WorkingTime is the median working time from submission to decision.
//
// The working time of one case is the time between its submitted_at and its
// decided_at that falls on working days: the two instants are placed in
// Asia/Shanghai, every calendar day between them that rules.Calendar says is
// a working day counts with the whole of its part inside the interval (all
// 24 hours of a working day lying inside it, or the part from the
// submission or up to the decision on the first and last day), and every
// other day (weekends, statutory holidays not made up) counts zero. So a
// case submitted on a Friday at 16:00 and decided the next Monday at 10:00
// took 8 + 10 = 18 working hours, or 0.75 working days (24 hours each).
// submitted_at is the last (re)submission: after a return (补正) the clock
// starts again with the new due date, as the SLA does.
//
// Median is the middle of the sorted working times, the mean of the two
// middle ones for an even count; Cases is how many decisions it is over.
type WorkingTime struct {
	Median time.Duration
	Cases  int
}

// Hours is the median in working hours.
func (w WorkingTime) Hours() float64 { return w.Median.Hours() }

// Days is the median in working days of 24 hours.
func (w WorkingTime) Days() float64 { return w.Median.Hours() / 24 }

// decisions reads the final decisions of the range (cases now approved or
// rejected whose decided_at lies in it; returns are not final and a case
// reopened since is not decided) and computes the weekly SLA and the median
// working time. Bounded by the range: only decisions in it are loaded, three
// columns each. A final decision without a due date (the workflow always
// sets one at submission) cannot be measured against the SLA and is left out
// of it, though not out of the working time.
func (s *Service) decisions(ctx context.Context, scope []string, f Filter, r *Report) error {
	cases, err := s.db.Ent.RecoveryCase.Query().
		Where(append(caseRegions(scope, f.City), recoverycase.StatusIn(state.Approved, state.Rejected),
			recoverycase.DecidedAtGTE(f.start()), recoverycase.DecidedAtLT(f.end()))...).
		Select(recoverycase.FieldSubmittedAt, recoverycase.FieldDecidedAt, recoverycase.FieldDueBy).
		All(ctx)
	if err != nil {
		return err
	}
	weeks := map[int64]*WeekSLA{} // by the Monday's Unix time
	for m := monday(f.From); !m.After(f.To); m = m.AddDate(0, 0, 7) {
		weeks[m.Unix()] = &WeekSLA{Monday: m}
		r.Weeks = append(r.Weeks, WeekSLA{Monday: m})
	}
	var times []time.Duration
	for _, c := range cases {
		decided := *c.DecidedAt
		if w := weeks[monday(decided).Unix()]; w != nil && c.DueBy != nil {
			onTime := !rules.StartOfDay(decided).After(rules.StartOfDay(*c.DueBy))
			w.Den++
			r.SLA.Den++
			if onTime {
				w.Num++
				r.SLA.Num++
			}
		}
		if c.SubmittedAt != nil {
			times = append(times, WorkingDuration(s.calendar, *c.SubmittedAt, decided))
		}
	}
	for i := range r.Weeks {
		r.Weeks[i] = *weeks[r.Weeks[i].Monday.Unix()]
	}
	r.Median = WorkingTime{Median: median(times), Cases: len(times)}
	return nil
}

// WorkingDuration is the working time from a to b as WorkingTime defines
// it: the part of [a, b) that lies on working days of cal (Asia/Shanghai
// calendar days); 0 when b is not after a.
func WorkingDuration(cal *rules.Calendar, a, b time.Time) time.Duration {
	var total time.Duration
	for day := rules.StartOfDay(a); day.Before(b); day = day.AddDate(0, 0, 1) {
		if !cal.IsWorkday(day) {
			continue
		}
		from, to := day, day.AddDate(0, 0, 1)
		if a.After(from) {
			from = a
		}
		if b.Before(to) {
			to = b
		}
		if to.After(from) {
			total += to.Sub(from)
		}
	}
	return total
}

// median of ds (which it sorts); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	mid := len(ds) / 2
	if len(ds)%2 == 1 {
		return ds[mid]
	}
	return (ds[mid-1] + ds[mid]) / 2
}

// monday is the Monday of day's week (weeks start on Monday), as midnight
// in Asia/Shanghai.
func monday(day time.Time) time.Time {
	d := rules.StartOfDay(day)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// ---- reviewers ----

// ReviewerStats is one reviewer's decisions in the range.
//
// The source is the case history (case_events of type "decided", actor
// "staff:<username>"), not the case row: the row keeps only the last
// decision (decided_by/decided_at are overwritten when a returned case is
// decided again, or a reopened one), so counting rows would lose every
// return and every decision later superseded — work the reviewer did. Each
// decision event is counted once, in the range by its time. A reviewer's
// approval of a risk-flagged case is recorded as "first_approved" and
// becomes their "decided" approval when a supervisor co-signs it (at the
// co-signature's time); the co-signature itself ("second_approved") and a
// declined approval count for no one here.
//
// ApprovalRate is Approved of Approved + Rejected: the share of the
// reviewer's final outcomes that were approvals. A return (补正) is not an
// outcome for the applicant, so it is counted in Decisions but left out of
// the rate.
type ReviewerStats struct {
	Username, Name               string
	Approved, Rejected, Returned int
}

// Decisions is every decision the reviewer made.
func (r ReviewerStats) Decisions() int { return r.Approved + r.Rejected + r.Returned }

// ApprovalRate is Approved of Approved + Rejected.
func (r ReviewerStats) ApprovalRate() Ratio {
	return Ratio{Num: r.Approved, Den: r.Approved + r.Rejected}
}

// reviewers counts decision events GROUP BY actor and outcome (the outcome
// read from the event's JSON, which sqljson writes for either database).
func (s *Service) reviewers(ctx context.Context, scope []string, f Filter) ([]ReviewerStats, error) {
	var rows []struct {
		Actor   string `sql:"actor"`
		Outcome string `sql:"outcome"`
		N       int    `sql:"n"`
	}
	q := s.db.Ent.CaseEvent.Query().
		Where(caseevent.Type("decided"), caseevent.ActorHasPrefix("staff:"),
			caseevent.CreatedAtGTE(f.start()), caseevent.CreatedAtLT(f.end()))
	if ps := caseRegions(scope, f.City); ps != nil {
		q = q.Where(caseevent.HasCaseWith(ps...))
	}
	err := q.Modify(func(sel *sql.Selector) {
		outcome := sqljson.ValuePath(caseevent.FieldAfter, sqljson.Path("outcome"), sqljson.Unquote(true))
		sel.Select(sel.C(caseevent.FieldActor)).
			AppendSelectExprAs(outcome, "outcome").
			AppendSelectExprAs(sql.Raw("COUNT(*)"), "n").
			GroupBy(sel.C(caseevent.FieldActor), "outcome")
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	by := map[string]*ReviewerStats{}
	var names []string
	for _, r := range rows {
		u := strings.TrimPrefix(r.Actor, "staff:")
		st := by[u]
		if st == nil {
			st = &ReviewerStats{Username: u, Name: u}
			by[u] = st
			names = append(names, u)
		}
		switch r.Outcome {
		case "approve":
			st.Approved += r.N
		case "reject":
			st.Rejected += r.N
		case "return":
			st.Returned += r.N
		}
	}
	if len(names) > 0 {
		staff, err := s.db.Ent.StaffUser.Query().Where(staffuser.UsernameIn(names...)).
			Select(staffuser.FieldUsername, staffuser.FieldName).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, u := range staff {
			if st := by[u.Username]; st != nil {
				st.Name = u.Name
			}
		}
	}
	out := make([]ReviewerStats, 0, len(by))
	for _, st := range by {
		if st.Decisions() > 0 {
			out = append(out, *st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Decisions() != out[j].Decisions() {
			return out[i].Decisions() > out[j].Decisions()
		}
		return out[i].Username < out[j].Username
	})
	return out, nil
}

// ---- QA ----

// QAStats are the quality reviews completed in the range (by reviewed_at):
// Disagreed of Reviewed (agreed + disagreed); open reviews do not count.
type QAStats struct {
	Reviewed, Disagreed int
}

// Rate is the disagreement rate.
func (q QAStats) Rate() Ratio { return Ratio{Num: q.Disagreed, Den: q.Reviewed} }

func (s *Service) qa(ctx context.Context, scope []string, f Filter) (QAStats, error) {
	var rows []struct {
		Status string `sql:"status"`
		N      int    `sql:"count"`
	}
	ps := []predicate.QAReview{qareview.StatusIn(qareview.StatusAgreed, qareview.StatusDisagreed),
		qareview.ReviewedAtGTE(f.start()), qareview.ReviewedAtLT(f.end())}
	if p := inRegions(qareview.FieldRegionCode, scope, f.City); p != nil {
		ps = append(ps, predicate.QAReview(p))
	}
	err := s.db.Ent.QAReview.Query().Where(ps...).
		GroupBy(qareview.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return QAStats{}, err
	}
	var out QAStats
	for _, r := range rows {
		out.Reviewed += r.N
		if r.Status == string(qareview.StatusDisagreed) {
			out.Disagreed += r.N
		}
	}
	return out, nil
}

// ---- regions ----

// caseRegions is inRegions for recovery cases, as predicates to append.
func caseRegions(scope []string, city string) []predicate.RecoveryCase {
	if p := inRegions(recoverycase.FieldRegionCode, scope, city); p != nil {
		return []predicate.RecoveryCase{p}
	}
	return nil
}

// inRegions restricts field (a region code column) to the viewer's scope
// and the chosen city, as index-friendly ranges [prefix, next prefix). A
// province-wide scope adds nothing; an empty one matches nothing. nil means
// no restriction.
func inRegions(field string, scope []string, city string) func(*sql.Selector) {
	province := slices.Contains(scope, rules.ProvinceCode)
	if province && city == "" {
		return nil
	}
	return func(s *sql.Selector) {
		if !province {
			var ranges []*sql.Predicate
			for _, p := range scope {
				ranges = append(ranges, prefixRange(s.C(field), p))
			}
			if len(ranges) == 0 {
				s.Where(sql.False())
				return
			}
			s.Where(sql.Or(ranges...))
		}
		if city != "" {
			s.Where(prefixRange(s.C(field), city))
		}
	}
}

// prefixRange is col starting with the digits prefix, as a range an index
// can serve (LIKE 'p%' cannot on SQLite, where LIKE ignores case).
func prefixRange(col, prefix string) *sql.Predicate {
	upper := prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
	return sql.And(sql.GTE(col, prefix), sql.LT(col, upper))
}
