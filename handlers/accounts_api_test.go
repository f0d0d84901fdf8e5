package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/ent/account"
	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

var (
	zhangID = idNumber("44070319900101123") // 江门市蓬江区
	liID    = idNumber("44010619851231002") // 广州市天河区
	unitA   = uscc("91440703MA4UABCD1")
)

func TestSMSCodeQuota(t *testing.T) {
	s := newTestServer(t)
	// Mid-morning, so the eleven sends below stay within one Shanghai day.
	s.clock.Set(time.Date(2026, 3, 2, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	send := func() (*http.Response, string) {
		return s.postJSON(t, "/api/v1/sms/codes", `{"phone":"13800001111","purpose":"register"}`)
	}
	resp, body := send()
	if resp.StatusCode != 202 || !strings.Contains(body, `"resend_after":60`) {
		t.Fatalf("first send: %d %s", resp.StatusCode, body)
	}
	resp, body = send()
	e := errorExtra(t, body)
	if resp.StatusCode != 429 || e["code"] != "rate_limited" || e["retry_after"].(float64) < 59 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second send within 60 s: %d %s", resp.StatusCode, body)
	}
	for i := 2; i <= 10; i++ {
		s.clock.Advance(61 * time.Second)
		if resp, body = send(); resp.StatusCode != 202 {
			t.Fatalf("send %d: %d %s", i, resp.StatusCode, body)
		}
	}
	s.clock.Advance(61 * time.Second)
	resp, body = send()
	if resp.StatusCode != 429 || !strings.Contains(body, "今日") {
		t.Fatalf("11th send in a day: %d %s", resp.StatusCode, body)
	}
	resp, body = s.postJSON(t, "/api/v1/sms/codes", `{"phone":"12345","purpose":"register"}`)
	if e := decodeError(t, body); resp.StatusCode != 422 || e.Error.Code != "invalid_phone" || e.Error.Field != "phone" {
		t.Fatalf("bad phone: %d %s", resp.StatusCode, body)
	}
}

func registerPerson(t testing.TB, s *testServer, fields map[string]string) (*http.Response, string) {
	t.Helper()
	body := map[string]string{"username": "zhang_san", "password": "Abcd2468!x", "name": "张三",
		"id_number": zhangID, "phone": "13800002222"}
	for k, v := range fields {
		body[k] = v
	}
	return s.postJSON(t, "/api/v1/accounts/person", jsonBody(t, body))
}

func TestPersonRegistration(t *testing.T) {
	s := newTestServer(t)
	code := s.codeFor(t, "13800002222")

	// Every field problem at once, in one 422.
	resp, body := s.postJSON(t, "/api/v1/accounts/person", `{"username":"1x","password":"short","name":"","id_number":"440703199001011230","phone":"12","sms_code":"1"}`)
	e := errorExtra(t, body)
	fields, _ := e["fields"].([]any)
	codes := map[string]bool{}
	for _, f := range fields {
		codes[f.(map[string]any)["code"].(string)] = true
	}
	if resp.StatusCode != 422 || e["code"] != "invalid_username" || !codes["weak_password"] || !codes["invalid_id_number"] || !codes["invalid_phone"] || !codes["invalid_name"] {
		t.Fatalf("field errors: %d %s", resp.StatusCode, body)
	}

	// A wrong code says how many attempts are left.
	resp, body = registerPerson(t, s, map[string]string{"sms_code": wrongCode(code)})
	e = errorExtra(t, body)
	if resp.StatusCode != 422 || e["code"] != "wrong_code" || e["attempts_left"].(float64) != 4 || e["field"] != "sms_code" {
		t.Fatalf("wrong code: %d %s", resp.StatusCode, body)
	}
	resp, body = registerPerson(t, s, map[string]string{"sms_code": code})
	if resp.StatusCode != 201 || body != `{"kind":"person","username":"zhang_san","verified":true}` {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
	acc := s.db.Ent.Account.Query().Where(account.UsernameKey("zhang_san")).OnlyX(context.Background())
	if !acc.Verified || acc.CertNumber != zhangID || acc.RegionCode != "440703" || strings.Contains(acc.PasswordHash, "Abcd2468") {
		t.Fatalf("stored account: verified=%v cert=%s region=%s", acc.Verified, acc.CertNumber, acc.RegionCode)
	}
	// The code is spent.
	resp, body = registerPerson(t, s, map[string]string{"username": "zhang_san2", "id_number": liID, "phone": "13800002222", "sms_code": code})
	if resp.StatusCode != 409 || decodeError(t, body).Error.Code != "phone_taken" {
		t.Fatalf("phone reuse: %d %s", resp.StatusCode, body)
	}
	resp, body = registerPerson(t, s, map[string]string{"username": "ZHANG_SAN", "phone": "13800003333", "sms_code": "123456"})
	if resp.StatusCode != 409 || decodeError(t, body).Error.Code != "username_taken" {
		t.Fatalf("username taken (case-insensitive): %d %s", resp.StatusCode, body)
	}
	resp, body = registerPerson(t, s, map[string]string{"username": "other_one", "phone": "13800003333", "sms_code": "123456"})
	if resp.StatusCode != 409 || decodeError(t, body).Error.Code != "id_number_taken" {
		t.Fatalf("id number taken: %d %s", resp.StatusCode, body)
	}
}

func TestSMSCodeExpiresAndVoids(t *testing.T) {
	s := newTestServer(t)
	code := s.codeFor(t, "13800004444")
	s.clock.Advance(5*time.Minute + time.Second)
	resp, body := registerPerson(t, s, map[string]string{"phone": "13800004444", "sms_code": code})
	if resp.StatusCode != 410 || decodeError(t, body).Error.Code != "code_expired" {
		t.Fatalf("expired code: %d %s", resp.StatusCode, body)
	}
	s.clock.Advance(time.Minute)
	code = s.codeFor(t, "13800004444")
	wrong := fmt.Sprintf("%06d", (mustAtoi(code)+1)%1000000)
	for i := 4; i >= 0; i-- {
		resp, body = registerPerson(t, s, map[string]string{"phone": "13800004444", "sms_code": wrong})
		if e := errorExtra(t, body); resp.StatusCode != 422 || e["attempts_left"].(float64) != float64(i) {
			t.Fatalf("wrong attempt, %d left expected: %d %s", i, resp.StatusCode, body)
		}
	}
	// After 5 wrong entries even the right code is void.
	resp, body = registerPerson(t, s, map[string]string{"phone": "13800004444", "sms_code": code})
	if resp.StatusCode != 410 || decodeError(t, body).Error.Code != "code_expired" {
		t.Fatalf("right code after 5 wrong: %d %s", resp.StatusCode, body)
	}
}

func mustAtoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func login(t testing.TB, s *testServer, kind, username, password string) (*http.Response, map[string]any) {
	t.Helper()
	resp, body := s.postJSON(t, "/api/v1/login", jsonBody(t, map[string]string{"kind": kind, "username": username, "password": password}))
	if resp.StatusCode == 200 {
		return resp, nil
	}
	return resp, errorExtra(t, body)
}

func TestLoginLockoutLifecycle(t *testing.T) {
	testenv.ForEachDB(t, loginLockoutLifecycle)
}

func loginLockoutLifecycle(t *testing.T, d *db.DB) {
	s := newTestServerOn(t, d)
	s.person(t, "zhang_san", "Abcd2468!x", "张三", zhangID, "13800005555")

	resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "rd_session=") ||
		!strings.Contains(resp.Header.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(strings.ToLower(resp.Header.Get("Set-Cookie")), "samesite=lax") {
		t.Fatalf("login: %d cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	// An unknown username: 401 without attempts_left (no account to count for).
	if resp, e := login(t, s, "person", "nobody_here", "x"); resp.StatusCode != 401 || e["attempts_left"] != nil {
		t.Fatalf("unknown user: %d %v", resp.StatusCode, e)
	}
	// The wrong kind does not sign in: the right password names the right
	// tab (and is no failure: the count below starts at 4 left).
	if resp, e := login(t, s, "unit", "zhang_san", "Abcd2468!x"); resp.StatusCode != 409 || e["code"] != "wrong_account_kind" ||
		strings.Contains(resp.Header.Get("Set-Cookie"), "rd_session=") {
		t.Fatalf("person as unit: %d %v", resp.StatusCode, e)
	}
	for left := 4; left >= 1; left-- {
		resp, e := login(t, s, "person", "zhang_san", "Wrong1234!")
		if resp.StatusCode != 401 || e["code"] != "bad_credentials" || e["attempts_left"].(float64) != float64(left) {
			t.Fatalf("failure with %d left: %d %v", left, resp.StatusCode, e)
		}
	}
	fifthAt := s.clock.Now()
	resp, e := login(t, s, "person", "zhang_san", "Wrong1234!")
	if resp.StatusCode != 423 || e["code"] != "account_locked" {
		t.Fatalf("5th failure: %d %v", resp.StatusCode, e)
	}
	until, err := time.Parse(time.RFC3339, e["locked_until"].(string))
	if err != nil || until.Sub(fifthAt) < time.Hour-time.Second || until.Sub(fifthAt) > time.Hour+time.Second {
		t.Fatalf("locked_until %v, 5th failure at %v", e["locked_until"], fifthAt)
	}
	// Even the right password is refused while locked.
	if resp, e := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 423 || e["locked_until"] == nil {
		t.Fatalf("right password while locked: %d %v", resp.StatusCode, e)
	}
	s.clock.Advance(59 * time.Minute)
	if resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 423 {
		t.Fatalf("59 minutes later: %d", resp.StatusCode)
	}
	s.clock.Advance(61 * time.Second)
	if resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 200 {
		t.Fatalf("an hour after the 5th failure: %d", resp.StatusCode)
	}
	// The success reset the count: a new failure has 4 left again.
	if resp, e := login(t, s, "person", "zhang_san", "Wrong1234!"); resp.StatusCode != 401 || e["attempts_left"].(float64) != 4 {
		t.Fatalf("after success: %d %v", resp.StatusCode, e)
	}
	ctx := context.Background()
	for _, action := range []string{"login.success", "login.failure", "account.locked", "login.refused_locked"} {
		if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action(action)).CountX(ctx); n == 0 {
			t.Errorf("no %s audit event", action)
		}
	}
}

func TestPendingPassword(t *testing.T) {
	s := newTestServer(t)
	s.person(t, "zhang_san", "Abcd2468!x", "张三", zhangID, "13800005555")
	ctx := context.Background()
	acc := s.db.Ent.Account.Query().Where(account.UsernameKey("zhang_san")).OnlyX(ctx)
	hash, _ := passhashTesting().Hash("NewPass#2468")
	effective := s.clock.Now().Add(4 * time.Hour)
	if err := s.db.InTx(ctx, func(tx *db.Tx) error {
		return accounts.SetPendingPassword(ctx, tx, acc.ID, hash, &effective)
	}); err != nil {
		t.Fatal(err)
	}
	resp, e := login(t, s, "person", "zhang_san", "NewPass#2468")
	if resp.StatusCode != 403 || e["code"] != "password_not_effective" {
		t.Fatalf("pending before effective_at: %d %v", resp.StatusCode, e)
	}
	if at, err := time.Parse(time.RFC3339, e["effective_at"].(string)); err != nil || !at.Equal(effective.Truncate(time.Second)) {
		t.Fatalf("effective_at %v want %v", e["effective_at"], effective)
	}
	if resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 200 {
		t.Fatalf("old password before effective_at: %d", resp.StatusCode)
	}
	// Lock the account, then let the new password take effect: the lock is lifted.
	for i := 1; i <= 5; i++ {
		resp, e := login(t, s, "person", "zhang_san", "Wrong1234!")
		if want := map[bool]int{true: 423, false: 401}[i == 5]; resp.StatusCode != want {
			t.Fatalf("wrong password #%d: %d %v, want %d", i, resp.StatusCode, e, want)
		}
	}
	s.clock.Advance(4*time.Hour + time.Second)
	if resp, e := login(t, s, "person", "zhang_san", "NewPass#2468"); resp.StatusCode != 200 {
		t.Fatalf("new password after effective_at: %d %v", resp.StatusCode, e)
	}
	if resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 401 {
		t.Fatalf("old password after effective_at: %d", resp.StatusCode)
	}
}

func TestPasswordChange(t *testing.T) {
	s := newTestServer(t)
	s.person(t, "zhang_san", "Abcd2468!x", "张三", zhangID, "13800005555")
	change := func(old, new string) (*http.Response, string) {
		return s.postJSON(t, "/api/v1/password", jsonBody(t, map[string]string{"kind": "person", "username": "zhang_san", "old_password": old, "new_password": new}))
	}
	resp, body := change("Abcd2468!x", "Q12345zz")
	if e := decodeError(t, body); resp.StatusCode != 422 || e.Error.Code != "weak_password" || e.Error.Field != "new_password" {
		t.Fatalf("weak: %d %s", resp.StatusCode, body)
	}
	resp, body = change("Abcd2468!x", "Abcd2468!x")
	if e := decodeError(t, body); resp.StatusCode != 422 || e.Error.Code != "password_unchanged" {
		t.Fatalf("unchanged: %d %s", resp.StatusCode, body)
	}
	resp, body = change("Wrong1234!", "Good#Pass2468")
	if e := errorExtra(t, body); resp.StatusCode != 401 || e["attempts_left"].(float64) != 4 {
		t.Fatalf("wrong old password: %d %s", resp.StatusCode, body)
	}
	if resp, body = change("Abcd2468!x", "Good#Pass2468"); resp.StatusCode != 204 {
		t.Fatalf("change: %d %s", resp.StatusCode, body)
	}
	if resp, _ := login(t, s, "person", "zhang_san", "Good#Pass2468"); resp.StatusCode != 200 {
		t.Fatalf("login with the new password: %d", resp.StatusCode)
	}
	if resp, _ := login(t, s, "person", "zhang_san", "Abcd2468!x"); resp.StatusCode != 401 {
		t.Fatalf("login with the old password: %d", resp.StatusCode)
	}
}

func unitBody(op, opPassword, cert, username string) map[string]string {
	return map[string]string{"operator_username": op, "operator_password": opPassword, "cert_type": "uscc",
		"cert_number": cert, "unit_name": "江门市人才发展有限公司", "region_code": "440703", "username": username, "password": "Unit#Pass2468"}
}

var traceInMessage = regexp.MustCompile(`^单位证件号码已被使用\[[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\]$`)

func TestUnitRegistration(t *testing.T) {
	s := newTestServer(t)
	s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
	resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", " "+strings.ToLower(unitA)+" ", "jm_talent")))
	if resp.StatusCode != 201 || body != `{"kind":"unit","username":"jm_talent"}` {
		t.Fatalf("register unit: %d %s", resp.StatusCode, body)
	}
	unit := s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).WithOperator().OnlyX(context.Background())
	if unit.CertNumber != unitA || unit.Phone != "13800006666" || unit.Edges.Operator.Username != "jingban" || unit.RegionCode != "440703" {
		t.Fatalf("stored unit: %+v", unit)
	}
	// The same certificate again: 409 with the live system's message and a logged trace id.
	resp, body = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent2")))
	e := errorExtra(t, body)
	if resp.StatusCode != 409 || e["code"] != "cert_number_taken" || !traceInMessage.MatchString(e["message"].(string)) {
		t.Fatalf("taken: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(s.logs.String(), e["trace_id"].(string)) {
		t.Fatal("the trace id is not in the log")
	}
	// A wrong operator password counts toward the operator's lockout.
	resp, body = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Wrong1234!", uscc("91440101MA5CXYKW1"), "gz_unit")))
	if e := errorExtra(t, body); resp.StatusCode != 401 || e["attempts_left"].(float64) != 4 {
		t.Fatalf("wrong operator password: %d %s", resp.StatusCode, body)
	}
	// Field problems: checksum, region, username.
	bad := unitBody("jingban", "Abcd2468!x", "91440703MA4UABCD10", "9bad")
	bad["region_code"] = "4407"
	resp, body = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, bad))
	e = errorExtra(t, body)
	if resp.StatusCode != 422 || e["field"] != "cert_number" || !strings.Contains(body, "invalid_region") || !strings.Contains(body, "invalid_username") {
		t.Fatalf("field errors: %d %s", resp.StatusCode, body)
	}
	// An operator who is not real-name verified.
	ctx := context.Background()
	s.person(t, "unverified", "Abcd2468!x", "李四", liID, "13800007777")
	s.db.Ent.Account.Update().Where(account.UsernameKey("unverified")).SetVerified(false).ExecX(ctx)
	resp, body = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("unverified", "Abcd2468!x", uscc("91440101MA5CXYKW1"), "gz_unit")))
	if resp.StatusCode != 403 || decodeError(t, body).Error.Code != "operator_not_verified" {
		t.Fatalf("unverified operator: %d %s", resp.StatusCode, body)
	}
}

func TestConcurrentUnitRegistrationsOfOneCertificate(t *testing.T) {
	testenv.ForEachDB(t, concurrentUnitRegistrations)
}

func concurrentUnitRegistrations(t *testing.T, d *db.DB) {
	s := newTestServerOn(t, d)
	s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
	cert := uscc("91440703MA4URACE1")
	statuses := make([]int, 20)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", cert, fmt.Sprintf("race_unit_%02d", i))))
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, st := range statuses {
		count[st]++
	}
	if count[201] != 1 || count[409] != 19 {
		t.Fatalf("statuses %v", count)
	}
	if n := s.db.Ent.Account.Query().Where(account.CertHmacIn(s.db.Lookups(cert)...)).CountX(context.Background()); n != 1 {
		t.Fatalf("%d rows for one certificate", n)
	}
}

func TestUsernameRecovery(t *testing.T) {
	s := newTestServer(t)
	s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
	resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent")))
	if resp.StatusCode != 201 {
		t.Fatal(body)
	}
	resp, body = s.postJSON(t, "/api/v1/account-recovery", jsonBody(t, map[string]string{"kind": "person", "name": "王经办", "id_number": zhangID}))
	if resp.StatusCode != 202 || body != `{"phone_masked":"138****6666"}` {
		t.Fatalf("person: %d %s", resp.StatusCode, body)
	}
	if text := s.waitSMS(t, "13800006666", "jingban"); !strings.Contains(text, "登录账号为：jingban") {
		t.Fatalf("sms %q", text)
	}
	s.clock.Advance(61 * time.Second)
	resp, body = s.postJSON(t, "/api/v1/account-recovery", jsonBody(t, map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": unitA, "unit_name": " 江门市人才发展有限公司 "}))
	if resp.StatusCode != 202 || !strings.Contains(body, "138****6666") {
		t.Fatalf("unit: %d %s", resp.StatusCode, body)
	}
	s.waitSMS(t, "13800006666", "jm_talent")
	// Right away again: the phone's quota says wait.
	resp, _ = s.postJSON(t, "/api/v1/account-recovery", jsonBody(t, map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": unitA, "unit_name": "江门市人才发展有限公司"}))
	if resp.StatusCode != 429 {
		t.Fatalf("immediately again: %d", resp.StatusCode)
	}
	for _, b := range []map[string]string{
		{"kind": "unit", "cert_type": "uscc", "cert_number": unitA, "unit_name": "别的公司"},
		{"kind": "person", "name": "张三", "id_number": zhangID},
		{"kind": "person", "name": "王经办", "id_number": liID},
	} {
		resp, body := s.postJSON(t, "/api/v1/account-recovery", jsonBody(t, b))
		if resp.StatusCode != 404 || decodeError(t, body).Error.Code != "account_not_found" {
			t.Fatalf("%v: %d %s", b, resp.StatusCode, body)
		}
	}
}

func TestLogsCarryNoSecretsOrPersonalData(t *testing.T) {
	s := newTestServer(t)
	code := s.codeFor(t, "13800008888")
	// Each step must do what it says, or the log would not carry what it is
	// checked for.
	want := func(step string, resp *http.Response, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("%s: %d, want %d", step, resp.StatusCode, status)
		}
	}
	resp, _ := registerPerson(t, s, map[string]string{"phone": "13800008888", "sms_code": code})
	want("register", resp, 201)
	resp, _ = login(t, s, "person", "zhang_san", "Wrong1234!")
	want("wrong login", resp, 401)
	resp, _ = login(t, s, "person", "zhang_san", "Abcd2468!x")
	want("login", resp, 200)
	// The registration code went to the same phone moments ago; let its
	// 60-second quota pass so the recovery really runs (and logs) its path.
	s.clock.Advance(61 * time.Second)
	resp, _ = s.postJSON(t, "/api/v1/account-recovery", jsonBody(t, map[string]string{"kind": "person", "name": "张三", "id_number": zhangID}))
	want("account recovery", resp, 202)
	resp, _ = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("zhang_san", "Abcd2468!x", unitA, "jm_talent")))
	want("unit", resp, 201)
	resp, _ = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("zhang_san", "Abcd2468!x", unitA, "jm_talent2")))
	want("unit again", resp, 409)
	logs := s.logs.String()
	if !strings.Contains(logs, "/api/v1/login") {
		t.Fatal("the access log is empty; this test would prove nothing")
	}
	for _, secret := range []string{"Abcd2468!x", "Wrong1234!", "Unit#Pass2468", code, zhangID, "13800008888", "张三", unitA} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

func TestRegionsFeedTheCascadingPicker(t *testing.T) {
	s := newTestServer(t)
	resp, body := s.get(t, "/api/v1/regions")
	if resp.StatusCode != 200 || body != `{"regions":[{"code":"44","name":"广东省","level":1}]}` {
		t.Fatalf("root: %d %s", resp.StatusCode, body)
	}
	resp, body = s.get(t, "/api/v1/regions?parent=44")
	if resp.StatusCode != 200 || strings.Count(body, `"level":2`) != 21 {
		t.Fatalf("cities: %d %s", resp.StatusCode, body)
	}
	resp, body = s.get(t, "/api/v1/regions?parent=4407")
	for _, want := range []string{`{"code":"440703","name":"蓬江区","level":3}`, "江海区", "新会区", "台山市", "开平市", "鹤山市", "恩平市"} {
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Fatalf("江门市 lacks %s: %d %s", want, resp.StatusCode, body)
		}
	}
	if resp, body := s.get(t, "/api/v1/regions?parent=4419"); resp.StatusCode != 200 || body != `{"regions":[]}` {
		t.Fatalf("东莞市 has no county-level children: %d %s", resp.StatusCode, body)
	}
	if resp, body := s.get(t, "/api/v1/regions?parent=9999"); resp.StatusCode != 404 || decodeError(t, body).Error.Code != "region_not_found" {
		t.Fatalf("unknown: %d %s", resp.StatusCode, body)
	}
}
