package handlers

import (
	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/accounts"
)

var passwordForm = pageForm{
	view:    "public/password_change",
	fields:  []string{"kind", "username"},
	secrets: []string{"old_password", "new_password", "new_password_confirm"},
}

// passwordChangeView is the data of the password change page.
type passwordChangeView struct {
	Kind string // person or unit
	Done bool   // the confirmation after a change
}

func passwordPage(kind string, form map[string]string) Page {
	if form == nil {
		form = map[string]string{}
	}
	form["kind"] = kind
	return Page{Title: "密码修改", Nav: "password_change", Form: form, Data: passwordChangeView{Kind: kind}}
}

// passwordChangePage shows the form, or the confirmation after a change.
func (s *Server) passwordChangePage(c *fiber.Ctx) error {
	p := passwordPage(accountKind(c.Query("kind")), nil)
	if c.Query("done") == "1" {
		p.Data = passwordChangeView{Kind: accountKind(c.Query("kind")), Done: true}
	}
	return render(c, fiber.StatusOK, passwordForm.view, layoutPublic, p)
}

// passwordChangePost replaces a password after checking the old one; a
// wrong old password counts toward the lockout as at login.
func (s *Server) passwordChangePost(c *fiber.Ctx) error {
	v := passwordForm.values(c)
	kind := accountKind(v["kind"])
	p := passwordPage(kind, passwordForm.shown(v))
	in := accounts.PasswordChange{Kind: kind, Username: v["username"], OldPassword: v["old_password"], NewPassword: v["new_password"]}
	var err error
	if v["new_password"] != v["new_password_confirm"] {
		// Nothing is changed; show the policy too so one retry suffices.
		err = withFieldErrors(accounts.CheckNewPassword(in), confirmError("new_password_confirm"))
	} else {
		err = s.deps.Accounts.ChangePassword(c.UserContext(), in)
	}
	if err != nil {
		return passwordForm.refuse(c, err, p)
	}
	return c.Redirect("/password/change?done=1&kind="+kind, fiber.StatusSeeOther)
}
