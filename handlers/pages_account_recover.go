package handlers

import (
	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/accounts"
)

var accountRecoverForm = pageForm{
	view:   "public/account_recover",
	fields: []string{"kind", "name", "id_number", "cert_type", "cert_number", "unit_name"},
}

// accountRecoverView is the data of the 账号找回 page.
type accountRecoverView struct {
	Kind   string // person or unit: the active tab
	SentTo string // the masked phone the username went to, after a success
}

func accountRecoverPage(kind string, form map[string]string) Page {
	if form == nil {
		form = map[string]string{"cert_type": "uscc"}
	}
	form["kind"] = kind
	return Page{Title: "账号找回", Nav: "account_recover", Form: form, Data: accountRecoverView{Kind: kind}}
}

// accountRecoverPageGet shows the form, or where the username was sent
// after a success (shown once).
func (s *Server) accountRecoverPageGet(c *fiber.Ctx) error {
	kind := accountKind(c.Query("kind"))
	sent, err := s.takeFlash(c, "username_sent")
	if err != nil {
		return err
	}
	p := accountRecoverPage(kind, nil)
	p.Data = accountRecoverView{Kind: kind, SentTo: sent}
	return render(c, fiber.StatusOK, accountRecoverForm.view, layoutPublic, p)
}

// accountRecoverPost sends the username by SMS to the phone on record. The
// page shows only that phone, masked, never the username.
func (s *Server) accountRecoverPost(c *fiber.Ctx) error {
	v := accountRecoverForm.values(c)
	kind := accountKind(v["kind"])
	in := accounts.UsernameRecovery{Kind: kind, Name: v["name"], IDNumber: v["id_number"],
		CertType: v["cert_type"], CertNumber: v["cert_number"], UnitName: v["unit_name"]}
	masked, err := s.deps.Accounts.RecoverUsername(c.UserContext(), in)
	if err != nil {
		return accountRecoverForm.refuse(c, err, accountRecoverPage(kind, accountRecoverForm.shown(v)))
	}
	if err := s.setFlash(c, "username_sent", masked); err != nil {
		return err
	}
	return c.Redirect("/account/recover?kind="+kind, fiber.StatusSeeOther)
}
