package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/casbinrule"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

// adminMatrix are the role × route rows of the admin pages (TestRoleRouteMatrix).
// Only administrators pass; the account changes act on a user of their own
// (mx_target), so the other rows' actors keep working.
func adminMatrix(t *testing.T, s *testServer, number string) []matrixRow {
	s.staffUser(t, "mx_target", "Target#2468go", "矩阵对象", "reviewer", "4401")
	s.db.Ent.RoleRequest.Create().SetSubject("mx_target").SetRole("reviewer").SetRegion("4405").
		SetRequestedBy("mx_other_admin").SetCreatedAt(s.clock.Now()).ExecX(context.Background())
	admin := func(status int) want { return want{"admin": status, "*": 403, "anonymous": 303, "applicant": 303} }
	grant := url.Values{"role": {"reviewer"}, "region": {"4403"}}
	u := "/console/staff/mx_target"
	return []matrixRow{
		{"GET", "/console/staff", "/console/staff", admin(200), nil},
		{"GET", "/console/staff/new", "/console/staff/new", admin(200), nil},
		{"POST", "/console/staff", "/console/staff", admin(201),
			url.Values{"username": {"mx_created"}, "name": {"新人"}, "role": {"reviewer"}, "region": {"4401"}}},
		{"GET", "/console/staff/:username", u, admin(200), nil},
		{"POST", "/console/staff/:username/disable", u + "/disable", admin(303), url.Values{}},
		{"POST", "/console/staff/:username/enable", u + "/enable", admin(303), url.Values{}},
		{"POST", "/console/staff/:username/password", u + "/password", admin(200), url.Values{}},
		{"POST", "/console/staff/:username/totp", u + "/totp", admin(303), url.Values{}},
		{"POST", "/console/staff/:username/grants", u + "/grants", admin(303), grant},
		{"POST", "/console/staff/:username/grants/revoke", u + "/grants/revoke", admin(303), grant},
		// Another administrator asked for this grant, so this one may confirm it.
		{"POST", "/console/staff/:username/grants/confirm", u + "/grants/confirm", admin(303), url.Values{"role": {"reviewer"}, "region": {"4405"}}},
		{"GET", "/console/reasons", "/console/reasons", admin(200), nil},
		{"POST", "/console/reasons", "/console/reasons", admin(303), url.Values{"code": {"mx_reason"}, "text": {"矩阵原因"}}},
		{"POST", "/console/reasons/:code", "/console/reasons/mx_reason", admin(303), url.Values{"text": {"矩阵原因（改）"}}},
		{"POST", "/console/reasons/:code/move", "/console/reasons/mx_reason/move", admin(303), url.Values{"direction": {"up"}}},
		{"POST", "/console/reasons/:code/retire", "/console/reasons/mx_reason/retire", admin(303), url.Values{}},
		{"POST", "/console/reasons/:code/restore", "/console/reasons/mx_reason/restore", admin(303), url.Values{}},
	}
}

// reasonText is the catalog's text of code, active or retired.
func reasonText(t testing.TB, s *testServer, code string) string {
	t.Helper()
	all, err := s.recovery.ReasonCatalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.Code == code {
			return r.Text
		}
	}
	t.Fatalf("no reason %q in the catalog", code)
	return ""
}

// adminAudits counts the audit entries of action by actor about object.
func adminAudits(t testing.TB, s *testServer, action, actor, object string) int {
	t.Helper()
	return s.db.Ent.AuditEvent.Query().Where(auditevent.Action(action), auditevent.Actor(actor), auditevent.ObjectID(object)).
		CountX(context.Background())
}

// pageHasAll fails unless body contains every want.
func pageHasAll(t testing.TB, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

var shownPassword = regexp.MustCompile(`id="generated-password">([^<]+)</code>`)

// passwordOnPage is the password a page shows once.
func passwordOnPage(t testing.TB, body string) string {
	t.Helper()
	m := shownPassword.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no password on the page:\n%.2000s", body)
	}
	return html.UnescapeString(m[1])
}

// TestAdminCreatedReviewerSetsUpAloneAndWaitsForASecondAdmin: the password
// an administrator sees is temporary and opens only the own-password page,
// then TOTP enrolment; the reviewer role is in force only once a second
// administrator confirms it, and the creating one cannot (三员分立).
func TestAdminCreatedReviewerSetsUpAloneAndWaitsForASecondAdmin(t *testing.T) {
	s := newTestServer(t)
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	admin.get(t, "/console/staff/new")
	// A bad form keeps the typed values and says what is wrong, in Chinese.
	resp, body := admin.post(t, "/console/staff", url.Values{"username": {"1x"}, "name": {"黄审核"}, "role": {"boss"}, "region": {"4499"}})
	if resp.StatusCode != 422 || fieldError(body, "role") == "" || fieldError(body, "region") == "" || fieldError(body, "username") == "" ||
		!strings.Contains(body, `value="黄审核"`) {
		t.Fatalf("bad form: %d\n%.3000s", resp.StatusCode, body)
	}
	resp, body = admin.post(t, "/console/staff", url.Values{"username": {"SZ_Reviewer"}, "name": {"黄审核"}, "role": {"reviewer"}, "region": {"4403"}})
	if resp.StatusCode != 201 || !strings.Contains(body, "仅显示这一次") || !strings.Contains(body, "审核员 · 广东省 / 深圳市（待另一名管理员确认后生效）") {
		t.Fatalf("create: %d\n%.3000s", resp.StatusCode, body)
	}
	password := passwordOnPage(t, body)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the password page may be cached: %q", resp.Header.Get("Cache-Control"))
	}
	// The list shows the new person with the role awaiting confirmation, TOTP required, never signed in.
	_, list := admin.get(t, "/console/staff")
	pageHasAll(t, "staff list", list, `href="/console/staff/SZ_Reviewer"`, "黄审核", "待确认：审核员 · 广东省 / 深圳市", "从未登录", "已要求，待绑定",
		"待确认的授权", "须由另一名管理员确认")
	if strings.Contains(list, `action="/console/staff/SZ_Reviewer/grants/confirm"`) {
		t.Error("the list offers the requesting administrator a confirm button")
	}
	// The same username in another case is taken.
	admin.get(t, "/console/staff/new")
	if resp, body := admin.post(t, "/console/staff", url.Values{"username": {"sz_reviewer"}, "name": {"重名"}, "role": {"reviewer"}, "region": {"4403"}}); resp.StatusCode != 409 || !strings.Contains(body, "该用户名已被使用") {
		t.Fatalf("duplicate: %d", resp.StatusCode)
	}

	// The shown password signs in to the own-password page and nothing else.
	pc := newPagesClient(t, s)
	if status, loc, body := consoleSignIn(t, pc, "sz_reviewer", password, ""); status != 303 || loc != "/console/password" {
		t.Fatalf("sign in with the shown password: %d %s %.300s", status, loc, body)
	}
	for _, path := range []string{"/console/cases", "/console/totp", "/console/staff", "/console"} {
		if resp, _ := pc.get(t, path); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/password" {
			t.Fatalf("%s with the temporary password: %d %s", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body = pc.get(t, "/console/password")
	if resp.StatusCode != 200 || !strings.Contains(body, "临时密码") {
		t.Fatalf("own-password page: %d\n%.2000s", resp.StatusCode, body)
	}
	mine := "Mine#Own2468"
	if resp, body := pc.post(t, "/console/password", url.Values{"password": {password}, "new_password": {"weak"}, "repeat_password": {"weak"}}); resp.StatusCode != 422 || fieldError(body, "new_password") == "" {
		t.Fatalf("weak new password: %d", resp.StatusCode)
	}
	if resp, body := pc.post(t, "/console/password", url.Values{"password": {"Wrong#2468x"}, "new_password": {mine}, "repeat_password": {mine}}); resp.StatusCode != 422 || fieldError(body, "password") != "当前密码不正确" {
		t.Fatalf("wrong current password: %d", resp.StatusCode)
	}
	resp, _ = pc.post(t, "/console/password", url.Values{"password": {password}, "new_password": {mine}, "repeat_password": {mine}})
	if resp.StatusCode != 303 {
		t.Fatalf("set own password: %d", resp.StatusCode)
	}
	// Next, TOTP on the person's own device, before any other page.
	if resp, _ := pc.get(t, "/console/cases"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/totp" {
		t.Fatalf("after the own password: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	enrolTOTP(t, s, pc)
	// Set up, but the role waits for a second administrator.
	if resp, _ := pc.get(t, "/console/cases"); resp.StatusCode != 403 {
		t.Fatalf("queue before the confirmation: %d", resp.StatusCode)
	}
	page2 := "/console/staff/sz_reviewer"
	admin.get(t, page2)
	if resp, body := admin.post(t, page2+"/grants/confirm", url.Values{"role": {"reviewer"}, "region": {"4403"}}); resp.StatusCode != 403 || !strings.Contains(body, "不能确认自己提出的授权申请") {
		t.Fatalf("the creating administrator confirms: %d", resp.StatusCode)
	}
	second := staffClient(t, s, "gd_admin2", "admin", "44")
	_, list = second.get(t, "/console/staff")
	pageHasAll(t, "staff list for the second administrator", list, `action="/console/staff/SZ_Reviewer/grants/confirm"`, "由 gd_admin")
	resp, body = second.post(t, page2+"/grants/confirm", url.Values{"role": {"reviewer"}, "region": {"4403"}})
	if got := second.follow(t, resp, body, page2+"?done=confirmed"); !strings.Contains(got, "已确认授权") || !strings.Contains(got, "审核员 · 广东省 / 深圳市") {
		t.Fatalf("confirmed page:\n%.2000s", got)
	}
	if resp, _ := pc.get(t, "/console/cases"); resp.StatusCode != 200 {
		t.Fatalf("queue after the confirmation: %d", resp.StatusCode)
	}
	// The password the administrator saw opens nothing any more.
	if status, _, _ := consoleSignIn(t, newPagesClient(t, s), "sz_reviewer", password, ""); status != 401 {
		t.Fatalf("the issued password after the person set their own: %d", status)
	}
	for _, e := range []struct{ action, actor string }{
		{"staff.created", "gd_admin"}, {"staff.role_requested", "gd_admin"}, {"staff.role_confirmed", "gd_admin2"},
		{"staff.password_changed", "sz_reviewer"}, {"staff.totp_enrolled", "sz_reviewer"},
	} {
		if n := adminAudits(t, s, e.action, e.actor, "sz_reviewer"); n != 1 {
			t.Errorf("%d %s entries by %s", n, e.action, e.actor)
		}
	}
	if n := adminAudits(t, s, "staff.role_confirmed", "gd_admin", "sz_reviewer"); n != 0 {
		t.Error("a refused self-confirmation was audited as done")
	}
}

func TestAdminDisablesResetsAndRequiresTOTP(t *testing.T) {
	s := newTestServer(t)
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	target := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	page := "/console/staff/jm_reviewer"

	// Disabled: the open session stops at once and signing in is refused.
	admin.get(t, page)
	resp, body := admin.post(t, page+"/disable", url.Values{})
	if got := admin.follow(t, resp, body, page+"?done=disabled"); !strings.Contains(got, "已停用") {
		t.Fatalf("disabled page:\n%.2000s", got)
	}
	if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("disabled user's session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The right password of a disabled account gets the answer of a wrong one.
	if status, _, body := consoleSignIn(t, newPagesClient(t, s), "jm_reviewer", "Staff#2468go", ""); status != 401 || !strings.Contains(body, "用户名或密码错误") || strings.Contains(body, "停用") {
		t.Fatalf("disabled sign-in: %d", status)
	}
	resp, _ = admin.post(t, page+"/enable", url.Values{})
	if resp.StatusCode != 303 {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	target = newPagesClient(t, s)
	if status, _, _ := consoleSignIn(t, target, "jm_reviewer", "Staff#2468go", ""); status != 303 {
		t.Fatalf("enabled sign-in: %d", status)
	}

	// TOTP required: the next console request goes to the enrolment page.
	admin.get(t, page)
	resp, body = admin.post(t, page+"/totp", url.Values{})
	if got := admin.follow(t, resp, body, page+"?done=totp"); !strings.Contains(got, "已要求，待绑定") {
		t.Fatalf("totp page:\n%.2000s", got)
	}
	if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/totp" {
		t.Fatalf("required TOTP: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body = target.get(t, "/console/totp")
	m := secretOnPage.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("enrolment page: %d", resp.StatusCode)
	}
	code, _ := totp.GenerateCode(m[1], s.clock.Now())
	if resp, _ := target.post(t, "/console/totp", url.Values{"otp": {code}}); resp.StatusCode != 303 {
		t.Fatalf("enrol: %d", resp.StatusCode)
	}

	// Reset: the new password is shown once, the open session ends, the old
	// password fails and the new one works.
	admin.get(t, page)
	resp, body = admin.post(t, page+"/password", url.Values{})
	if resp.StatusCode != 200 || !strings.Contains(body, "登录会话已全部结束") {
		t.Fatalf("reset: %d\n%.2000s", resp.StatusCode, body)
	}
	newPassword := passwordOnPage(t, body)
	if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Fatalf("session after the reset: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if status, _, _ := consoleSignIn(t, newPagesClient(t, s), "jm_reviewer", "Staff#2468go", ""); status != 401 {
		t.Fatalf("old password after the reset: %d", status)
	}
	// The enrolled second factor stays: the administrator who saw the new
	// password still lacks the person's device.
	target = newPagesClient(t, s)
	if status, _, body := consoleSignIn(t, target, "jm_reviewer", newPassword, ""); status != 401 || !strings.Contains(body, "请输入动态口令") {
		t.Fatalf("new password without the code: %d", status)
	}
	// With it, the new password is temporary: it opens the own-password page first.
	s.clock.Advance(time.Minute)
	code, _ = totp.GenerateCode(m[1], s.clock.Now())
	if status, loc, _ := consoleSignIn(t, target, "jm_reviewer", newPassword, code); status != 303 || loc != "/console/password" {
		t.Fatalf("new password: %d %s", status, loc)
	}
	if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/password" {
		t.Fatalf("queue with the temporary password: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Nobody changes their own account here.
	admin.get(t, "/console/staff/gd_admin")
	if resp, body := admin.post(t, "/console/staff/gd_admin/disable", url.Values{}); resp.StatusCode != 403 || !strings.Contains(body, "不能在人员管理中修改自己的账号") {
		t.Fatalf("self-disable: %d", resp.StatusCode)
	}
	for _, action := range []string{"staff.disabled", "staff.enabled", "staff.password_reset", "staff.totp_required"} {
		if n := adminAudits(t, s, action, "gd_admin", "jm_reviewer"); n != 1 {
			t.Errorf("%d %s entries", n, action)
		}
	}
	if n := adminAudits(t, s, "staff.disabled", "gd_admin", "gd_admin"); n != 0 {
		t.Errorf("a refused self-disable was audited as done")
	}
}

func TestGrantedRoleOpensTheRegionAndRevokedClosesIt(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s) // 江门市蓬江区, 440703
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	gz := staffClient(t, s, "gz_reviewer", "reviewer", "4401")
	casePath := "/console/cases/" + number
	if resp, _ := gz.get(t, casePath); resp.StatusCode != 404 {
		t.Fatalf("before the grant: %d", resp.StatusCode)
	}
	page := "/console/staff/gz_reviewer"
	admin.get(t, page)
	// A region that does not exist is refused beside the field.
	resp, body := admin.post(t, page+"/grants", url.Values{"role": {"reviewer"}, "region": {"4499"}})
	if resp.StatusCode != 422 || fieldError(body, "region") == "" {
		t.Fatalf("unknown region: %d", resp.StatusCode)
	}
	// A reviewer role sees evidence: it is requested, not yet in force.
	resp, body = admin.post(t, page+"/grants", url.Values{"role": {"reviewer"}, "region": {"4407"}})
	if got := admin.follow(t, resp, body, page+"?done=requested"); !strings.Contains(got, "待另一名管理员确认") || !strings.Contains(got, "审核员 · 广东省 / 江门市") {
		t.Fatalf("member page after the request:\n%.2000s", got)
	}
	if resp, _ := gz.get(t, casePath); resp.StatusCode != 404 {
		t.Fatalf("before the confirmation: %d", resp.StatusCode)
	}
	if resp, body := admin.post(t, page+"/grants", url.Values{"role": {"reviewer"}, "region": {"4407"}}); resp.StatusCode != 409 || !strings.Contains(body, "已在等待另一名管理员确认") {
		t.Fatalf("request twice: %d", resp.StatusCode)
	}
	if resp, body := admin.post(t, page+"/grants/confirm", url.Values{"role": {"reviewer"}, "region": {"4407"}}); resp.StatusCode != 403 || !strings.Contains(body, "不能确认自己提出的授权申请") {
		t.Fatalf("self-confirmation: %d", resp.StatusCode)
	}
	second := staffClient(t, s, "gd_admin2", "admin", "44")
	second.get(t, page)
	resp, body = second.post(t, page+"/grants/confirm", url.Values{"role": {"reviewer"}, "region": {"4407"}})
	if got := second.follow(t, resp, body, page+"?done=confirmed"); !strings.Contains(got, "审核员 · 广东省 / 江门市") || strings.Contains(got, "待另一名管理员确认") {
		t.Fatalf("member page after the confirmation:\n%.2000s", got)
	}
	if resp, _ := gz.get(t, casePath); resp.StatusCode != 200 {
		t.Fatalf("after the grant: %d", resp.StatusCode)
	}
	if _, queue := gz.get(t, "/console/cases"); !strings.Contains(queue, number) {
		t.Fatal("the granted region's case is not in the queue")
	}
	// Granting it again changes nothing and says so.
	if resp, body := admin.post(t, page+"/grants", url.Values{"role": {"reviewer"}, "region": {"4407"}}); resp.StatusCode != 409 || !strings.Contains(body, "已拥有此角色") {
		t.Fatalf("grant twice: %d", resp.StatusCode)
	}
	resp, _ = admin.post(t, page+"/grants/revoke", url.Values{"role": {"reviewer"}, "region": {"4407"}})
	if resp.StatusCode != 303 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if resp, _ := gz.get(t, casePath); resp.StatusCode != 404 {
		t.Fatalf("after the revocation: %d", resp.StatusCode)
	}
	if resp, _ := gz.get(t, "/console/cases"); resp.StatusCode != 200 {
		t.Fatalf("the Guangzhou grant must stay: %d", resp.StatusCode)
	}

	// No one grants themselves anything, not even an administrator.
	admin.get(t, "/console/staff/gd_admin")
	resp, body = admin.post(t, "/console/staff/gd_admin/grants", url.Values{"role": {"reviewer"}, "region": {"44"}})
	if resp.StatusCode != 403 || !strings.Contains(body, "不能修改自己的角色授权") {
		t.Fatalf("self-grant: %d\n%.1000s", resp.StatusCode, body)
	}
	if resp, _ := admin.get(t, casePath); resp.StatusCode != 403 {
		t.Fatalf("the administrator reads a case after a refused self-grant: %d", resp.StatusCode)
	}
	ctx := context.Background()
	if n := s.db.Ent.CasbinRule.Query().Where(casbinrule.V0("staff:gd_admin")).CountX(ctx); n != 1 {
		t.Fatalf("gd_admin has %d stored grants, want just admin@44", n)
	}
	// A city administrator cannot hand out a province-wide role.
	city := staffClient(t, s, "jm_admin", "admin", "4407")
	city.get(t, page)
	if resp, _ := city.post(t, page+"/grants", url.Values{"role": {"supervisor"}, "region": {"44"}}); resp.StatusCode != 403 {
		t.Fatalf("city admin grants province-wide: %d", resp.StatusCode)
	}
	if n := adminAudits(t, s, "staff.role_requested", "gd_admin", "gz_reviewer"); n != 1 {
		t.Errorf("%d staff.role_requested entries", n)
	}
	if n := adminAudits(t, s, "staff.role_confirmed", "gd_admin2", "gz_reviewer"); n != 1 {
		t.Errorf("%d staff.role_confirmed entries", n)
	}
	if n := adminAudits(t, s, "staff.role_revoked", "gd_admin", "gz_reviewer"); n != 1 {
		t.Errorf("%d staff.role_revoked entries", n)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.ActionHasPrefix("staff.role_"), auditevent.Actor("jm_admin")).CountX(ctx); n != 0 {
		t.Errorf("refused grants audited as done: %d", n)
	}
}

func TestReasonCatalogAddEditRetire(t *testing.T) {
	s := recoveryFixture(t)
	a, number := submittedCaseOf(t, s)
	admin := staffClient(t, s, "gd_admin", "admin", "44")
	_, page := admin.get(t, "/console/reasons")
	pageHasAll(t, "catalog", page, "unclear_image", reasonText(t, s, "unclear_image"), "other")

	// Codes are lowercase snake_case and unique.
	if resp, body := admin.post(t, "/console/reasons", url.Values{"code": {"Bad-Code"}, "text": {"x"}}); resp.StatusCode != 422 || fieldError(body, "code") == "" {
		t.Fatalf("bad code: %d", resp.StatusCode)
	}
	if resp, _ := admin.post(t, "/console/reasons", url.Values{"code": {"other"}, "text": {"重复"}}); resp.StatusCode != 409 {
		t.Fatalf("duplicate code: %d", resp.StatusCode)
	}
	resp, body := admin.post(t, "/console/reasons", url.Values{"code": {"photo_expired"}, "text": {"证件已过期"}})
	admin.follow(t, resp, body, "/console/reasons?done=added")
	resp, body = admin.post(t, "/console/reasons/photo_expired", url.Values{"text": {"证件已过有效期，请使用有效证件重新拍摄"}})
	admin.follow(t, resp, body, "/console/reasons?done=edited")
	resp, _ = admin.post(t, "/console/reasons/photo_expired/move", url.Values{"direction": {"up"}})
	if resp.StatusCode != 303 {
		t.Fatalf("move: %d", resp.StatusCode)
	}
	resp, _ = admin.post(t, "/console/reasons/unclear_image/retire", url.Values{})
	if resp.StatusCode != 303 {
		t.Fatalf("retire: %d", resp.StatusCode)
	}
	// The order changed: the new code now comes before "other".
	all, err := s.recovery.ReasonCatalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last := all[len(all)-1]; last.Code != "other" || all[len(all)-2].Code != "photo_expired" {
		t.Fatalf("catalog order %v", all)
	}

	// The reviewer's form offers the new code and not the retired one.
	rv := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	mustClaim(t, rv, number)
	_, form := rv.get(t, "/console/cases/"+number)
	if !strings.Contains(form, `value="photo_expired"`) || strings.Contains(form, `value="unclear_image"`) {
		t.Fatal("the decision form does not follow the catalog")
	}
	v := caseVersion(t, s, number)
	resp, body = rv.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)}, "reason": {"unclear_image"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "所选原因已停用") {
		t.Fatalf("retired reason: %d", resp.StatusCode)
	}
	text := s.newSMS(t, "13800006666", func() {
		rv.get(t, "/console/cases/"+number)
		resp, body := rv.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)}, "reason": {"photo_expired"}})
		if resp.StatusCode != 303 {
			t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
		}
	})
	if !strings.Contains(text, "证件已过有效期，请使用有效证件重新拍摄") {
		t.Fatalf("reject SMS %q", text)
	}
	// Retiring the code later keeps its text on the applicant's status.
	admin.get(t, "/console/reasons")
	if resp, _ := admin.post(t, "/console/reasons/photo_expired/retire", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("retire: %d", resp.StatusCode)
	}
	_, status := a.req(t, "GET", "", "", nil)
	var st struct {
		Status   string
		Decision *struct{ Reasons []struct{ Code, Text string } }
	}
	mustJSON(t, status, &st)
	if st.Status != string(state.Rejected) || st.Decision == nil || len(st.Decision.Reasons) != 1 ||
		st.Decision.Reasons[0] != (struct{ Code, Text string }{"photo_expired", "证件已过有效期，请使用有效证件重新拍摄"}) {
		t.Fatalf("status after retiring: %s", status)
	}
	// The case page still names the retired reason in words, in the
	// decision and in the history.
	_, casePage := rv.get(t, "/console/cases/"+number)
	if strings.Count(casePage, "证件已过有效期，请使用有效证件重新拍摄") < 2 {
		t.Fatalf("case page after retiring:\n%s", casePage)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
	if len(rc.Reasons) != 1 || rc.Reasons[0] != "photo_expired" {
		t.Fatalf("stored reasons %v", rc.Reasons)
	}
	// Restoring brings it back to the form.
	if resp, _ := admin.post(t, "/console/reasons/photo_expired/restore", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("restore: %d", resp.StatusCode)
	}
	offered, err := s.recovery.Reasons(context.Background()) // the decision form's choices
	if err != nil || !slices.ContainsFunc(offered, func(r recovery.Reason) bool { return r.Code == "photo_expired" }) {
		t.Fatalf("the restored reason is not offered again: %v %v", offered, err)
	}
	for action, want := range map[string]int{"reason.added": 1, "reason.edited": 1, "reason.moved": 1, "reason.retired": 2, "reason.restored": 1} {
		if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action(action), auditevent.Actor("gd_admin")).CountX(context.Background()); n != want {
			t.Errorf("%d %s entries, want %d", n, action, want)
		}
	}
}

// TestResetAndDisableEndTheSessionOnEveryInstance: an administrator on one
// instance resets a reviewer's password, then disables and enables them;
// the reviewer's open session on another instance is refused at its next
// request each time, and a session ended by disabling stays ended.
func TestResetAndDisableEndTheSessionOnEveryInstance(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		a := newTestServerOn(t, d)
		b := newTestServerOn(t, testenv.AnotherInstance(t, d))
		admin := staffClient(t, b, "gd_admin", "admin", "44")
		target := staffClient(t, a, "jm_reviewer", "reviewer", "4407")
		page := "/console/staff/jm_reviewer"
		refused := func(what string) {
			t.Helper()
			if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
				t.Fatalf("%s: the session on the other instance got %d %s", what, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		if resp, _ := target.get(t, "/console/cases"); resp.StatusCode != 200 {
			t.Fatalf("signed in: %d", resp.StatusCode)
		}

		admin.get(t, page)
		resp, body := admin.post(t, page+"/password", url.Values{})
		if resp.StatusCode != 200 {
			t.Fatalf("reset: %d\n%.1000s", resp.StatusCode, body)
		}
		refused("after the reset")

		target = newPagesClient(t, a)
		if status, _, _ := consoleSignIn(t, target, "jm_reviewer", passwordOnPage(t, body), ""); status != 303 {
			t.Fatalf("sign-in with the new password: %d", status)
		}
		admin.get(t, page)
		if resp, _ := admin.post(t, page+"/disable", url.Values{}); resp.StatusCode != 303 {
			t.Fatalf("disable: %d", resp.StatusCode)
		}
		refused("after disabling")
		if resp, _ := admin.post(t, page+"/enable", url.Values{}); resp.StatusCode != 303 {
			t.Fatalf("enable: %d", resp.StatusCode)
		}
		refused("after enabling again")
	})
}
