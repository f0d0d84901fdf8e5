//go:build faults

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// client is one browser or API caller with its own cookies, connecting from
// its own loopback address (127.0.x.y) as separate people do, so per-address
// rate limits see separate callers.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

var nextAddr atomic.Int32

func newClient(t *testing.T, base string) *client {
	n := nextAddr.Add(1)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
	dialer := &net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4}
	return &client{t: t, base: base, http: &http.Client{Transport: tr, Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var (
	csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)"`)
	sixDigits = regexp.MustCompile(`验证码为(\d{6})`)
)

// do sends req and returns status and body; it keeps the CSRF token of any
// page it reads. A transport error is returned as status 0.
func (c *client) do(req *http.Request) (int, string, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if m := csrfMeta.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	} else if m := csrfField.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b), nil
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	status, body, err := c.do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	return status, body
}

// postForm posts a console form with the CSRF token of the last page read.
func (c *client) postForm(path string, form url.Values) (int, string) {
	c.t.Helper()
	form.Set("_csrf", c.csrf)
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body, err := c.do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	return status, body
}

// api calls the JSON API (token: a recovery's bearer token) and decodes a
// 2xx answer into out. It fails the test unless the status is want.
func (c *client) api(method, path, token string, body any, want int, out any) string {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	status, text, err := c.do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		c.t.Fatalf("%s %s: got %d, want %d: %.400s", method, path, status, want, text)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return text
}

// applicantPassword is every test applicant's first password.
const applicantPassword = "Kp#7391xwz"

// applicant is a person with an account.
type applicant struct {
	username, name, idNumber, phone string
}

// registerApplicant registers a verified person through the accounts API,
// reading the registration code at the gateway.
func (sc *scenario) registerApplicant(i int) applicant {
	t := sc.t
	t.Helper()
	birth := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 37*i)
	a := applicant{username: fmt.Sprintf("fault_p%03d", i), name: "测试" + string([]rune("甲乙丙丁戊己庚辛壬癸")[i%10]),
		idNumber: rules.CompleteIDNumber("440703" + birth.Format("20060102") + fmt.Sprintf("%03d", 100+i%800)),
		phone:    fmt.Sprintf("139%08d", 10000000+rand.IntN(80000000))}
	c := newClient(t, sc.srv.base)
	since := time.Now()
	c.api(http.MethodPost, "/api/v1/sms/codes", "", map[string]string{"phone": a.phone, "purpose": "register"}, http.StatusAccepted, nil)
	code := sc.gw.waitCode(a.phone, since)
	c.api(http.MethodPost, "/api/v1/accounts/person", "", map[string]string{"username": a.username, "password": applicantPassword,
		"name": a.name, "id_number": a.idNumber, "phone": a.phone, "sms_code": code}, http.StatusCreated, nil)
	return a
}

// recoveryCase is an applicant's password recovery.
type recoveryCase struct {
	a                 applicant
	c                 *client
	id, token, number string
}

// openRecovery takes the applicant through steps 1 and 2 (the code comes
// through the gateway): the case is at the upload step.
func (sc *scenario) openRecovery(a applicant) *recoveryCase {
	t := sc.t
	t.Helper()
	r := &recoveryCase{a: a, c: newClient(t, sc.srv.base)}
	var started struct{ ID, Token string }
	r.c.api(http.MethodPost, "/api/v1/recoveries", "", map[string]string{"kind": "person", "username": a.username, "name": a.name,
		"id_number": a.idNumber}, http.StatusCreated, &started)
	r.id, r.token = started.ID, started.Token
	since := time.Now()
	r.c.api(http.MethodPost, "/api/v1/recoveries/"+r.id+"/sms", r.token, nil, http.StatusAccepted, nil)
	code := sc.gw.waitCode(a.phone, since)
	r.c.api(http.MethodPost, "/api/v1/recoveries/"+r.id+"/verify", r.token, map[string]string{"code": code}, http.StatusOK, nil)
	return r
}

// upload sends one evidence image and returns the status, body and time taken.
func (r *recoveryCase) upload(kind string, img []byte) (int, string, time.Duration, error) {
	req, _ := http.NewRequest(http.MethodPut, r.c.base+"/api/v1/recoveries/"+r.id+"/evidence/"+kind, bytes.NewReader(img))
	req.Header.Set("Content-Type", "image/png")
	req.Header.Set("Authorization", "Bearer "+r.token)
	t0 := time.Now()
	status, body, err := r.c.do(req)
	return status, body, time.Since(t0), err
}

// submitCase uploads both images of a person and submits: the case is in the queue.
func (sc *scenario) submitCase(a applicant) *recoveryCase {
	t := sc.t
	t.Helper()
	r := sc.openRecovery(a)
	for _, kind := range []string{"id_front", "id_handheld"} {
		status, body, _, err := r.upload(kind, evidenceImage())
		if err != nil || status != http.StatusCreated {
			t.Fatalf("upload %s: %d %v %.300s", kind, status, err, body)
		}
	}
	var sub struct {
		CaseNumber string `json:"case_number"`
	}
	r.c.api(http.MethodPost, "/api/v1/recoveries/"+r.id+"/submit", r.token, nil, http.StatusOK, &sub)
	r.number = sub.CaseNumber
	return r
}

// status is the case as the applicant sees it.
func (r *recoveryCase) status() (status string, effectiveAt string) {
	var out struct {
		Status              string `json:"status"`
		PasswordEffectiveAt string `json:"password_effective_at"`
	}
	r.c.api(http.MethodGet, "/api/v1/recoveries/"+r.id, r.token, nil, http.StatusOK, &out)
	return out.Status, out.PasswordEffectiveAt
}

// evidenceImage is a 360×320 PNG of random 40 px blocks: every image has its
// own perceptual hash, so no case is flagged for duplicate evidence.
func evidenceImage() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 360, 320))
	for by := 0; by < 8; by++ {
		for bx := 0; bx < 9; bx++ {
			c := color.RGBA{uint8(rand.IntN(256)), uint8(rand.IntN(256)), uint8(rand.IntN(256)), 255}
			for y := by * 40; y < by*40+40; y++ {
				for x := bx * 40; x < bx*40+40; x++ {
					img.SetRGBA(x, y, c)
				}
			}
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

// staffPassword is the console password of the suite's staff.
const staffPassword = "Rv#5820kqm"

// Staff of every scenario: a province-wide reviewer and two supervisors
// (the second co-signs four-eyes approvals).
const (
	reviewerName    = "fault_rv"
	supervisorName  = "fault_sup"
	supervisor2Name = "fault_sup2"
)

// addStaff creates the scenario's staff with `recoverydesk staff add`.
func (sc *scenario) addStaff() {
	for _, s := range []struct{ user, name, role string }{{reviewerName, "故障审核", "reviewer"},
		{supervisorName, "故障主管", "supervisor"}, {supervisor2Name, "复核主管", "supervisor"}} {
		out, code := sc.srv.cli(staffPassword+"\n", "staff", "add", "--username", s.user, "--name", s.name, "--role", s.role,
			"--region", "44", "--password-stdin")
		if code != 0 {
			sc.t.Fatalf("staff add %s: exit %d: %s", s.user, code, out)
		}
	}
}

// staffSession is a staff member signed in to the console.
type staffSession struct {
	*client
	username string
}

func (sc *scenario) signIn(username string) *staffSession {
	t := sc.t
	t.Helper()
	c := newClient(t, sc.srv.base)
	c.get("/console/login")
	status, body := c.postForm("/console/login", url.Values{"username": {username}, "password": {staffPassword}})
	if status != http.StatusSeeOther {
		t.Fatalf("console sign-in of %s: %d %.300s", username, status, body)
	}
	return &staffSession{client: c, username: username}
}

var versionField = regexp.MustCompile(`name="version" value="(\d+)"`)

// approve claims and approves a case as this reviewer; when the approval
// awaits a second one (a risk flag), the second supervisor co-signs it.
func (sc *scenario) approve(rv *staffSession, number string) {
	t := sc.t
	t.Helper()
	rv.get("/console/cases/" + number)
	if status, body := rv.postForm("/console/cases/"+number+"/claim", url.Values{}); status >= 400 {
		t.Fatalf("claim %s: %d %.300s", number, status, body)
	}
	_, page := rv.get("/console/cases/" + number)
	m := versionField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("case page of %s has no decision form", number)
	}
	status, body := rv.postForm("/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {m[1]}})
	if status != http.StatusSeeOther {
		t.Fatalf("approve %s: %d %.300s", number, status, body)
	}
	if sc.db.caseStatus(t, number) != "awaiting_second" {
		return
	}
	t.Logf("%s awaits a second approval; %s co-signs", number, supervisor2Name)
	sup := sc.signIn(supervisor2Name)
	_, page = sup.get("/console/cases/" + number)
	m = versionField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("case page of %s has no second-approval form", number)
	}
	status, body = sup.postForm("/console/cases/"+number+"/second-approval", url.Values{"verdict": {"approve"}, "version": {m[1]}})
	if status != http.StatusSeeOther {
		t.Fatalf("second approval of %s: %d %.300s", number, status, body)
	}
}

// scenario is one fault scenario: a fresh database, a stub gateway, and a
// server on them.
type scenario struct {
	t   *testing.T
	db  *pg
	gw  *gateway
	srv *server
}

// newScenario starts a server with the http SMS driver pointed at a fresh
// gateway, the shared MinIO (unless extra names another store), and the
// scenario's staff.
func newScenario(t *testing.T, extra map[string]string) *scenario {
	t.Helper()
	sc := &scenario{t: t, db: freshDB(t), gw: newGateway(t)}
	env := map[string]string{"RD_SMS_DRIVER": "http", "RD_SMS_HTTP_URL": sc.gw.url()}
	if _, own := extra["RD_S3_ENDPOINT"]; !own {
		for k, v := range sharedEnv(t) {
			env[k] = v
		}
	}
	for k, v := range extra {
		env[k] = v
	}
	if env["RD_S3_ENDPOINT"] == "" {
		delete(env, "RD_S3_ENDPOINT") // the bundled MinIO
	}
	sc.srv = newServer(t, sc.db, env)
	// Staff are added before serve starts, so its enforcer knows their
	// grants from the first request (a running one reloads within seconds).
	if out, code := sc.srv.cli("", "migrate"); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, out)
	}
	sc.addStaff()
	t0 := time.Now()
	sc.srv.start()
	t.Logf("server ready in %s", time.Since(t0).Round(time.Millisecond))
	return sc
}

// approvedCases registers n applicants, submits a case for each and
// approves them all; it returns the cases in order.
func (sc *scenario) approvedCases(n int) []*recoveryCase {
	rv := sc.signIn(reviewerName)
	var people []applicant
	for i := range n {
		people = append(people, sc.registerApplicant(i))
	}
	sc.afterCodes()
	var out []*recoveryCase
	for _, a := range people {
		out = append(out, sc.submitCase(a))
	}
	for _, r := range out {
		sc.approve(rv, r.number)
	}
	return out
}

// afterCodes moves the dev clock past the minute a phone waits between two
// codes, so an applicant who just registered can start a recovery at once.
func (sc *scenario) afterCodes() {
	newClient(sc.t, sc.srv.base).api(http.MethodPost, "/dev/clock", "", map[string]string{"advance": "61s"}, http.StatusOK, nil)
}

// clockOffset is how far the application's (dev) clock runs ahead of real
// time: the database's times are written on it.
func (sc *scenario) clockOffset() time.Duration {
	var out struct {
		Now time.Time `json:"now"`
	}
	t0 := time.Now()
	newClient(sc.t, sc.srv.base).api(http.MethodGet, "/dev/clock", "", nil, http.StatusOK, &out)
	return out.Now.Sub(t0.Add(time.Since(t0) / 2))
}

// finish runs the closing checks of every scenario: the audit chain
// verifies and every case the scenario made is whole in the database.
func (sc *scenario) finish(cases []*recoveryCase, want string) {
	t := sc.t
	t.Helper()
	sc.srv.verifyAudit()
	submitted := 0
	for _, r := range cases {
		if r.number == "" {
			continue
		}
		submitted++
		if got := sc.db.caseStatus(t, r.number); got != want {
			t.Errorf("case %s: status %q in the database, want %q", r.number, got, want)
		}
		if want != "approved" {
			continue
		}
		// Approved and whole: one password message, sent, and the new
		// password's clock started.
		if msgs := sc.db.passwordMessages(t, r.number); len(msgs) != 1 || msgs[0].Status != "sent" {
			t.Errorf("case %s: password messages %+v, want exactly one, sent", r.number, msgs)
		}
		var started bool
		sc.db.one(t, &started, `SELECT a.pending_effective_at IS NOT NULL OR a.password_changed_at IS NOT NULL FROM accounts a
			JOIN recovery_cases c ON c.account_cases = a.id WHERE c.case_number = $1`, r.number)
		if !started {
			t.Errorf("case %s: the account's new password has neither an effective_at nor taken effect", r.number)
		}
	}
	var inDB int
	sc.db.one(t, &inDB, `SELECT count(*) FROM recovery_cases WHERE case_number IS NOT NULL`)
	if inDB != submitted {
		t.Errorf("%d submitted cases in the database, the scenario submitted %d", inDB, submitted)
	}
}
