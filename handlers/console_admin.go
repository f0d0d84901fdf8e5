package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/vocab"
	"recoverydesk/policies"
)

// staffAdmin is the staff administration acting for the signed-in user.
func (s *Server) staffAdmin(c *fiber.Ctx) (*staff.Admin, staff.Actor) {
	u := signedInStaff(c)
	return s.deps.Staff.Admin(s.deps.Enforcer), staff.Actor{ID: u.ID, Key: u.UsernameKey}
}

// memberView is a staff member as the pages show them: grants with their
// labels.
type memberView struct {
	staff.Member
	GrantViews []grantView
}

// grantView is one role grant with its Chinese labels.
type grantView struct {
	Role, RoleLabel, Region, RegionName string
}

// roleOption is a role of the role select.
type roleOption struct{ Role, Label string }

func roleOptions() []roleOption {
	var out []roleOption
	for _, r := range policies.Roles() {
		out = append(out, roleOption{r, vocab.Role(r).Label()})
	}
	return out
}

// regionOptions are the province and its cities, for the region field's list.
func regionOptions() []rules.Region {
	p, _ := rules.LookupRegion(rules.ProvinceCode)
	return append([]rules.Region{p}, rules.Cities()...)
}

func newMemberView(m staff.Member) memberView {
	v := memberView{Member: m}
	for _, g := range m.Grants {
		v.GrantViews = append(v.GrantViews, grantView{Role: g.Role, RoleLabel: vocab.Role(g.Role).Label(), Region: g.Region,
			RegionName: rules.RegionFullName(g.Region)})
	}
	return v
}

// staffListView is the staff list's data.
type staffListView struct {
	Members []memberView
}

// staffFormView is the data of the new-staff form and of the page that
// shows a generated password once.
type staffFormView struct {
	Roles    []roleOption
	Regions  []rules.Region
	Created  *memberView // set on the result page
	Password string      // the generated password, shown once
}

// staffPageView is one staff member's page.
type staffPageView struct {
	M        memberView
	Self     bool
	Roles    []roleOption
	Regions  []rules.Region
	Notice   string
	Password string // a password just reset, shown once
}

// staffNotices are the notices after a change (?done=…), fixed texts so
// nothing from the URL reaches the page.
var staffNotices = map[string]string{
	"disabled": "已停用该账号，其登录会话已失效。",
	"enabled":  "已启用该账号。",
	"totp":     "已要求该人员使用动态口令，其下次访问审核台时须先完成绑定。",
	"granted":  "已授予角色。",
	"revoked":  "已撤销角色。",
}

// staffListPage lists every staff user with roles, TOTP state and last sign-in.
func (s *Server) staffListPage(c *fiber.Ctx) error {
	a, _ := s.staffAdmin(c)
	members, err := a.List(c.UserContext())
	if err != nil {
		return err
	}
	v := staffListView{}
	for _, m := range members {
		v.Members = append(v.Members, newMemberView(m))
	}
	return render(c, fiber.StatusOK, "console/staff", layoutConsole,
		Page{Title: "人员管理", Nav: "staff", Staff: s.staffView(c), Data: v})
}

// staffNewPage is the form that creates a staff user.
func (s *Server) staffNewPage(c *fiber.Ctx) error {
	return s.showStaffNew(c, fiber.StatusOK, nil, "", map[string]string{"region": rules.ProvinceCode})
}

func (s *Server) showStaffNew(c *fiber.Ctx, status int, fields map[string]string, msg string, form map[string]string) error {
	return render(c, status, "console/staff_new", layoutConsole, Page{Title: "新增人员", Nav: "staff", Staff: s.staffView(c),
		Error: msg, Fields: fields, Form: form, Data: staffFormView{Roles: roleOptions(), Regions: regionOptions()}})
}

// staffForm is the new-staff form.
type staffForm struct {
	Username string `form:"username"`
	Name     string `form:"name"`
	Role     string `form:"role"`
	Region   string `form:"region"`
}

// staffCreate creates a staff user and shows the generated password once
// (rendered, not redirected, so it is never stored for a later page).
func (s *Server) staffCreate(c *fiber.Ctx) error {
	var f staffForm
	if err := c.BodyParser(&f); err != nil {
		return fiber.ErrBadRequest
	}
	a, actor := s.staffAdmin(c)
	n := staff.NewStaff{Username: f.Username, Name: f.Name, Role: f.Role, Region: f.Region}
	password, err := a.Create(c.UserContext(), actor, n)
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		form := map[string]string{"username": f.Username, "name": f.Name, "role": f.Role, "region": f.Region}
		return s.showStaffNew(c, toAPIError(err).Status, fields, msg, form)
	}
	m, err := a.Get(c.UserContext(), f.Username)
	if err != nil {
		return err
	}
	mv := newMemberView(m)
	return render(c, fiber.StatusCreated, "console/staff_new", layoutConsole, Page{Title: "新增人员", Nav: "staff",
		Staff: s.staffView(c), Data: staffFormView{Created: &mv, Password: password}})
}

// staffPage shows one staff member with the actions on their account and roles.
func (s *Server) staffPage(c *fiber.Ctx) error {
	return s.showStaff(c, fiber.StatusOK, "", nil, "")
}

func (s *Server) showStaff(c *fiber.Ctx, status int, msg string, fields map[string]string, password string) error {
	a, actor := s.staffAdmin(c)
	m, err := a.Get(c.UserContext(), strings.Clone(c.Params("username")))
	if err != nil {
		return err
	}
	v := staffPageView{M: newMemberView(m), Self: m.Key == actor.Key, Roles: roleOptions(), Regions: regionOptions(),
		Notice: staffNotices[c.Query("done")], Password: password}
	return render(c, status, "console/staff_member", layoutConsole, Page{Title: "人员 " + m.Username, Nav: "staff",
		Staff: s.staffView(c), Error: msg, Fields: fields, Data: v})
}

// staffDone sends the browser back to the member's page with a notice, or
// shows the page again with the refusal.
func (s *Server) staffDone(c *fiber.Ctx, err error, done string) error {
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		return s.showStaff(c, toAPIError(err).Status, msg, fields, "")
	}
	return c.Redirect("/console/staff/"+url.PathEscape(c.Params("username"))+"?done="+done, fiber.StatusSeeOther)
}

// staffSetDisabled disables or enables an account.
func (s *Server) staffSetDisabled(disabled bool) fiber.Handler {
	done := map[bool]string{true: "disabled", false: "enabled"}[disabled]
	return func(c *fiber.Ctx) error {
		a, actor := s.staffAdmin(c)
		return s.staffDone(c, a.SetDisabled(c.UserContext(), actor, strings.Clone(c.Params("username")), disabled), done)
	}
}

// staffRequireTOTP makes the second factor mandatory for the member.
func (s *Server) staffRequireTOTP(c *fiber.Ctx) error {
	a, actor := s.staffAdmin(c)
	return s.staffDone(c, a.RequireTOTP(c.UserContext(), actor, strings.Clone(c.Params("username"))), "totp")
}

// staffResetPassword gives the member a new generated password, shown once
// on the page this request renders, and ends their console sessions.
func (s *Server) staffResetPassword(c *fiber.Ctx) error {
	a, actor := s.staffAdmin(c)
	password, err := a.ResetPassword(c.UserContext(), actor, strings.Clone(c.Params("username")))
	if err != nil {
		return s.staffDone(c, err, "")
	}
	return s.showStaff(c, fiber.StatusOK, "", nil, password)
}

// grantForm is the grant and revoke form.
type grantForm struct {
	Role   string `form:"role"`
	Region string `form:"region"`
}

// staffGrant grants (or revokes) a role in a region.
func (s *Server) staffGrant(grant bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var f grantForm
		if err := c.BodyParser(&f); err != nil {
			return fiber.ErrBadRequest
		}
		a, actor := s.staffAdmin(c)
		username := strings.Clone(c.Params("username"))
		if grant {
			return s.staffDone(c, a.Grant(c.UserContext(), actor, username, f.Role, f.Region), "granted")
		}
		return s.staffDone(c, a.Revoke(c.UserContext(), actor, username, f.Role, f.Region), "revoked")
	}
}

// reasonsView is the reason catalog page's data.
type reasonsView struct {
	Reasons   []recovery.Reason
	LastIndex int // the last row has no "move down"
	Notice    string
}

var reasonNotices = map[string]string{
	"added": "已新增原因。", "edited": "已保存原因说明。", "moved": "已调整顺序。",
	"retired": "已停用该原因：新的审核不能再选择它，已作出的审核仍显示其说明。", "restored": "已恢复该原因。",
}

// reasonsPage lists the catalog with its forms.
func (s *Server) reasonsPage(c *fiber.Ctx) error {
	return s.showReasons(c, fiber.StatusOK, "", nil, nil)
}

func (s *Server) showReasons(c *fiber.Ctx, status int, msg string, fields, form map[string]string) error {
	all, err := s.deps.Recovery.ReasonCatalog(c.UserContext())
	if err != nil {
		return err
	}
	return render(c, status, "console/reasons", layoutConsole, Page{Title: "原因代码", Nav: "reasons", Staff: s.staffView(c),
		Error: msg, Fields: fields, Form: form, Data: reasonsView{Reasons: all, LastIndex: len(all) - 1, Notice: reasonNotices[c.Query("done")]}})
}

// reasonDone redirects back to the catalog, or shows it again with the
// refusal: beside the add form's fields when addForm is set (the add form),
// at the top of the page otherwise (a row's own form).
func (s *Server) reasonDone(c *fiber.Ctx, err error, done string, addForm map[string]string) error {
	if err != nil {
		fields, msg, ok := formErrors(err)
		if !ok {
			return err
		}
		if addForm == nil {
			fields, msg = nil, toAPIError(err).Message
		}
		return s.showReasons(c, toAPIError(err).Status, msg, fields, addForm)
	}
	return c.Redirect("/console/reasons?done="+done, fiber.StatusSeeOther)
}

// reasonAdd adds a code to the catalog.
func (s *Server) reasonAdd(c *fiber.Ctx) error {
	code, text := strings.Clone(c.FormValue("code")), strings.Clone(c.FormValue("text"))
	err := s.deps.Recovery.AddReason(c.UserContext(), signedInStaff(c).UsernameKey, code, text)
	return s.reasonDone(c, err, "added", map[string]string{"code": code, "text": text})
}

// reasonEdit changes the text of a code.
func (s *Server) reasonEdit(c *fiber.Ctx) error {
	err := s.deps.Recovery.EditReason(c.UserContext(), signedInStaff(c).UsernameKey,
		strings.Clone(c.Params("code")), strings.Clone(c.FormValue("text")))
	return s.reasonDone(c, err, "edited", nil)
}

// reasonMove moves a code one place up or down.
func (s *Server) reasonMove(c *fiber.Ctx) error {
	delta := 1
	if c.FormValue("direction") == "up" {
		delta = -1
	}
	err := s.deps.Recovery.MoveReason(c.UserContext(), signedInStaff(c).UsernameKey, strings.Clone(c.Params("code")), delta)
	return s.reasonDone(c, err, "moved", nil)
}

// reasonSetActive retires or restores a code.
func (s *Server) reasonSetActive(active bool) fiber.Handler {
	done := map[bool]string{true: "restored", false: "retired"}[active]
	return func(c *fiber.Ctx) error {
		err := s.deps.Recovery.SetReasonActive(c.UserContext(), signedInStaff(c).UsernameKey, strings.Clone(c.Params("code")), active)
		return s.reasonDone(c, err, done, nil)
	}
}
