package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/policies"
)

// placeHold puts a case under legal hold (保全) with the supervisor's
// reason: the retention purge leaves its evidence alone until lifted.
func (s *Server) placeHold(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	reason := strings.Clone(c.FormValue("hold_reason"))
	if err := s.deps.Recovery.PlaceHold(c.UserContext(), s.reviewer(c, policies.PermCaseHold), number, reason); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, map[string]string{"hold_reason": reason})
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number)+"#hold", fiber.StatusSeeOther)
}

// liftHold ends a case's legal hold.
func (s *Server) liftHold(c *fiber.Ctx) error {
	number := strings.ToUpper(strings.Clone(c.Params("number")))
	if err := s.deps.Recovery.LiftHold(c.UserContext(), s.reviewer(c, policies.PermCaseHold), number); err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, nil)
	}
	return c.Redirect("/console/cases/"+url.PathEscape(number)+"#hold", fiber.StatusSeeOther)
}
