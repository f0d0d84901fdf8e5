package handlers

import (
	"encoding/base64"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/rules"
)

// consoleLoginForm is the sign-in form (CONTRACT §5 field names).
type consoleLoginForm struct {
	Username string `form:"username"`
	Password string `form:"password"`
	OTP      string `form:"otp"`
	Next     string `form:"next"`
}

// consoleLoginPage is the staff sign-in form.
func (s *Server) consoleLoginPage(c *fiber.Ctx) error {
	page := Page{Title: "审核台登录", Form: map[string]string{"next": c.Query("next")}}
	return render(c, fiber.StatusOK, "console/login", layoutConsole, page)
}

// consoleLogin signs a staff member in and starts a fresh console session.
func (s *Server) consoleLogin(c *fiber.Ctx) error {
	var f consoleLoginForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	u, err := s.deps.Staff.SignIn(c.UserContext(), f.Username, f.Password, f.OTP)
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		page := Page{Title: "审核台登录", Error: msg, Fields: fields,
			Form: map[string]string{"username": f.Username, "next": f.Next}}
		return render(c, toAPIError(err).Status, "console/login", layoutConsole, page)
	}
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Regenerate(); err != nil {
		return err
	}
	sess.Set(sessStaffID, u.ID)
	sess.Set(sessStaffEpoch, u.SessionEpoch)
	if err := sess.Save(); err != nil {
		return err
	}
	// Signing in puts a reviewer on duty: waiting cases find them now. A
	// failure here is no failed sign-in (the next sweep assigns them).
	if _, err := s.deps.Recovery.AssignWaiting(c.UserContext()); err != nil {
		s.deps.Logger.Warn("assign after sign-in", "err", err, "request_id", requestID(c))
	}
	next := safeNext(f.Next)
	if to := setupStep(u); to != "" {
		next = to
	} else if next == "" {
		next = s.landing(u.UsernameKey)
	}
	return c.Redirect(next, fiber.StatusSeeOther)
}

// consoleLogout ends the console session.
func (s *Server) consoleLogout(c *fiber.Ctx) error {
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Destroy(); err != nil {
		return err
	}
	return c.Redirect("/console/login", fiber.StatusSeeOther)
}

// totpView is the enrolment page's data.
type totpView struct {
	Enrolled bool
	QRData   template.URL // data: URL of the QR code PNG we generated (trusted)
	Secret   string       // for typing into an app by hand
}

const sessTOTPSecret = "totp_pending"

// totpPage offers a new TOTP secret as a QR code (kept in the session until
// confirmed), or says that the second factor is already on.
func (s *Server) totpPage(c *fiber.Ctx) error {
	u := signedInStaff(c)
	page := Page{Title: "动态口令", Nav: "totp", Staff: s.staffView(c)}
	if len(u.TotpSecret) > 0 {
		page.Data = totpView{Enrolled: true}
		return render(c, fiber.StatusOK, "console/totp", layoutConsole, page)
	}
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	pending, _ := sess.Get(sessTOTPSecret).(string)
	en, err := s.deps.Staff.StartEnrolment(u, pending)
	if err != nil {
		return err
	}
	sess.Set(sessTOTPSecret, en.Secret)
	if err := sess.Save(); err != nil {
		return err
	}
	page.Data = totpView{QRData: qrDataURL(en.QRPNG), Secret: en.Secret}
	return render(c, fiber.StatusOK, "console/totp", layoutConsole, page)
}

// totpConfirm turns TOTP on once a code from the app matches the secret.
func (s *Server) totpConfirm(c *fiber.Ctx) error {
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	secret, _ := sess.Get(sessTOTPSecret).(string)
	if secret == "" {
		return c.Redirect("/console/totp", fiber.StatusSeeOther)
	}
	err = s.deps.Staff.ConfirmEnrolment(c.UserContext(), signedInStaff(c).ID, secret, strings.Clone(c.FormValue("otp")))
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		status := toAPIError(err).Status
		en, err := s.deps.Staff.StartEnrolment(signedInStaff(c), secret)
		if err != nil {
			return err
		}
		view := totpView{QRData: qrDataURL(en.QRPNG), Secret: en.Secret}
		page := Page{Title: "动态口令", Nav: "totp", Staff: s.staffView(c), Error: msg, Fields: fields, Data: view}
		return render(c, status, "console/totp", layoutConsole, page)
	}
	sess.Delete(sessTOTPSecret)
	if err := sess.Save(); err != nil {
		return err
	}
	return c.Redirect("/console/totp", fiber.StatusSeeOther)
}

// staffPasswordForm is the own-password form.
type staffPasswordForm struct {
	Password string `form:"password"`
	New      string `form:"new_password"`
	Repeat   string `form:"repeat_password"`
}

// staffPasswordPage is the form where staff set their own password: the
// first page after signing in with a password an administrator issued.
func (s *Server) staffPasswordPage(c *fiber.Ctx) error {
	return s.showPasswordPage(c, fiber.StatusOK, "", nil)
}

func (s *Server) showPasswordPage(c *fiber.Ctx, status int, msg string, fields map[string]string) error {
	return render(c, status, "console/password", layoutConsole, Page{Title: "设置密码", Nav: "password", Staff: s.staffView(c),
		Error: msg, Fields: fields, Data: passwordView{Temporary: signedInStaff(c).PasswordTemporary,
			MinLen: rules.PasswordMinLen, MaxLen: rules.PasswordMaxLen}})
}

// passwordView is the own-password page's data.
type passwordView struct {
	Temporary      bool // signed in with a password an administrator issued
	MinLen, MaxLen int
}

// staffPasswordChange sets the signed-in staff member's own password. Their
// other sessions end; this one carries on under the new epoch and goes on
// to the next setup step (TOTP) or the console.
func (s *Server) staffPasswordChange(c *fiber.Ctx) error {
	var f staffPasswordForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	epoch, err := s.deps.Staff.ChangePassword(c.UserContext(), signedInStaff(c).ID, f.Password, f.New, f.Repeat)
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showPasswordPage(c, toAPIError(err).Status, msg, fields)
	}
	sess, err := s.console.Get(c)
	if err != nil {
		return err
	}
	sess.Set(sessStaffEpoch, epoch)
	if err := sess.Save(); err != nil {
		return err
	}
	return c.Redirect("/console", fiber.StatusSeeOther)
}

// qrDataURL embeds a PNG we generated as a data: URL (the CSP allows data:
// images; html/template would refuse an unmarked one).
func qrDataURL(png []byte) template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}
