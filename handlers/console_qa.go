package handlers

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// qaView is the QA page's data.
type qaView struct {
	Awaiting []recovery.QueueRow // flagged approvals waiting for a second approval
	Items    []recovery.QAItem
	Next     int
	After    int
	Done     string // what the last verdict did, for the notice
	FormID   int    // the review a refused form was about
}

// DoneNotice confirms what the last verdict did (Done, a vocab.QAAction);
// "" when no verdict was just recorded.
func (v qaView) DoneNotice() string {
	switch vocab.QAAction(v.Done) {
	case "":
		return ""
	case vocab.QACancelPassword:
		return "已记录不同意意见：新密码已撤销，已短信告知申请人，案件重新进入待审核队列。"
	case vocab.QAReopen:
		return "已记录不同意意见：案件重新进入待审核队列。"
	}
	return "已记录质检意见。"
}

// Pager links the QA list's pages.
func (v qaView) Pager() pager {
	return pageLinks("/console/qa", nil, cursor(v.After), cursor(v.Next))
}

// qaPageSize is how many open reviews one page lists.
const qaPageSize = 50

// qaPage is /console/qa: the decisions drawn for quality review in the
// supervisor's regions, oldest first, and the approvals awaiting a second one.
func (s *Server) qaPage(c *fiber.Ctx) error {
	return s.showQA(c, fiber.StatusOK, "", nil, nil)
}

// showQA renders the QA page, with an error and the form of a refused verdict.
func (s *Server) showQA(c *fiber.Ctx, status int, formError string, fields, form map[string]string) error {
	after, _ := strconv.Atoi(c.Query("after"))
	page, err := s.deps.Recovery.QAQueue(c.UserContext(), s.reviewer(c, policies.PermQAReview), after, qaPageSize)
	if err != nil {
		return err
	}
	awaiting, err := s.deps.Recovery.AwaitingSecond(c.UserContext(), s.reviewer(c, policies.PermCaseApproveSecond), 100)
	if err != nil {
		return err
	}
	v := qaView{Awaiting: awaiting, Items: page.Items, Next: page.Next, After: after, Done: strings.Clone(c.Query("done"))}
	v.FormID, _ = strconv.Atoi(form["id"])
	return render(c, status, "console/qa", layoutConsole,
		Page{Title: "质检", Nav: "qa", Staff: s.staffView(c), Error: formError, Fields: fields, Form: form, Data: v})
}

// qaForm is a verdict on one review.
type qaForm struct {
	Verdict        string `form:"verdict"`
	Comment        string `form:"comment"`
	CancelPassword string `form:"cancel_password"`
}

// qaVerdict records a supervisor's agreement or disagreement with a decision.
func (s *Server) qaVerdict(c *fiber.Ctx) error {
	var f qaForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	id, err := strconv.Atoi(c.Params("id"))
	if err != nil {
		return recovery.ErrQANotFound
	}
	v := recovery.QAVerdict{Verdict: vocab.Verdict(f.Verdict), Comment: f.Comment, CancelPassword: f.CancelPassword == "1"}
	action, err := s.deps.Recovery.Verdict(c.UserContext(), s.reviewer(c, policies.PermQAReview), id, v)
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok || apperr.IsKind(err, apperr.NotFound) { // the review or its case: the 404 page
			return err
		}
		return s.showQA(c, toAPIError(err).Status, msg, fields,
			map[string]string{"id": strconv.Itoa(id), "verdict": f.Verdict, "comment": f.Comment, "cancel_password": f.CancelPassword})
	}
	return c.Redirect("/console/qa?done="+url.QueryEscape(action), fiber.StatusSeeOther)
}

// secondApprovalForm is a supervisor's answer to a flagged approval.
type secondApprovalForm struct {
	Verdict string `form:"verdict"`
	Note    string `form:"note"`
	Version int    `form:"version"`
}

// secondApproval co-signs (the password is issued) or declines (back to
// the queue) a flagged case's approval.
func (s *Server) secondApproval(c *fiber.Ctx) error {
	var f secondApprovalForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	number := caseNumberParam(c)
	d := recovery.SecondDecision{Verdict: vocab.SecondVerdict(f.Verdict), Note: f.Note, Version: f.Version}
	if err := s.deps.Recovery.SecondApproval(c.UserContext(), s.reviewer(c, policies.PermCaseApproveSecond), number, d); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok || apperr.IsKind(err, apperr.NotFound) {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, map[string]string{"second_verdict": f.Verdict, "second_note": f.Note})
	}
	// The case page confirms what the co-signature did (decidedNotice).
	return c.Redirect(casePath(number)+"?decided="+url.QueryEscape(number), fiber.StatusSeeOther)
}
