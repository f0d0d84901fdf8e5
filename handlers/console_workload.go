package handlers

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/recovery"
	"recoverydesk/policies"
)

// workloadView is the supervisors' workload page: each reviewer's duty,
// open claims and cap under auto-assignment, and the 待关注 list.
type workloadView struct {
	Auto      bool
	Reviewers []recovery.ReviewerLoad
	Watch     []recovery.QueueRow
	MaxCap    int
	Saved     string // the reviewer whose cap was just set
}

// workloadPage is /console/workload.
func (s *Server) workloadPage(c *fiber.Ctx) error {
	return s.showWorkload(c, fiber.StatusOK, "", nil)
}

func (s *Server) showWorkload(c *fiber.Ctx, status int, formError string, fields map[string]string) error {
	sup := s.reviewer(c, policies.PermWorkloadManage)
	loads, err := s.deps.Recovery.Workload(c.UserContext(), sup)
	if err != nil {
		return err
	}
	watch, err := s.deps.Recovery.Watchlist(c.UserContext(), s.reviewer(c, policies.PermCaseRead))
	if err != nil {
		return err
	}
	v := workloadView{Auto: s.deps.Recovery.AutoAssign(), Reviewers: loads, Watch: watch, MaxCap: recovery.MaxAssignCap,
		Saved: strings.Clone(c.Query("saved"))}
	return render(c, status, "console/workload", layoutConsole,
		Page{Title: "接单负载", Nav: "workload", Staff: s.staffView(c), Error: formError, Fields: fields, Data: v})
}

// setAssignCap sets one reviewer's cap (supervisors of their region).
func (s *Server) setAssignCap(c *fiber.Ctx) error {
	username := strings.Clone(c.Params("username"))
	limit, err := strconv.Atoi(strings.TrimSpace(c.FormValue("cap")))
	if err != nil {
		limit = -1 // refused below with the field named
	}
	if err := s.deps.Recovery.SetCap(c.UserContext(), s.reviewer(c, policies.PermWorkloadManage), username, limit); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showWorkload(c, toAPIError(err).Status, msg, fields)
	}
	return c.Redirect("/console/workload?saved="+url.QueryEscape(username), fiber.StatusSeeOther)
}

// setDuty is the header's 暂停接单 / 恢复接单 toggle of the signed-in reviewer.
func (s *Server) setDuty(c *fiber.Ctx) error {
	paused := c.FormValue("paused") == "1"
	if err := s.deps.Recovery.SetPaused(c.UserContext(), s.reviewer(c, policies.PermCaseClaim), paused); err != nil {
		return err
	}
	return c.Redirect("/console/cases", fiber.StatusSeeOther)
}
