package handlers

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"

	"recoverydesk/ent"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/staff"
	"recoverydesk/policies"
)

// The console session is separate from applicants' (its own cookie and
// keys) and ends after 30 minutes without a request.
const (
	consoleCookie  = "rd_console"
	consoleIdleTTL = 30 * time.Minute
	sessStaffID    = "staff_id"
	sessStaffEpoch = "staff_epoch" // the user's session epoch at sign-in (staff.Service.SessionUser)
	// sessRenewBy is when (Unix seconds) requireStaff next rewrites the
	// session to renew its idle timeout (renewEvery after the last write).
	sessRenewBy = "renew_by"
	localsStaff = "staff"
)

func newConsoleSessions(s *kvstore.Store) *session.Store {
	return session.New(session.Config{
		Storage:        s,
		KeyLookup:      "cookie:" + consoleCookie,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		CookiePath:     "/console",
		// A write renews the session for renewEvery more than the idle
		// timeout, as it is rewritten at most once per renewEvery
		// (requireStaff): it lives 30 to 31 minutes after the last request.
		Expiration: consoleIdleTTL + renewEvery,
	})
}

// signedInStaff is the staff user of this console request, set by requireStaff.
func signedInStaff(c *fiber.Ctx) *ent.StaffUser {
	u, _ := c.Locals(localsStaff).(*ent.StaffUser)
	return u
}

// requireStaff lets a request through only with a console session that
// still stands (an enabled user, no reset or disabling since it signed in),
// and renews the session's idle timeout. Anyone else is
// sent to the sign-in page, which brings them back afterwards.
func (s *Server) requireStaff(c *fiber.Ctx) error {
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	id, ok := sess.Get(sessStaffID).(int)
	if !ok {
		return c.Redirect("/console/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	epoch, _ := sess.Get(sessStaffEpoch).(int)
	u, err := s.deps.Staff.SessionUser(c.UserContext(), id, epoch)
	if errors.Is(err, staff.ErrSessionEnded) {
		_ = sess.Destroy()
		return c.Redirect("/console/login", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	if err := s.renewConsoleSession(sess); err != nil {
		return err
	}
	c.Locals(localsStaff, u)
	if to := setupStep(u); to != "" && c.Path() != to && c.Path() != "/console/logout" {
		return c.Redirect(to, fiber.StatusSeeOther)
	}
	return c.Next()
}

// renewConsoleSession renews the session's 30-minute idle timeout: it
// rewrites the session (expiry consoleIdleTTL + renewEvery from now) when
// the last write is renewEvery old, and otherwise writes nothing, since the
// stored expiry still lies beyond consoleIdleTTL from now.
func (s *Server) renewConsoleSession(sess *session.Session) error {
	now := s.deps.Clock.Now()
	if by, _ := sess.Get(sessRenewBy).(int64); now.Unix() < by {
		return nil
	}
	sess.Set(sessRenewBy, now.Add(renewEvery).Unix())
	return sess.Save()
}

// setupStep is the page a staff user must finish before any other console
// page, or "": first their own password in place of one an administrator
// issued (staff.Admin.Create, ResetPassword), then the second factor an
// administrator required. Until then the console offers only that page and
// signing out, so an issued password opens nothing else.
func setupStep(u *ent.StaffUser) string {
	switch {
	case u.PasswordTemporary:
		return "/console/password"
	case u.TotpRequired && len(u.TotpSecret) == 0:
		return "/console/totp"
	}
	return ""
}

// requirePermission refuses a signed-in staff user who holds perm in no
// region (403). Which regions they may see is decided per case.
func (s *Server) requirePermission(perm policies.Permission) fiber.Handler {
	return func(c *fiber.Ctx) error {
		u := signedInStaff(c)
		if u == nil || !s.deps.Enforcer.AllowedAnywhere(policies.Subject(u.UsernameKey), perm.Obj, perm.Act) {
			return fiber.ErrForbidden
		}
		return c.Next()
	}
}

// staffView is the console frame's view of the signed-in user.
func (s *Server) staffView(c *fiber.Ctx) *StaffView {
	u := signedInStaff(c)
	if u == nil {
		return nil
	}
	v := &StaffView{Username: u.Username, Name: u.Name, Nav: s.navFor(u.UsernameKey), Paused: u.Paused}
	if s.deps.Recovery.AutoAssign() && s.deps.Enforcer.AllowedAnywhere(policies.Subject(u.UsernameKey), policies.PermCaseClaim.Obj, policies.PermCaseClaim.Act) {
		v.Duty = string(s.deps.Recovery.Duty(u, s.deps.Clock.Now()))
	}
	seen := map[string]bool{}
	for _, g := range s.deps.Enforcer.RolesOf(policies.Subject(u.UsernameKey)) {
		if !seen[g.Role] {
			seen[g.Role] = true
			v.Roles = append(v.Roles, g.Role)
		}
	}
	return v
}

// safeNext keeps a post-sign-in redirect inside the console; anything else
// gives "" (the caller's default).
func safeNext(next string) string {
	if strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") {
		return next
	}
	return ""
}
