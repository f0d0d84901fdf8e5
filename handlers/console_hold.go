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
	number := caseNumberParam(c)
	reason := strings.Clone(c.FormValue("hold_reason"))
	err := s.deps.Recovery.PlaceHold(c.UserContext(), s.reviewer(c, policies.PermCaseHold), number, reason)
	return s.afterCaseForm(c, number, err, map[string]string{"hold_reason": reason}, "#hold")
}

// liftHold ends a case's legal hold.
func (s *Server) liftHold(c *fiber.Ctx) error {
	number := caseNumberParam(c)
	err := s.deps.Recovery.LiftHold(c.UserContext(), s.reviewer(c, policies.PermCaseHold), number)
	return s.afterCaseForm(c, number, err, nil, "#hold")
}

// caseNumberParam is the case number in the path, as stored (upper case).
func caseNumberParam(c *fiber.Ctx) string {
	return strings.ToUpper(strings.Clone(c.Params("number")))
}

// afterCaseForm ends a form posted from a case page: back to the case at
// anchor when it was done, else the case page again with the refusal beside
// its field and the values typed (form). Other errors go to the error page.
func (s *Server) afterCaseForm(c *fiber.Ctx, number string, err error, form map[string]string, anchor string) error {
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showCase(c, toAPIError(err).Status, msg, fields, form)
	}
	return c.Redirect(casePath(number)+anchor, fiber.StatusSeeOther)
}

// casePath is the console page of a case.
func casePath(number string) string { return "/console/cases/" + url.PathEscape(number) }
