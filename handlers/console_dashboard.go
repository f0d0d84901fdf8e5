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
	BacklogChart   dashboard.BarChart
	SLAChart       dashboard.ColumnChart
	ReviewerChart  dashboard.BarChart
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

// layOut fills the charts and the formatted figures from the report.
func (v *dashboardView) layOut() {
	r := v.R
	backlog := make([]dashboard.BarInput, len(r.Backlog.Rows))
	for i, row := range r.Backlog.Rows {
		backlog[i] = dashboard.BarInput{Label: row.Name,
			Values: []int{row.Submitted, row.InReview, row.AwaitingSecond, row.Returned},
			Titles: []string{row.Name + " " + vocab.StatusLabel(state.Submitted), row.Name + " " + vocab.StatusLabel(state.InReview),
				row.Name + " " + vocab.StatusLabel(state.AwaitingSecond), row.Name + " " + vocab.StatusLabel(state.Returned)}}
	}
	v.BacklogChart = dashboard.Bars(backlog, []string{"seg-submitted", "seg-in-review", "seg-awaiting", "seg-returned"})

	cols := make([]dashboard.ColumnInput, len(r.Weeks))
	for i, w := range r.Weeks {
		cols[i] = dashboard.ColumnInput{Label: w.Monday.Format("01-02"), Ratio: w.Ratio}
		v.WeekEnds = append(v.WeekEnds, w.Monday.AddDate(0, 0, 6).Format(time.DateOnly))
	}
	v.SLAChart = dashboard.Columns(cols)

	reviewers := make([]dashboard.BarInput, len(r.Reviewers))
	for i, rv := range r.Reviewers {
		reviewers[i] = dashboard.BarInput{Label: rv.Name, Values: []int{rv.Approved, rv.Rejected, rv.Returned},
			Titles: []string{rv.Name + " " + vocab.OutcomeApprove.Label(), rv.Name + " " + vocab.OutcomeReject.Label(),
				rv.Name + " " + vocab.OutcomeReturn.Label()}}
	}
	v.ReviewerChart = dashboard.Bars(reviewers, []string{"seg-approve", "seg-reject", "seg-return"})

	if r.Median.Cases > 0 {
		v.MedianHours = fmt.Sprintf("%.1f", r.Median.Hours())
		v.MedianDays = fmt.Sprintf("%.2f", r.Median.Days())
	}
}
