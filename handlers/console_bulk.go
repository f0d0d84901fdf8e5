package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/recovery"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// bulkForm is the queue's bulk form: the selected case numbers, the action,
// the reviewer (reassign), the queue address to return to, and confirm=1
// once the supervisor confirmed.
type bulkForm struct {
	Numbers []string `form:"number"`
	Action  string   `form:"action"`
	To      string   `form:"to"`
	Back    string   `form:"back"`
	Confirm string   `form:"confirm"`
}

// bulkView is the confirmation page's data.
type bulkView struct {
	Form   bulkForm
	Result *recovery.BulkResult // what the action will do
	// Skipped are the selected cases the action leaves as they are (a
	// release of cases nobody holds).
	Skipped int
	Back    string
}

// Reassigning is whether the checked action gives the cases to a reviewer
// (the page's wording differs from a release).
func (v bulkView) Reassigning() bool {
	return v.Result != nil && v.Result.Action == vocab.BulkReassign
}

// bulkCases is a supervisor's action on the cases selected in the queue:
// the first post shows what it will do (the one confirmation step), the
// confirmed post does it and returns to the queue with a notice.
func (s *Server) bulkCases(c *fiber.Ctx) error {
	var f bulkForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	f.Action, f.To, f.Back = strings.Clone(f.Action), strings.Clone(f.To), queueAddress(strings.Clone(f.Back))
	req := recovery.BulkRequest{Action: vocab.BulkAction(f.Action), Numbers: f.Numbers, To: f.To}
	sup := s.reviewer(c, policies.PermCaseBulkAssign)
	run := s.deps.Recovery.PreviewBulk
	if f.Confirm == "1" {
		run = s.deps.Recovery.Bulk
	}
	res, err := run(c.UserContext(), sup, req, s.canDecide)
	if err != nil {
		_, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return render(c, toAPIError(err).Status, "console/bulk", layoutConsole,
			Page{Title: "批量处理案件", Nav: "cases", Staff: s.staffView(c), Error: msg, Data: bulkView{Form: f, Back: f.Back}})
	}
	if f.Confirm != "1" {
		return render(c, fiber.StatusOK, "console/bulk", layoutConsole,
			Page{Title: "批量处理案件", Nav: "cases", Staff: s.staffView(c), Data: bulkView{Form: f, Result: res, Skipped: len(f.Numbers) - len(res.Moved), Back: f.Back}})
	}
	if err := s.setConsoleFlash(c, vocab.BulkNotice(res.Action, len(res.Moved), res.ToName)); err != nil {
		return err
	}
	return c.Redirect(f.Back, fiber.StatusSeeOther)
}

// canDecide says whether the staff user (by username key) may decide cases
// of region: who a case may be given to.
func (s *Server) canDecide(key, region string) bool {
	ok, err := s.deps.Enforcer.Allowed(policies.Subject(key), region, policies.PermCaseDecide.Obj, policies.PermCaseDecide.Act)
	return err == nil && ok
}

// queueAddress is back when it is an address of the queue on this site,
// else the queue itself: the form's return address is never a way off-site.
func queueAddress(back string) string {
	if back == "/console/cases" || strings.HasPrefix(back, "/console/cases?") {
		return back
	}
	return "/console/cases"
}

// setConsoleFlash keeps a one-line notice in the console session for the
// page the redirect leads to (Post/Redirect/Get).
func (s *Server) setConsoleFlash(c *fiber.Ctx, notice string) error {
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	sess.Set("flash", notice)
	return sess.Save()
}

// takeConsoleFlash returns the notice setConsoleFlash kept, once.
func (s *Server) takeConsoleFlash(c *fiber.Ctx) (string, error) {
	sess, err := s.console.Get(c)
	if err != nil {
		return "", err
	}
	v, _ := sess.Get("flash").(string)
	if v == "" {
		return "", nil
	}
	sess.Delete("flash")
	return v, sess.Save()
}
