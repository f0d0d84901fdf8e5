package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// dashboardView is the dashboard page's data: the report, the filter as
// typed, and the charts laid out from the report.
type dashboardView struct {
	R              *dashboard.Report
	From, To, City string
	Cities         []rules.Region
	Defaulted      bool // the filter was refused; the figures are the default range's
	Backlog        barFigure
	SLAChart       dashboard.ColumnChart
	Reviewers      barFigure
	RangeFrom      string
	RangeTo        string
	WeekEnds       []string // each week's Sunday, beside Report.Weeks
	MedianHours    string
	MedianDays     string
}

// dashboardPage is /console/dashboard: the figures of the regions where the
// viewer holds dashboard read, for the chosen dates and city.
func (s *Server) dashboardPage(c *fiber.Ctx) error {
	v := dashboardView{From: strings.Clone(c.Query("from")), To: strings.Clone(c.Query("to")),
		City: strings.Clone(c.Query("city")), Cities: rules.Cities()}
	status, msg, fields := fiber.StatusOK, "", map[string]string(nil)
	f, err := s.deps.Dashboard.ParseFilter(v.From, v.To, v.City)
	if err != nil {
		var ok bool
		if fields, msg, ok = formErrors(err); !ok {
			return err
		}
		status, f, v.Defaulted = fiber.StatusUnprocessableEntity, s.deps.Dashboard.DefaultFilter(), true
	}
	scope := s.deps.Enforcer.Regions(policies.Subject(signedInStaff(c).UsernameKey), policies.PermDashboardRead.Obj, policies.PermDashboardRead.Act)
	r, err := s.deps.Dashboard.Compute(c.UserContext(), scope, f)
	if err != nil {
		return err
	}
	v.R = r
	if !v.Defaulted {
		v.From, v.To, v.City = f.From.Format(time.DateOnly), f.To.Format(time.DateOnly), f.City
	}
	v.RangeFrom, v.RangeTo = f.From.Format(time.DateOnly), f.To.Format(time.DateOnly)
	v.layOut()
	return render(c, status, "console/dashboard", layoutConsole,
		Page{Title: "统计看板", Nav: "dashboard", Staff: s.staffView(c), Error: msg, Fields: fields, Data: v})
}

// barFigure is a bar chart with the key to its segments.
type barFigure struct {
	Chart  dashboard.BarChart
	Legend []segment
}

// segment is one kind of bar segment: the class dashboard.css colours it by
// and its label, named once for the bars, their tooltips and the legend.
type segment struct{ Class, Label string }

// The segments of the backlog (by status) and of the reviewers' decisions
// (by outcome).
var (
	backlogSegments = []segment{{"seg-submitted", vocab.StatusLabel(state.Submitted)}, {"seg-in-review", vocab.StatusLabel(state.InReview)},
		{"seg-awaiting", vocab.StatusLabel(state.AwaitingSecond)}, {"seg-returned", vocab.StatusLabel(state.Returned)}}
	decisionSegments = []segment{{"seg-approve", vocab.OutcomeApprove.Label()}, {"seg-reject", vocab.OutcomeReject.Label()},
		{"seg-return", vocab.OutcomeReturn.Label()}}
)

// bars lays out rows (a label and one value per segment each) as a bar
// chart keyed by segs; each segment's tooltip is its row's and its own label.
func bars(segs []segment, rows []dashboard.BarInput) barFigure {
	classes := make([]string, len(segs))
	for i, sg := range segs {
		classes[i] = sg.Class
	}
	for i := range rows {
		rows[i].Titles = make([]string, len(segs))
		for j, sg := range segs {
			rows[i].Titles[j] = rows[i].Label + " " + sg.Label
		}
	}
	return barFigure{Chart: dashboard.Bars(rows, classes), Legend: segs}
}

// layOut fills the charts and the formatted figures from the report.
func (v *dashboardView) layOut() {
	r := v.R
	backlog := make([]dashboard.BarInput, len(r.Backlog.Rows))
	for i, row := range r.Backlog.Rows {
		backlog[i] = dashboard.BarInput{Label: row.Name, Values: []int{row.Submitted, row.InReview, row.AwaitingSecond, row.Returned}}
	}
	v.Backlog = bars(backlogSegments, backlog)

	cols := make([]dashboard.ColumnInput, len(r.Weeks))
	for i, w := range r.Weeks {
		cols[i] = dashboard.ColumnInput{Label: w.Monday.Format("01-02"), Ratio: w.Ratio}
		v.WeekEnds = append(v.WeekEnds, w.Monday.AddDate(0, 0, 6).Format(time.DateOnly))
	}
	v.SLAChart = dashboard.Columns(cols)

	reviewers := make([]dashboard.BarInput, len(r.Reviewers))
	for i, rv := range r.Reviewers {
		reviewers[i] = dashboard.BarInput{Label: rv.Name, Values: []int{rv.Approved, rv.Rejected, rv.Returned}}
	}
	v.Reviewers = bars(decisionSegments, reviewers)

	if r.Median.Cases > 0 {
		v.MedianHours = fmt.Sprintf("%.1f", r.Median.Hours())
		v.MedianDays = fmt.Sprintf("%.2f", r.Median.Days())
	}
}
