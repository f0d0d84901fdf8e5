package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/recovery"
	"recoverydesk/policies"
)

// resendSMS sends a message about the case that failed for good once more,
// with the same text (supervisors of the region, CONTRACT §7).
func (s *Server) resendSMS(c *fiber.Ctx) error {
	number := caseNumberParam(c)
	id, err := strconv.Atoi(c.FormValue("message_id"))
	if err != nil {
		return recovery.ErrSMSNotFound
	}
	if err := s.deps.Recovery.ResendSMS(c.UserContext(), s.reviewer(c, policies.PermCaseResendSMS), number, id); err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.Conflict {
			return s.showCase(c, fiber.StatusConflict, e.Message, nil, nil)
		}
		return err
	}
	return c.Redirect(casePath(number)+"?resent=1", fiber.StatusSeeOther)
}

// failedSMSView is the supervisors' list of messages that failed for good.
type failedSMSView struct {
	Messages []recovery.FailedSMS
}

// failedSMSPage lists the failed messages about cases in the supervisor's
// regions, each with its case, so that none is forgotten.
func (s *Server) failedSMSPage(c *fiber.Ctx) error {
	msgs, err := s.deps.Recovery.FailedSMSList(c.UserContext(), s.reviewer(c, policies.PermCaseResendSMS))
	if err != nil {
		return err
	}
	return render(c, fiber.StatusOK, "console/sms_failed", layoutConsole,
		Page{Title: "发送失败的短信", Nav: "sms", Staff: s.staffView(c), Data: failedSMSView{Messages: msgs}})
}
