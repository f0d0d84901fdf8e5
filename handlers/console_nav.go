package handlers

import (
	"github.com/gofiber/fiber/v2"

	"recoverydesk/policies"
)

// navLink is one entry of the console navigation.
type navLink struct {
	Key, Path, Label string
	perm             policies.Permission
}

// consoleNav is the console's navigation, in order. Each link is shown only
// to those whose roles open its page.
var consoleNav = []navLink{
	{"cases", "/console/cases", "审核队列", policies.PermCaseList},
	{"qa", "/console/qa", "质检", policies.PermQAReview},
	{"sms", "/console/sms/failed", "短信失败", policies.PermCaseResendSMS},
	{"dashboard", "/console/dashboard", "统计看板", policies.PermDashboardRead},
	{"workload", "/console/workload", "接单负载", policies.PermWorkloadManage},
	{"audit", "/console/audit", "审计日志", policies.PermAuditRead},
	{"staff", "/console/staff", "人员管理", policies.PermStaffManage},
	{"reasons", "/console/reasons", "原因代码", policies.PermReasonsManage},
}

// navFor is the navigation the staff member (by username key) may use.
func (s *Server) navFor(usernameKey string) []navLink {
	var links []navLink
	for _, l := range consoleNav {
		if s.deps.Enforcer.AllowedAnywhere(policies.Subject(usernameKey), l.perm.Obj, l.perm.Act) {
			links = append(links, l)
		}
	}
	return links
}

// landing is where a staff member starts: the queue for those who review,
// the staff list for administrators, else the first page their roles open,
// or the console home (which explains a missing role).
func (s *Server) landing(usernameKey string) string {
	links := s.navFor(usernameKey)
	for _, preferred := range []string{"cases", "staff"} {
		for _, l := range links {
			if l.Key == preferred {
				return l.Path
			}
		}
	}
	if len(links) > 0 {
		return links[0].Path
	}
	return "/console"
}

// consoleHome sends a signed-in staff member to the first page their roles
// open: reviewers to the queue, administrators to the staff list. Someone
// with no role yet gets a page that says so instead of a 403.
func (s *Server) consoleHome(c *fiber.Ctx) error {
	if to := s.landing(signedInStaff(c).UsernameKey); to != "/console" {
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	return render(c, fiber.StatusOK, "console/no_role", layoutConsole, Page{Title: "尚未分配角色", Staff: s.staffView(c)})
}
