package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// applicant walks the recovery API with the token of one case.
type applicant struct {
	s     *testServer
	id    string
	token string
}

func (a *applicant) req(t testing.TB, method, path, contentType string, body []byte) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, "/api/v1/recoveries/"+a.id+path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	r.Header.Set("Authorization", "Bearer "+a.token)
	return a.s.do(t, r)
}

func (a *applicant) upload(t testing.TB, kind string, data []byte) (*http.Response, string) {
	t.Helper()
	return a.req(t, http.MethodPut, "/evidence/"+kind, "image/jpeg", data)
}

// wantNotFoundWithAnotherToken checks that path of a's case answers 404 to
// a bearer token that is not the case's: the case is not even said to exist.
func (a *applicant) wantNotFoundWithAnotherToken(t testing.TB, method, path string) {
	t.Helper()
	stranger := &applicant{s: a.s, id: a.id, token: "not-the-token"}
	if resp, body := stranger.req(t, method, path, "", nil); resp.StatusCode != 404 {
		t.Fatalf("%s %q with another token: %d %s", method, path, resp.StatusCode, body)
	}
}

// announceUpload sends, to the server listening at base, only the headers
// of an upload of kind announcing size bytes, and returns the answer, which
// must come within 5 s without a byte of the body.
func (a *applicant) announceUpload(t testing.TB, base, kind string, size int) (status int, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/v1/recoveries/%s/evidence/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", a.id, kind, a.token, size)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer before the body was sent: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func (a *applicant) verifyPhone(t testing.TB, phone string) {
	t.Helper()
	text := a.s.newSMS(t, phone, func() {
		if resp, body := a.req(t, http.MethodPost, "/sms", "", nil); resp.StatusCode != 202 {
			t.Fatalf("send code: %d %s", resp.StatusCode, body)
		}
	})
	code := sixDigits.FindStringSubmatch(text)[1]
	if resp, body := a.req(t, http.MethodPost, "/verify", "application/json", []byte(`{"code":"`+code+`"}`)); resp.StatusCode != 200 || body != `{"step":"upload"}` {
		t.Fatalf("verify: %d %s", resp.StatusCode, body)
	}
}

// recoveryFixture registers the operator 王经办 (phone 13800006666) and the
// unit jm_talent, and returns the server.
func recoveryFixture(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	return recoveryFixtureOn(t, testenv.SQLite(t), opts...)
}

// recoveryFixtureOn is recoveryFixture on a given database.
func recoveryFixtureOn(t testing.TB, d *db.DB, opts ...serverOption) *testServer {
	t.Helper()
	s := newTestServerOn(t, d, opts...)
	s.person(t, "jingban", "Abcd2468!x", "王经办", zhangID, "13800006666")
	if resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitA, "jm_talent"))); resp.StatusCode != 201 {
		t.Fatalf("unit: %s", body)
	}
	return s
}

// unitAtUpload is recoveryFixture with jm_talent's case started and the
// phone on record (13800006666) verified: the case is at the upload step.
func unitAtUpload(t testing.TB, opts ...serverOption) (*testServer, *applicant) {
	t.Helper()
	s := recoveryFixture(t, opts...)
	a := startUnit(t, s, nil)
	a.verifyPhone(t, "13800006666")
	return s, a
}

func startUnit(t testing.TB, s *testServer, extra map[string]string) *applicant {
	t.Helper()
	body := map[string]string{"kind": "unit", "username": "jm_talnet", "cert_type": "uscc", "cert_number": unitA, "unit_name": "江门市人才发展公司"}
	for k, v := range extra {
		body[k] = v
	}
	resp, out := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, body))
	if resp.StatusCode != 201 {
		t.Fatalf("start: %d %s", resp.StatusCode, out)
	}
	var v struct {
		ID, Token, PhoneMasked string
		RequiredEvidence       []string `json:"required_evidence"`
	}
	mustJSON(t, out, &v)
	if !strings.Contains(out, `"phone_masked":"138****6666"`) || len(v.RequiredEvidence) != 4 || len(v.Token) < 40 {
		t.Fatalf("start response %s", out)
	}
	return &applicant{s: s, id: v.ID, token: v.Token}
}

func TestRecoveryWalkThrough(t *testing.T) {
	s := recoveryFixture(t)
	// The submission day decides the due date: 30 Sep 2025 → 10 Oct 2025
	// (National Day holidays 1–8 Oct).
	s.clock.Set(time.Date(2025, 9, 30, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	a := startUnit(t, s, nil)
	rc := s.db.Ent.RecoveryCase.GetX(context.Background(), mustUUID(t, a.id))
	if rc.UsernameSimilarity < 70 || rc.UsernameSimilarity == 100 || rc.NameSimilarity < 60 || rc.RegionCode != "440703" {
		t.Fatalf("similarities %d/%d region %s", rc.UsernameSimilarity, rc.NameSimilarity, rc.RegionCode)
	}
	// Uploading before the phone is proven is the wrong step.
	if resp, body := a.upload(t, "id_front", jpegBytes(t, photo(400, 300, 1))); resp.StatusCode != 409 || decodeError(t, body).Error.Code != "wrong_step" {
		t.Fatalf("upload before verify: %d %s", resp.StatusCode, body)
	}
	a.verifyPhone(t, "13800006666")
	if resp, body := a.req(t, http.MethodPost, "/submit", "", nil); resp.StatusCode != 422 || !strings.Contains(body, `"missing":["id_front","id_handheld","unit_license","authorization_letter"]`) {
		t.Fatalf("submit with nothing: %d %s", resp.StatusCode, body)
	}
	for i, kind := range []string{"id_front", "id_handheld", "unit_license", "authorization_letter"} {
		resp, body := a.upload(t, kind, jpegBytes(t, photo(640, 480, uint64(i))))
		if resp.StatusCode != 201 || !strings.Contains(body, `"width":640`) || !strings.Contains(body, `"kind":"`+kind+`"`) {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	resp, body := a.req(t, http.MethodPost, "/submit", "", nil)
	if resp.StatusCode != 200 || !regexp.MustCompile(`"case_number":"ZH20250930\d{6}"`).MatchString(body) ||
		!strings.Contains(body, `"due_by":"2025-10-10"`) || !strings.Contains(body, `"status":"submitted"`) {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	resp, body = a.req(t, http.MethodGet, "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"submitted"`) || !strings.Contains(body, `"decision":null`) ||
		strings.Contains(body, "13800006666") || strings.Contains(body, unitA) {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	// A second application for the same account is refused with the open case's number.
	resp, body = s.postJSON(t, "/api/v1/recoveries", jsonBody(t, map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": unitA, "unit_name": "x"}))
	if e := errorExtra(t, body); resp.StatusCode != 409 || e["code"] != "case_open" || !strings.HasPrefix(e["case_number"].(string), "ZH20250930") {
		t.Fatalf("second case: %d %s", resp.StatusCode, body)
	}
	// Another token opens nothing.
	a.wantNotFoundWithAnotherToken(t, http.MethodGet, "")
}

func TestRecoveryStartErrors(t *testing.T) {
	s := recoveryFixture(t)
	// unitA's 9th–17th characters are not a valid org code (wrong check
	// character), so register a second unit whose USCC embeds a valid one.
	orgCodeOfB := ""
	for _, c := range "0123456789X" {
		if code, err := rules.ValidateOrgCode("MA4UABCE" + string(c)); err == nil {
			orgCodeOfB = code
			break
		}
	}
	unitB := uscc("91440703" + orgCodeOfB)
	if orgCodeOfB == "" || unitB[8:17] != orgCodeOfB {
		t.Fatalf("no unit B with a valid org code: %q %q", orgCodeOfB, unitB)
	}
	if resp, body := s.postJSON(t, "/api/v1/accounts/unit", jsonBody(t, unitBody("jingban", "Abcd2468!x", unitB, "jm_unit_b"))); resp.StatusCode != 201 {
		t.Fatalf("unit B: %d %s", resp.StatusCode, body)
	}
	cases := []struct {
		body   map[string]string
		status int
		code   string
	}{
		{map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": "91440703MA4UABCD10", "unit_name": "x"}, 422, "invalid_cert_number"},
		{map[string]string{"kind": "unit", "cert_type": "passport", "cert_number": unitA, "unit_name": "x"}, 422, "invalid_cert_type"},
		{map[string]string{"kind": "person", "name": "王经办", "id_number": "440703199001011230"}, 422, "invalid_id_number"},
		{map[string]string{"kind": "robot"}, 422, "invalid_kind"},
		{map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": uscc("91440101MA5CXYKW1"), "unit_name": "x"}, 404, "account_not_found"},
		{map[string]string{"kind": "person", "name": "李四", "id_number": liID}, 404, "account_not_found"},
		// The org code inside a registered unit's USCC is a different
		// certificate: it finds no account.
		{map[string]string{"kind": "unit", "cert_type": "org_code", "cert_number": orgCodeOfB, "unit_name": "x"}, 404, "account_not_found"},
	}
	for _, c := range cases {
		resp, body := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, c.body))
		if resp.StatusCode != c.status || decodeError(t, body).Error.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.body, resp.StatusCode, body, c.status, c.code)
		}
	}
	// A person whose name is unlike the one on record may still start a case.
	resp, body := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, map[string]string{"kind": "person", "name": "随便", "id_number": zhangID}))
	if resp.StatusCode != 201 || !strings.Contains(body, `"required_evidence":["id_front","id_handheld"]`) {
		t.Fatalf("person with an unlike name still starts: %d %s", resp.StatusCode, body)
	}
}

func TestRecoveryCodeGoesOnlyToThePhoneOnRecord(t *testing.T) {
	s := recoveryFixture(t)
	a := startUnit(t, s, map[string]string{"phone": "13999999999"})
	resp, body := a.req(t, http.MethodPost, "/sms", "application/json", []byte(`{"phone":"13999999999"}`))
	if resp.StatusCode != 202 || body != `{"resend_after":60}` {
		t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	text := s.waitSMS(t, "13800006666", "验证码为")
	m := sixDigits.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no code in %q", text)
	}
	code := m[1]
	if msgs, err := s.outbox.Messages(context.Background(), "13999999999", 10); err != nil || len(msgs) != 0 {
		t.Fatalf("a code went to the number in the request: %+v (err %v)", msgs, err)
	}
	if resp, body := a.req(t, http.MethodPost, "/sms", "", nil); resp.StatusCode != 429 || decodeError(t, body).Error.Code != "rate_limited" {
		t.Fatalf("resend within 60 s: %d %s", resp.StatusCode, body)
	}
	resp, body = a.req(t, http.MethodPost, "/verify", "application/json", []byte(`{"code":"`+wrongCode(code)+`"}`))
	e := errorExtra(t, body)
	if resp.StatusCode != 422 || e["code"] != "wrong_code" || e["attempts_left"].(float64) != 4 || e["field"] != "code" {
		t.Fatalf("wrong code: %d %s", resp.StatusCode, body)
	}
	s.clock.Advance(6 * time.Minute)
	if resp, body := a.req(t, http.MethodPost, "/verify", "application/json", []byte(`{"code":"`+code+`"}`)); resp.StatusCode != 410 || decodeError(t, body).Error.Code != "code_expired" {
		t.Fatalf("expired code: %d %s", resp.StatusCode, body)
	}
}

func TestEvidenceChecks(t *testing.T) {
	s, a := unitAtUpload(t)
	truncated := jpegBytes(t, photo(400, 300, 3))
	truncated = truncated[:len(truncated)/2]
	gif := append([]byte("GIF89a"), bytes.Repeat([]byte{0}, 200)...)
	cases := []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"exactly 2 MB", pngOfSize(t, 2<<20), 201, ""},
		{"2 MB + 1 byte", pngOfSize(t, 2<<20+1), 413, "file_too_large"},
		{"GIF", gif, 415, "unsupported_type"},
		{"text", []byte("hello, this is not an image"), 415, "unsupported_type"},
		{"truncated JPEG", truncated, 422, "unreadable_image"},
		{"1×1 image", pngBytes(t, photo(1, 1, 1)), 422, "unreadable_image"},
		{"header claiming 30000×30000", pngClaiming(30000, 30000), 422, "unreadable_image"},
	}
	for _, c := range cases {
		resp, body := a.upload(t, "id_front", c.data)
		if resp.StatusCode != c.status || (c.code != "" && decodeError(t, body).Error.Code != c.code) {
			t.Errorf("%s: %d %s, want %d %s", c.name, resp.StatusCode, body, c.status, c.code)
		}
	}
	// A PNG sent as "photo.jpg" with image/jpeg in a multipart form is a PNG.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreateFormFile("file", "photo.jpg")
	part.Write(pngBytes(t, photo(300, 300, 9)))
	mw.Close()
	resp, body := a.req(t, http.MethodPut, "/evidence/id_handheld", mw.FormDataContentType(), form.Bytes())
	if resp.StatusCode != 201 || !strings.Contains(body, `"width":300`) {
		t.Fatalf("multipart PNG named .jpg: %d %s", resp.StatusCode, body)
	}
	row := s.db.Ent.Evidence.Query().Where(evidence.KindEQ(evidence.KindIDHandheld)).OnlyX(context.Background())
	if row.ContentType != "image/png" {
		t.Fatalf("stored as %s", row.ContentType)
	}
	// A perceptual hash with its high bit set is stored like any other.
	if resp, body := a.upload(t, "unit_license", pngBytes(t, fadingToDark(400, 300))); resp.StatusCode != 201 {
		t.Fatalf("image whose hash has the high bit set: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.upload(t, "selfie", pngBytes(t, photo(300, 300, 9))); resp.StatusCode != 404 {
		t.Fatalf("unknown kind: %d %s", resp.StatusCode, body)
	}
}

// A body far over the limit is refused from its Content-Length alone: the
// client sends only the headers and gets its 413 without sending a byte of
// the body, so the server cannot have read past the limit.
func TestOversizedUploadIsRefusedUnread(t *testing.T) {
	s, a := unitAtUpload(t)
	status, body := a.announceUpload(t, s.listen(t), "id_front", 3<<20)
	if status != 413 || decodeError(t, body).Error.Code != "file_too_large" {
		t.Fatalf("3 MB upload: %d %s", status, body)
	}
}

func TestEvidenceLosesEXIFButKeepsItsPixels(t *testing.T) {
	s, a := unitAtUpload(t)
	original := withEXIFGPS(jpegBytes(t, photo(800, 600, 5)))
	if !bytes.Contains(original, []byte("secret-location")) {
		t.Fatal("fixture lacks its GPS payload")
	}
	resp, body := a.upload(t, "id_front", original)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	ctx := context.Background()
	row := s.db.Ent.Evidence.Query().Where(evidence.KindEQ(evidence.KindIDFront)).OnlyX(ctx)
	r, info, err := s.store.Open(ctx, row.ObjectKey)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(r)
	r.Close()
	if bytes.Contains(stored, []byte("Exif")) || bytes.Contains(stored, []byte("secret-location")) {
		t.Fatal("the stored object still carries EXIF/GPS")
	}
	if !samePixels(t, original, stored) {
		t.Fatal("stripping changed the pixels")
	}
	if info.SHA256 != row.Sha256 || !strings.Contains(body, row.Sha256) || !strings.HasPrefix(row.ObjectKey, "evidence/"+a.id+"/id_front-") || len(row.ObjectKey) < len("evidence/"+a.id+"/id_front-")+32 {
		t.Fatalf("row %+v vs object %+v", row, info)
	}
	// Uploading the kind again replaces the old object.
	if resp, body := a.upload(t, "id_front", jpegBytes(t, photo(500, 400, 6))); resp.StatusCode != 201 {
		t.Fatalf("re-upload: %d %s", resp.StatusCode, body)
	}
	if _, err := s.store.Stat(ctx, row.ObjectKey); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the replaced object is still there: %v", err)
	}
	if n := s.db.Ent.Evidence.Query().Where(evidence.KindEQ(evidence.KindIDFront)).CountX(ctx); n != 1 {
		t.Fatalf("%d rows for one kind", n)
	}
}

func TestDraftsExpireAndOrphansAreDeleted(t *testing.T) {
	s := recoveryFixture(t)
	ctx := context.Background()
	a := startUnit(t, s, nil)
	a.verifyPhone(t, "13800006666")
	if resp, _ := a.upload(t, "id_front", jpegBytes(t, photo(400, 300, 1))); resp.StatusCode != 201 {
		t.Fatal("upload")
	}
	key := s.db.Ent.Evidence.Query().OnlyX(ctx).ObjectKey
	orphan := "evidence/" + a.id + "/orphan-0123456789abcdef"
	data := []byte("left behind by a failed transaction")
	if err := s.store.Put(ctx, orphan, bytes.NewReader(data), int64(len(data)), sha256Hex(data), "image/png"); err != nil {
		t.Fatal(err)
	}
	// Within the hour nothing is touched.
	if n, err := s.recovery.DeleteOrphans(ctx); err != nil || n != 0 {
		t.Fatalf("orphans deleted too early: %d %v", n, err)
	}
	s.clock.Advance(2 * time.Hour)
	if n, err := s.recovery.DeleteOrphans(ctx); err != nil || n != 1 {
		t.Fatalf("orphans deleted: %d %v", n, err)
	}
	if _, err := s.store.Stat(ctx, key); err != nil {
		t.Fatalf("a referenced object was deleted: %v", err)
	}
	s.clock.Advance(23 * time.Hour)
	if n, err := s.recovery.ExpireDrafts(ctx); err != nil || n != 1 {
		t.Fatalf("expired drafts: %d %v", n, err)
	}
	if _, err := s.store.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an expired draft's object remains: %v", err)
	}
	if rc := s.db.Ent.RecoveryCase.GetX(ctx, mustUUID(t, a.id)); rc.Status != state.Expired {
		t.Fatalf("status %s", rc.Status)
	}
	if resp, _ := a.req(t, http.MethodGet, "", "", nil); resp.StatusCode != 404 {
		t.Fatalf("an expired draft's token still works: %d", resp.StatusCode)
	}
	// The account may start again.
	startUnit(t, s, nil)
}

func TestStatusLookupByCaseNumberAndCode(t *testing.T) {
	s, a := unitAtUpload(t)
	for i, kind := range []string{"id_front", "id_handheld", "unit_license", "authorization_letter"} {
		a.upload(t, kind, jpegBytes(t, photo(300, 300, uint64(i))))
	}
	_, body := a.req(t, http.MethodPost, "/submit", "", nil)
	number := regexp.MustCompile(`ZH\d{14}`).FindString(body)
	s.clock.Advance(61 * time.Second)
	text := s.newSMS(t, "13800006666", func() {
		resp, body := s.postJSON(t, "/api/v1/recoveries/lookup", fmt.Sprintf(`{"case_number":%q}`, strings.ToLower(number)))
		if resp.StatusCode != 202 || !strings.Contains(body, "138****6666") {
			t.Fatalf("lookup: %d %s", resp.StatusCode, body)
		}
	})
	code := sixDigits.FindStringSubmatch(text)[1]
	resp, body := s.postJSON(t, "/api/v1/recoveries/lookup/verify", fmt.Sprintf(`{"case_number":%q,"code":%q}`, number, code))
	var v struct{ ID, Token string }
	mustJSON(t, body, &v)
	if resp.StatusCode != 200 || v.ID != a.id || v.Token == "" {
		t.Fatalf("lookup verify: %d %s", resp.StatusCode, body)
	}
	b := &applicant{s: s, id: v.ID, token: v.Token}
	if resp, body := b.req(t, http.MethodGet, "", "", nil); resp.StatusCode != 200 || !strings.Contains(body, number) {
		t.Fatalf("status with the new token: %d %s", resp.StatusCode, body)
	}
	if resp, body := s.postJSON(t, "/api/v1/recoveries/lookup", `{"case_number":"ZH20990101000001"}`); resp.StatusCode != 404 {
		t.Fatalf("unknown number: %d %s", resp.StatusCode, body)
	}
}

// TestAStrangerCannotWipeAVerifiedDraft: starting a recovery for an account
// replaces a draft nobody has verified yet, but never one that passed SMS
// verification: the second starter gets 409 draft_in_progress, and the
// applicant who proved the phone carries on with their token.
func TestAStrangerCannotWipeAVerifiedDraft(t *testing.T) {
	s := recoveryFixture(t)
	abandoned := startUnit(t, s, nil)
	owner := startUnit(t, s, nil) // replaces the unverified draft
	if resp, _ := abandoned.req(t, http.MethodGet, "", "", nil); resp.StatusCode != 404 {
		t.Fatalf("the replaced unverified draft: %d", resp.StatusCode)
	}
	owner.verifyPhone(t, "13800006666")

	start := map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": unitA, "unit_name": "江门市人才发展公司"}
	resp, body := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, start))
	e := errorExtra(t, body)
	if resp.StatusCode != 409 || e["code"] != "draft_in_progress" || !strings.Contains(e["message"].(string), "通过手机短信验证") {
		t.Fatalf("a stranger starts over a verified draft: %d %s", resp.StatusCode, body)
	}
	if until, err := time.Parse(time.RFC3339, e["expires_at"].(string)); err != nil || until.Before(s.clock.Now().Add(23*time.Hour)) {
		t.Fatalf("expires_at %v: %v", e["expires_at"], err)
	}
	// The owner's draft is untouched: the token still opens it and the upload goes on.
	if resp, body := owner.req(t, http.MethodGet, "", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `"status":"draft"`) {
		t.Fatalf("the owner's draft after the stranger: %d %s", resp.StatusCode, body)
	}
	if resp, body := owner.upload(t, "id_front", jpegBytes(t, photo(400, 300, 1))); resp.StatusCode != 201 {
		t.Fatalf("the owner uploads: %d %s", resp.StatusCode, body)
	}
	if n := s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Draft)).CountX(context.Background()); n != 1 {
		t.Fatalf("%d drafts, want the owner's alone", n)
	}
	// Once it lapses, the account is free to start again (before the
	// clean-up job has expired it).
	s.clock.Advance(recovery.DraftTTL + time.Minute)
	if resp, body := s.postJSON(t, "/api/v1/recoveries", jsonBody(t, start)); resp.StatusCode != 201 {
		t.Fatalf("start after the draft lapsed: %d %s", resp.StatusCode, body)
	}
}

// An image whose structure is sound but whose pixels do not decode (a PNG
// whose compressed data is garbage under a valid CRC) passes every check
// before the decode, so its bytes are already on their way to the store
// while it is decoded. It is refused with 422, and no object is left behind
// nor any row written.
func TestUndecodableUploadLeavesNoObject(t *testing.T) {
	s, a := unitAtUpload(t)
	data := pngBytes(t, photo(400, 300, 5))
	i := bytes.Index(data, []byte("IDAT"))
	if i < 4 {
		t.Fatal("no IDAT chunk")
	}
	n := int(binary.BigEndian.Uint32(data[i-4:]))
	for j := i + 4; j < i+4+n; j++ {
		data[j] = 0xA5
	}
	binary.BigEndian.PutUint32(data[i+4+n:], crc32.ChecksumIEEE(data[i:i+4+n]))
	resp, body := a.upload(t, "id_front", data)
	if resp.StatusCode != 422 || decodeError(t, body).Error.Code != "unreadable_image" {
		t.Fatalf("undecodable PNG: %d %s", resp.StatusCode, body)
	}
	ctx := context.Background()
	for obj, err := range s.store.List(ctx, "evidence/", time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("object %s left in the store", obj.Key)
	}
	if n := s.db.Ent.Evidence.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d evidence rows", n)
	}
	// The same upload, decodable, is stored: the listing above could see
	// an object had there been one.
	if resp, body := a.upload(t, "id_front", pngBytes(t, photo(400, 300, 5))); resp.StatusCode != 201 {
		t.Fatalf("valid PNG: %d %s", resp.StatusCode, body)
	}
	objects := 0
	for _, err := range s.store.List(ctx, "evidence/", time.Time{}) {
		if err != nil {
			t.Fatal(err)
		}
		objects++
	}
	if objects != 1 {
		t.Fatalf("%d objects after one good upload", objects)
	}
}
