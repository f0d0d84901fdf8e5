package handlers

import (
	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

var loginForm = pageForm{view: "public/login", fields: []string{"kind", "username"}, secrets: []string{"password"}}

// loginView is the data of the login page.
type loginView struct {
	Kind string // person or unit: the active tab
}

// accountView is the data of the signed-in page.
type accountView struct {
	Username  string
	Kind      string // person or unit
	KindLabel string // 个人账号 or 单位账号
	LastLogin string // "2026-03-15 09:30", Asia/Shanghai
}

// accountKind is the kind a form or link asks for; anything else is person.
func accountKind(s string) string {
	if s == accounts.KindUnit {
		return accounts.KindUnit
	}
	return accounts.KindPerson
}

func loginPage(kind string, form map[string]string) Page {
	if form == nil {
		form = map[string]string{}
	}
	form["kind"] = kind
	return Page{Title: "用户登录", Nav: "login", Form: form, Data: loginView{Kind: kind}}
}

// loginPageGet shows the login form with its 个人登录 | 单位登录 tabs.
func (s *Server) loginPageGet(c *fiber.Ctx) error {
	p := loginPage(accountKind(c.Query("kind")), nil)
	if c.Query("registered") == "1" {
		p.Flash = "注册成功，请登录"
	}
	// After registering, the new username is already filled in (the
	// registration's redirect and the unit's 去登录 link carry it).
	p.Form["username"] = clipQuery(c.Query("username"), rules.UsernameMaxLen)
	return render(c, fiber.StatusOK, loginForm.view, layoutPublic, p)
}

// loginPagePost signs an applicant in exactly as the API does and leads to
// the signed-in page.
func (s *Server) loginPagePost(c *fiber.Ctx) error {
	v := loginForm.values(c)
	kind := accountKind(v["kind"])
	acc, err := s.deps.Accounts.Login(c.UserContext(), accounts.Credentials{Kind: kind, Username: v["username"], Password: v["password"]})
	if err != nil {
		return loginForm.refuse(c, err, loginPage(kind, loginForm.shown(v)))
	}
	if err := s.startApplicantSession(c, acc.ID); err != nil {
		return err
	}
	return c.Redirect("/account", fiber.StatusSeeOther)
}

// accountPage is the signed-in applicant's page.
func (s *Server) accountPage(c *fiber.Ctx) error {
	acc := signedInAccount(c)
	v := accountView{Username: acc.Username, Kind: string(acc.Kind), KindLabel: vocab.CaseKind(acc.Kind).Label() + "账号"}
	if acc.LastLoginAt != nil {
		v.LastLogin = acc.LastLoginAt.In(rules.Shanghai).Format("2006-01-02 15:04")
	}
	return render(c, fiber.StatusOK, "public/account", layoutPublic, Page{Title: "我的账号", Data: v})
}

// logoutPage ends the applicant's session (POST /logout, from the signed-in
// page's 退出登录 form).
func (s *Server) logoutPage(c *fiber.Ctx) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	if err := sess.Destroy(); err != nil {
		return err
	}
	return c.Redirect("/", fiber.StatusSeeOther)
}
