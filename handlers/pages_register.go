package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/ent"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/verify"
	"recoverydesk/views"
)

// ---------------------------------------------------------------------------
// Forms of the applicant pages: reading a post, re-showing a refusal.

// pageForm describes one HTML form of the applicant pages: its template, the
// fields re-shown as typed after a refusal, and the secret ones (passwords)
// that never are.
type pageForm struct {
	view    string
	fields  []string
	secrets []string
}

// values copies every field of the posted form: Fiber's strings are only
// valid during the handler.
func (f pageForm) values(c *fiber.Ctx) map[string]string {
	v := make(map[string]string, len(f.fields)+len(f.secrets))
	for _, names := range [][]string{f.fields, f.secrets} {
		for _, n := range names {
			v[n] = strings.Clone(c.FormValue(n))
		}
	}
	return v
}

// shown is what may be put back into the form: everything but the secrets.
func (f pageForm) shown(v map[string]string) map[string]string {
	out := make(map[string]string, len(f.fields))
	for _, n := range f.fields {
		out[n] = v[n]
	}
	return out
}

// refuse re-shows the form with every message of a domain refusal beside its
// field, with the refusal's status. Messages about fields this form does not
// show become the form-level message. An internal error goes to the error
// handler instead.
func (f pageForm) refuse(c *fiber.Ctx, err error, p Page) error {
	fields, formError, ok := formErrors(err)
	if !ok {
		return err
	}
	for name, msg := range fields {
		if !f.has(name) {
			formError = strings.TrimSpace(formError + "\n" + msg)
			delete(fields, name)
		}
	}
	if formError == "" && len(fields) > 0 {
		formError = fmt.Sprintf("有 %d 处填写内容需要修改，请按标红的提示修改后重新提交", len(fields))
	}
	p.Fields, p.Error = fields, formError
	ae := toAPIError(err)
	if secs, ok := ae.Extra["retry_after"].(int); ok && ae.Status == fiber.StatusTooManyRequests {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	}
	return render(c, ae.Status, f.view, layoutPublic, p)
}

func (f pageForm) has(name string) bool {
	for _, names := range [][]string{f.fields, f.secrets} {
		for _, n := range names {
			if n == name {
				return true
			}
		}
	}
	return false
}

// formErrors turns a domain refusal into what a form shows: every field
// problem under its field name (several problems of one field on separate
// lines), or a form-level message when the refusal concerns no field. ok is
// false for anything that is not a refusal a user can act on (an internal
// error), which the caller returns to the error handler.
func formErrors(err error) (fields map[string]string, formError string, ok bool) {
	de, isDomain := apperr.As(err)
	if !isDomain {
		return nil, "", false
	}
	if _, known := kindStatus[de.Kind]; !known {
		return nil, "", false
	}
	fields = map[string]string{}
	for _, fe := range de.Fields {
		addFieldMessage(fields, fe.Field, fe.Message)
	}
	if len(de.Fields) == 0 && de.Field != "" {
		addFieldMessage(fields, de.Field, de.Message)
	}
	if len(fields) == 0 {
		return nil, de.Message, true
	}
	return fields, "", true
}

func addFieldMessage(fields map[string]string, field, msg string) {
	if prev := fields[field]; prev != "" {
		msg = prev + "\n" + msg
	}
	fields[field] = msg
}

// withFieldErrors adds page-level field problems (a password typed twice
// differently) to a domain result, so the form shows all of them at once.
// An internal error stays as it is.
func withFieldErrors(err error, extra ...apperr.FieldError) error {
	if len(extra) == 0 {
		return err
	}
	if err == nil {
		return apperr.FromFields(extra)
	}
	de, ok := apperr.As(err)
	if !ok {
		return err
	}
	merged := *de
	merged.Fields = append([]apperr.FieldError(nil), de.Fields...)
	if len(de.Fields) == 0 && de.Field != "" {
		merged.Fields = append(merged.Fields, apperr.FieldError{Field: de.Field, Code: de.Code, Message: de.Message})
	}
	merged.Fields = append(merged.Fields, extra...)
	return &merged
}

// confirmError is the problem of a password typed twice differently.
func confirmError(field string) apperr.FieldError {
	return apperr.FieldError{Field: field, Code: "password_mismatch", Message: views.PasswordMismatch}
}

// setFlash keeps a one-time value in the applicant session for the page a
// redirect leads to (Post/Redirect/Get).
func (s *Server) setFlash(c *fiber.Ctx, key, value string) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	sess.Set("flash_"+key, value)
	return sess.Save()
}

// takeFlash returns a value kept by setFlash, once.
func (s *Server) takeFlash(c *fiber.Ctx, key string) (string, error) {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return "", err
	}
	v, _ := sess.Get("flash_" + key).(string)
	if v == "" {
		return "", nil
	}
	sess.Delete("flash_" + key)
	return v, sess.Save()
}

// ---------------------------------------------------------------------------
// 个人注册 (/register/person).

var personForm = pageForm{
	view:    "public/register_person",
	fields:  []string{"username", "name", "id_number", "phone", "sms_code"},
	secrets: []string{"password", "password_confirm"},
}

// registerPersonView is the data of the person registration page.
type registerPersonView struct {
	CodeNotice string // 验证码已发送至 138****1234，5分钟内有效
}

func personPage(form map[string]string) Page {
	return Page{Title: "个人注册", Nav: "register_person", Form: form, Data: registerPersonView{}}
}

// registerPersonPage shows the person registration form.
func (s *Server) registerPersonPage(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, personForm.view, layoutPublic, personPage(nil))
}

// registerPersonPost handles both buttons of the form: 获取验证码 sends the
// code and shows the form again; 注册 creates the account.
func (s *Server) registerPersonPost(c *fiber.Ctx) error {
	v := personForm.values(c)
	p := personPage(personForm.shown(v))
	if c.FormValue("action") == "send_code" {
		return s.sendRegistrationCode(c, v["phone"], p)
	}
	in := accounts.PersonRegistration{Username: v["username"], Password: v["password"], Name: v["name"],
		IDNumber: v["id_number"], Phone: v["phone"], SMSCode: v["sms_code"]}
	if v["password"] != v["password_confirm"] {
		// Nothing is created (nor the code used up): show every other
		// problem too, so that one retry suffices.
		_, err := s.deps.Accounts.CheckPersonForm(c.UserContext(), in)
		return personForm.refuse(c, withFieldErrors(err, confirmError("password_confirm")), p)
	}
	if _, err := s.deps.Accounts.RegisterPerson(c.UserContext(), in); err != nil {
		if onlyCodeRefused(err) {
			// Everything else was fine: a mistyped code must not cost the
			// applicant the two passwords they typed.
			p.Form["password"], p.Form["password_confirm"] = v["password"], v["password_confirm"]
		}
		return personForm.refuse(c, err, p)
	}
	return c.Redirect("/login?kind=person&registered=1&username="+url.QueryEscape(in.Username), fiber.StatusSeeOther)
}

// onlyCodeRefused says whether a registration was refused for its SMS code
// alone (wrong or expired), so the form may keep the typed passwords.
func onlyCodeRefused(err error) bool {
	fields, formError, ok := formErrors(err)
	if !ok || formError != "" || len(fields) != 1 {
		return false
	}
	_, code := fields["sms_code"]
	return code
}

// sendRegistrationCode sends the registration code to the typed phone and
// shows the form again with what was typed and where the code went.
func (s *Server) sendRegistrationCode(c *fiber.Ctx, typed string, p Page) error {
	_, phone, err := s.deps.Accounts.SendRegistrationCode(c.UserContext(), typed)
	if err != nil {
		if de, ok := apperr.As(err); ok && de.Field == "" {
			err = de.WithField("sms_code") // shown beside the button that caused it
		}
		return personForm.refuse(c, err, p)
	}
	p.Data = registerPersonView{CodeNotice: verify.SentNotice(rules.MaskPhone(phone))}
	return render(c, fiber.StatusOK, personForm.view, layoutPublic, p)
}

// ---------------------------------------------------------------------------
// 单位注册 (/register/unit): 1 the operator's verified personal account,
// 2 the unit's details, 3 done.

// The verified operator of a unit registration, kept in the applicant
// session between the steps.
const (
	sessUnitOperator   = "unit_reg_operator"
	sessUnitOperatorAt = "unit_reg_operator_at" // Unix seconds of the verification
	unitOperatorTTL    = 30 * time.Minute
)

var (
	unitOperatorForm = pageForm{view: "public/register_unit", fields: []string{"operator_username"}, secrets: []string{"operator_password"}}
	unitForm         = pageForm{
		view:    "public/register_unit",
		fields:  []string{"cert_type", "cert_number", "unit_name", "region_code", "username"},
		secrets: []string{"password", "password_confirm"},
	}
)

// registerUnitView is the data of the unit registration page.
type registerUnitView struct {
	Step     int           // 1, 2 or 3
	Operator string        // step 2: the verified operator, masked
	Regions  []regionGroup // step 2: the no-JS region select
	Username string        // step 3: the unit account created
}

// regionGroup is one city of the region select with its county-level
// divisions (or the city itself when it has none: 东莞市, 中山市).
type regionGroup struct {
	City    rules.Region
	Options []rules.Region
}

func regionGroups() []regionGroup {
	cities := rules.Cities()
	out := make([]regionGroup, 0, len(cities))
	for _, city := range cities {
		opts := rules.RegionChildren(city.Code)
		if len(opts) == 0 {
			opts = []rules.Region{city}
		}
		out = append(out, regionGroup{City: city, Options: opts})
	}
	return out
}

func unitPage(step int, op *ent.Account, form map[string]string) Page {
	v := registerUnitView{Step: step}
	if op != nil {
		v.Operator = rules.MaskName(op.Name) + "（" + op.Username + "）"
		v.Regions = regionGroups()
	}
	if step == 2 && form == nil {
		form = map[string]string{"cert_type": string(rules.CertUSCC)}
	}
	return Page{Title: "单位注册", Nav: "register_unit", Form: form, Data: v}
}

// unitOperator is the operator verified in step 1, if that was less than 30
// minutes ago; expired tells a lapsed verification from none.
func (s *Server) unitOperator(c *fiber.Ctx) (op *ent.Account, expired bool, err error) {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return nil, false, err
	}
	id, _ := sess.Get(sessUnitOperator).(int)
	at, _ := sess.Get(sessUnitOperatorAt).(int64)
	if id == 0 {
		return nil, false, nil
	}
	if s.deps.Clock.Now().Sub(time.Unix(at, 0)) > unitOperatorTTL {
		return nil, true, nil
	}
	op, err = s.deps.Accounts.Account(c.UserContext(), id)
	if errors.Is(err, accounts.ErrAccountNotFound) {
		return nil, true, nil
	}
	return op, false, err
}

// registerUnitPage shows step 1, or step 2 once the operator is verified
// (?step=1 goes back to change the operator).
func (s *Server) registerUnitPage(c *fiber.Ctx) error {
	op, expired, err := s.unitOperator(c)
	if err != nil {
		return err
	}
	if op == nil || c.Query("step") == "1" {
		p := unitPage(1, nil, nil)
		if expired {
			p.Error = "经办人身份验证已超过30分钟，请重新验证"
		}
		return render(c, fiber.StatusOK, unitForm.view, layoutPublic, p)
	}
	return render(c, fiber.StatusOK, unitForm.view, layoutPublic, unitPage(2, op, nil))
}

// registerUnitOperator is step 1: the operator's verified personal account.
// A wrong password counts toward that account's lockout.
func (s *Server) registerUnitOperator(c *fiber.Ctx) error {
	v := unitOperatorForm.values(c)
	op, err := s.deps.Accounts.VerifyOperator(c.UserContext(), v["operator_username"], v["operator_password"])
	if err != nil {
		return unitOperatorForm.refuse(c, err, unitPage(1, nil, unitOperatorForm.shown(v)))
	}
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	sess.Set(sessUnitOperator, op.ID)
	sess.Set(sessUnitOperatorAt, s.deps.Clock.Now().Unix())
	if err := sess.Save(); err != nil {
		return err
	}
	return c.Redirect("/register/unit", fiber.StatusSeeOther)
}

// registerUnitPost is step 2: the unit's details; success leads to step 3.
func (s *Server) registerUnitPost(c *fiber.Ctx) error {
	op, _, err := s.unitOperator(c)
	if err != nil {
		return err
	}
	if op == nil {
		p := unitPage(1, nil, nil)
		p.Error = "经办人身份验证已失效（有效期30分钟），请重新填写经办人的个人账号和密码"
		return render(c, fiber.StatusForbidden, unitForm.view, layoutPublic, p)
	}
	v := unitForm.values(c)
	u, err := s.deps.Accounts.CheckUnitForm(accounts.UnitRegistration{CertType: v["cert_type"], CertNumber: v["cert_number"],
		UnitName: v["unit_name"], RegionCode: v["region_code"], Username: v["username"], Password: v["password"]})
	if v["password"] != v["password_confirm"] {
		err = withFieldErrors(err, confirmError("password_confirm"))
	}
	if err == nil {
		_, err = s.deps.Accounts.CreateUnit(c.UserContext(), op, u)
	}
	if err != nil {
		return unitForm.refuse(c, err, unitPage(2, op, unitForm.shown(v)))
	}
	if err := s.finishUnitRegistration(c, u.Username); err != nil {
		return err
	}
	return c.Redirect("/register/unit/done", fiber.StatusSeeOther)
}

// finishUnitRegistration forgets the operator and keeps the new username
// for the 完成 page.
func (s *Server) finishUnitRegistration(c *fiber.Ctx, username string) error {
	sess, err := s.sessions.Get(c)
	if err != nil {
		return err
	}
	sess.Delete(sessUnitOperator)
	sess.Delete(sessUnitOperatorAt)
	sess.Set("flash_unit_registered", username)
	return sess.Save()
}

// registerUnitDone is step 3, shown once after a registration.
func (s *Server) registerUnitDone(c *fiber.Ctx) error {
	username, err := s.takeFlash(c, "unit_registered")
	if err != nil {
		return err
	}
	if username == "" {
		return c.Redirect("/register/unit", fiber.StatusSeeOther)
	}
	p := unitPage(3, nil, nil)
	p.Data = registerUnitView{Step: 3, Username: username}
	return render(c, fiber.StatusOK, unitForm.view, layoutPublic, p)
}

// personRegistrationLimit applies the per-IP limit of the matching API
// route to each button of the person form: sending a code counts as an SMS,
// registering as a registration.
func (s *Server) personRegistrationLimit(c *fiber.Ctx) error {
	if c.FormValue("action") == "send_code" {
		return s.limits.sms(c)
	}
	return s.limits.register(c)
}
