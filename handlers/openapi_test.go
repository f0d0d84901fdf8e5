package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"recoverydesk/handlers"
	"recoverydesk/internal/testenv"
)

// openAPIDoc fetches and decodes the served document.
func openAPIDoc(t *testing.T, s *testServer) map[string]any {
	t.Helper()
	resp, body := s.get(t, "/api/v1/openapi.json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var doc map[string]any
	mustJSON(t, body, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	return doc
}

// docOperations lists the document's operations as "METHOD /path" with the
// route table's :param syntax.
func docOperations(doc map[string]any) []string {
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	var out []string
	for path, methods := range doc["paths"].(map[string]any) {
		for method := range methods.(map[string]any) {
			out = append(out, strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1"))
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDescribesExactlyTheAPIRoutes walks the route table: every
// /api/v1 route is in the document, and the document names no route or
// method the table does not have.
func TestOpenAPIDescribesExactlyTheAPIRoutes(t *testing.T) {
	s := newTestServer(t)
	doc := openAPIDoc(t, s)
	var table []string
	for _, r := range handlers.RouteTable() {
		if strings.HasPrefix(r.Path, "/api/v1/") {
			table = append(table, r.Method+" "+r.Path)
		}
		if (r.Path == "/api/v1/openapi.json" || r.Path == "/api/docs") && r.Access != "public" {
			t.Errorf("%s is %q, want public", r.Path, r.Access)
		}
	}
	sort.Strings(table)
	documented := docOperations(doc)
	for _, op := range table {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is missing from the OpenAPI document", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(table, op) {
			t.Errorf("the OpenAPI document names %s, which is no route", op)
		}
	}
	if len(table) < 17 {
		t.Fatalf("only %d /api/v1 routes in the table: %v", len(table), table)
	}
	// Each operation names its error codes under their statuses.
	login := doc["paths"].(map[string]any)["/api/v1/login"].(map[string]any)["post"].(map[string]any)["responses"].(map[string]any)
	for status, code := range map[string]string{"401": "bad_credentials", "423": "account_locked", "403": "password_not_effective",
		"409": "wrong_account_kind", "429": "rate_limited", "503": "busy", "500": "internal_error"} {
		r, ok := login[status].(map[string]any)
		if !ok {
			t.Errorf("login: no %s response", status)
			continue
		}
		b, _ := json.Marshal(r)
		if !strings.Contains(string(b), `"const":"`+code+`"`) {
			t.Errorf("login %s does not name %s: %s", status, code, b)
		}
	}
}

// TestEveryAPIOperationAnswersAsDocumented calls every /api/v1 operation,
// each to its success and to refusals an applicant meets, through
// testServer.do, which validates every answer against the document. At the
// end every operation of the document must have been seen answering its
// success status with a body that matched.
func TestEveryAPIOperationAnswersAsDocumented(t *testing.T) {
	s := recoveryFixture(t) // the operator jingban and the unit jm_talent (unit registration)
	expect := func(what string, status int, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("%s: %d %.300s, want %d", what, resp.StatusCode, body, status)
		}
	}

	// Accounts.
	resp, body := s.get(t, "/api/v1/regions?parent=4407")
	expect("regions", 200, resp, body)
	resp, body = s.get(t, "/api/v1/regions?parent=9999")
	expect("unknown region", 404, resp, body)
	code := s.codeFor(t, "13800001234") // POST /api/v1/sms/codes → 202
	resp, body = s.postJSON(t, "/api/v1/sms/codes", `{"phone":"13800001234","purpose":"register"}`)
	expect("second code at once", 429, resp, body)
	resp, body = s.postJSON(t, "/api/v1/accounts/person", jsonBody(t, map[string]string{"username": "zhang_san", "password": "Abcd2468!x",
		"name": "张三", "id_number": liID, "phone": "13800001234", "sms_code": wrongCode(code)}))
	expect("wrong code", 422, resp, body)
	resp, body = s.postJSON(t, "/api/v1/accounts/person", jsonBody(t, map[string]string{"username": "1bad", "password": "short",
		"name": "", "id_number": "x", "phone": "1", "sms_code": code}))
	expect("every field wrong", 422, resp, body)
	if len(errorExtra(t, body)["fields"].([]any)) < 4 {
		t.Fatalf("every field wrong: %s", body)
	}
	resp, body = s.postJSON(t, "/api/v1/accounts/person", jsonBody(t, map[string]string{"username": "zhang_san", "password": "Abcd2468!x",
		"name": "张三", "id_number": liID, "phone": "13800001234", "sms_code": code}))
	expect("register person", 201, resp, body)
	resp, body = s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent2")))
	expect("certificate taken", 409, resp, body)
	resp, body = s.postJSON(t, "/api/v1/login", `{"kind":"person","username":"zhang_san","password":"Wrong2468!x"}`)
	expect("wrong password", 401, resp, body)
	resp, body = s.postJSON(t, "/api/v1/login", `{"kind":"unit","username":"zhang_san","password":"Abcd2468!x"}`)
	expect("wrong tab", 409, resp, body)
	resp, body = s.postJSON(t, "/api/v1/login", `{"kind":"person","username":"zhang_san","password":"Abcd2468!x"}`)
	expect("login", 200, resp, body)
	resp, body = s.postJSON(t, "/api/v1/logout", "")
	expect("logout", 204, resp, body)
	resp, body = s.postJSON(t, "/api/v1/password", `{"kind":"person","username":"zhang_san","old_password":"Abcd2468!x","new_password":"Abcd2468!x"}`)
	expect("unchanged password", 422, resp, body)
	resp, body = s.postJSON(t, "/api/v1/password", `{"kind":"person","username":"zhang_san","old_password":"Abcd2468!x","new_password":"Bcde3579#y"}`)
	expect("password", 204, resp, body)
	s.clock.Advance(2 * time.Minute) // the phone's SMS interval since the registration code
	resp, body = s.postJSON(t, "/api/v1/account-recovery", `{"kind":"person","name":"李四","id_number":"`+liID+`"}`)
	expect("no such person", 404, resp, body)
	resp, body = s.postJSON(t, "/api/v1/account-recovery", `{"kind":"person","name":"张三","id_number":"`+liID+`"}`)
	expect("account recovery", 202, resp, body)
	resp, body = s.do(t, httptestRequest(http.MethodPost, "/api/v1/login", "text/plain", "kind=person"))
	expect("not JSON", 415, resp, body)
	resp, body = s.postJSON(t, "/api/v1/login", `{"kind":`)
	expect("broken JSON", 400, resp, body)

	// Password recovery.
	a := startUnit(t, s, nil) // POST /api/v1/recoveries → 201
	resp, body = s.postJSON(t, "/api/v1/recoveries", `{"kind":"unit","cert_type":"uscc","cert_number":"1","unit_name":""}`)
	expect("start with wrong fields", 422, resp, body)
	resp, body = a.req(t, http.MethodGet, "", "", nil)
	expect("status of a draft", 200, resp, body)
	resp, body = a.req(t, http.MethodPost, "/verify", "application/json", []byte(`{"code":"000000"}`))
	expect("verify before any code", 410, resp, body)
	a.verifyPhone(t, "13800006666") // sms → 202, verify → 200
	resp, body = a.req(t, http.MethodPost, "/submit", "", nil)
	expect("submit with nothing", 422, resp, body)
	resp, body = a.upload(t, "id_front", []byte("not an image"))
	expect("not an image", 415, resp, body)
	resp, body = a.upload(t, "passport", jpegBytes(t, photo(400, 300, 1)))
	expect("unknown kind", 404, resp, body)
	for i, kind := range recoverEvidenceKinds {
		resp, body = a.upload(t, kind, jpegBytes(t, photo(640, 480, uint64(i))))
		expect("upload "+kind, 201, resp, body)
	}
	resp, body = a.req(t, http.MethodPost, "/submit", "", nil)
	expect("submit", 200, resp, body)
	var sub struct {
		CaseNumber string `json:"case_number"`
	}
	mustJSON(t, body, &sub)
	resp, body = a.req(t, http.MethodGet, "", "", nil)
	expect("status of a submitted case", 200, resp, body)
	resp, body = a.req(t, http.MethodPost, "/sms", "", nil)
	expect("code after submission", 409, resp, body)
	other := &applicant{s: s, id: a.id, token: strings.Repeat("x", 43)}
	resp, body = other.req(t, http.MethodGet, "", "", nil)
	expect("a wrong token", 404, resp, body)

	// The status lookup by case number, from another browser.
	s.clock.Advance(2 * time.Minute) // the phone's SMS interval since the recovery code
	text := s.newSMS(t, "13800006666", func() {
		resp, body = s.postJSON(t, "/api/v1/recoveries/lookup", `{"case_number":"`+sub.CaseNumber+`"}`)
		expect("lookup", 202, resp, body)
	})
	resp, body = s.postJSON(t, "/api/v1/recoveries/lookup/verify", `{"case_number":"`+sub.CaseNumber+`","code":"`+wrongCode(sixDigits.FindStringSubmatch(text)[1])+`"}`)
	expect("lookup with a wrong code", 422, resp, body)
	resp, body = s.postJSON(t, "/api/v1/recoveries/lookup/verify", `{"case_number":"`+sub.CaseNumber+`","code":"`+sixDigits.FindStringSubmatch(text)[1]+`"}`)
	expect("lookup verify", 200, resp, body)
	var renewed struct {
		Token string `json:"token"`
	}
	mustJSON(t, body, &renewed)
	a.token = renewed.Token // the lookup replaced the case's token
	resp, body = s.postJSON(t, "/api/v1/recoveries/lookup", `{"case_number":"ZH20200101000001"}`)
	expect("lookup of an unknown number", 404, resp, body)

	// 忘记申请编号, and a new application after a rejection.
	s.clock.Advance(2 * time.Minute) // the phone's SMS interval since the lookup code
	resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unitA, "江门市人才发展公司"))
	expect("case number by SMS", 202, resp, body)
	resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unknownUnit(t), "江门市人才发展公司"))
	expect("case number of an unknown unit", 404, resp, body)
	resp, body = a.req(t, http.MethodGet, "/again", "", nil)
	expect("again before a decision", 409, resp, body)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	v := claimed(t, s, pc, sub.CaseNumber)
	if resp, body := pc.post(t, "/console/cases/"+sub.CaseNumber+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)},
		"reason": {"unclear_image"}}); resp.StatusCode != 303 {
		t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
	}
	resp, body = a.req(t, http.MethodGet, "/again", "", nil)
	expect("again after a rejection", 200, resp, body)

	openAPIDoc(t, s) // GET /api/v1/openapi.json → 200

	// Every operation answered its success as documented.
	a2, err := loadSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range a2.ops {
		ok := false
		for status := range o.responses {
			if status < 300 && s.apiSeen.has(o.key()+" "+strconv.Itoa(status)) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: no success answer was checked against the document", o.key())
		}
	}
}

func httptestRequest(method, path, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return r
}

// TestAPIDocsPageRendersTheDocumentWithoutLeavingTheServer opens /api/docs
// in Chromium: the routes and their error codes are on the page, and every
// request the page made went to the server itself.
func TestAPIDocsPageRendersTheDocumentWithoutLeavingTheServer(t *testing.T) {
	browser := testenv.Browser(t)
	s := newTestServer(t)
	base := s.listen(t)
	ctx := testenv.Within(t, browser, 30*time.Second)

	var mu sync.Mutex
	var requested []string
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			requested = append(requested, e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	problems := pageProblems(ctx)
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/api/docs"), chromedp.WaitVisible(chromedp.CSS("#api-errors")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || !strings.Contains(resp.Headers["Content-Security-Policy"].(string), "default-src 'self'") {
		t.Fatalf("/api/docs: %d, CSP %v", resp.Status, resp.Headers["Content-Security-Policy"])
	}
	login := browserText(t, ctx, "#post-api-v1-login")
	for _, want := range []string{"POST", "/api/v1/login", "登录", "account_locked", "423", "locked_until", "bad_credentials", "attempts_left"} {
		if !strings.Contains(login, want) {
			t.Errorf("the login section lacks %q:\n%s", want, login)
		}
	}
	upload := browserText(t, ctx, "#put-api-v1-recoveries-id-evidence-kind")
	for _, want := range []string{"Authorization: Bearer", "file_too_large", "unsupported_type", "storage_unavailable", "sha256"} {
		if !strings.Contains(upload, want) {
			t.Errorf("the upload section lacks %q", want)
		}
	}
	// The stylesheet applied under the strict CSP (the page's own CSS).
	font, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).fontFamily`))
	if err != nil || !strings.Contains(font, "PingFang SC") {
		t.Errorf("stylesheet not applied: %q (%v)", font, err)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("console errors: %v", p)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requested) < 2 {
		t.Fatalf("saw only %d requests: %v", len(requested), requested)
	}
	origin, _ := url.Parse(base)
	for _, u := range requested {
		p, err := url.Parse(u)
		if err != nil || p.Scheme+"://"+p.Host != origin.Scheme+"://"+origin.Host {
			// A data: URL is the page's own bytes, not a request.
			if !strings.HasPrefix(u, "data:") {
				t.Errorf("the page requested %s, outside %s", u, base)
			}
		}
	}
}
