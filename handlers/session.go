package handlers

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/session"
	"github.com/valyala/fasthttp"

	"recoverydesk/ent"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/kvstore"
)

// The applicant session: server-side (the cookie holds only a random id),
// HttpOnly, SameSite=Lax, Secure under TLS (see underTLS).
const (
	applicantCookie  = "rd_session"
	applicantIdleTTL = 2 * time.Hour
)

// Session keys of a signed-in applicant.
const (
	sessAccountID = "account_id"
	// sessSignedInAt is when the session signed in (Unix ns): a password
	// changed after it ends the session.
	sessSignedInAt = "signed_in_at"
)

// localsAccount holds the signed-in applicant (requireApplicant).
const localsAccount = "account"

// signedInAccount is the applicant of a session route, set by requireApplicant.
func signedInAccount(c *fiber.Ctx) *ent.Account {
	acc, _ := c.Locals(localsAccount).(*ent.Account)
	return acc
}

// requireApplicant lets a request through only with an applicant session
// that still stands (accounts.SessionStands); anyone else is sent to the
// login page, and a session that no longer stands is ended.
func (s *Server) requireApplicant(c *fiber.Ctx) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	id, _ := sess.Get(sessAccountID).(int)
	if id == 0 {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	acc, err := s.deps.Accounts.Account(c.UserContext(), id)
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	signedIn, _ := sess.Get(sessSignedInAt).(int64)
	if !accounts.SessionStands(acc, time.Unix(0, signedIn)) {
		if err := sess.Destroy(); err != nil {
			return err
		}
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	c.Locals(localsAccount, acc)
	return c.Next()
}

func newApplicantSessions(s *kvstore.Store) *session.Store {
	return session.New(session.Config{
		Storage:        s,
		KeyLookup:      "cookie:" + applicantCookie,
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		Expiration:     applicantIdleTTL,
	})
}

// underTLS hardens a request that came over TLS (directly or through a
// trusted proxy): HSTS, and every cookie marked Secure. Deciding per request
// lets the same build work behind a TLS-terminating proxy and on loopback.
func underTLS() fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		if c.Protocol() != "https" {
			return err
		}
		c.Set(fiber.HeaderStrictTransportSecurity, "max-age=31536000")
		var names []string
		c.Response().Header.VisitAllCookie(func(key, _ []byte) { names = append(names, string(key)) })
		for _, name := range names {
			if fc := fasthttpCookie(c, name); fc != nil {
				fc.SetSecure(true)
				c.Response().Header.SetCookie(fc)
				fasthttp.ReleaseCookie(fc)
			}
		}
		return err
	}
}

// withAuditRequest puts the client address and the request id where domain
// services find them for their audit entries.
func withAuditRequest() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.SetUserContext(audit.WithRequest(c.UserContext(), audit.Request{IP: clientIP(c), RequestID: requestID(c)}))
		return c.Next()
	}
}
