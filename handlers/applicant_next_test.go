package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/smsmessage"
)

// caseNumberBody is 忘记申请编号's request for the fixture's unit.
func caseNumberBody(t testing.TB, cert, name string) string {
	return jsonBody(t, map[string]string{"kind": "unit", "cert_type": "uscc", "cert_number": cert, "unit_name": name})
}

func TestForgottenCaseNumberGoesByTextToThePhoneOnRecord(t *testing.T) {
	s := recoveryFixture(t)
	// Bad input and an unknown certificate get step 1's own answers.
	resp, body := s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unitA[:17]+"0", "江门市人才发展公司"))
	if e := decodeError(t, body); resp.StatusCode != 422 || e.Error.Field != "cert_number" {
		t.Fatalf("bad certificate: %d %s", resp.StatusCode, body)
	}
	resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unknownUnit(t), "江门市人才发展公司"))
	if e := decodeError(t, body); resp.StatusCode != 404 || e.Error.Code != "account_not_found" {
		t.Fatalf("unknown certificate: %d %s", resp.StatusCode, body)
	}
	// An account without a submitted case: the same answer as with one;
	// only the SMS says there is none.
	text := s.newSMS(t, "13800006666", func() {
		resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unitA, "江门市人才发展公司"))
		if resp.StatusCode != 202 || body != `{"phone_masked":"138****6666"}` {
			t.Fatalf("no case yet: %d %s", resp.StatusCode, body)
		}
	})
	if !strings.Contains(text, "没有已提交的密码找回申请") {
		t.Fatalf("SMS without a case %q", text)
	}
	// A second request within the minute is refused: the phone's quota.
	resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, unitA, "江门市人才发展公司"))
	if resp.StatusCode != 429 || decodeError(t, body).Error.Code != "rate_limited" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second request within a minute: %d %s", resp.StatusCode, body)
	}

	s.clock.Advance(61 * time.Second)
	_, number := submittedCaseOf(t, s) // its code is one more SMS of the quota
	s.clock.Advance(61 * time.Second)
	// The unit name typed differently still finds it, as step 1 does.
	text = s.newSMS(t, "13800006666", func() {
		resp, body = s.postJSON(t, "/api/v1/recoveries/case-number", caseNumberBody(t, strings.ToLower(unitA), "人才发展公司"))
		if resp.StatusCode != 202 || body != `{"phone_masked":"138****6666"}` {
			t.Fatalf("with a case: %d %s", resp.StatusCode, body)
		}
	})
	if !strings.Contains(text, "申请编号为"+number) || !strings.Contains(text, "待审核") {
		t.Fatalf("SMS %q lacks %s", text, number)
	}
	ctx := context.Background()
	if n := s.db.Ent.SMSMessage.Query().Where(smsmessage.Purpose("case_number")).CountX(ctx); n != 2 {
		t.Errorf("%d case-number messages, want 2", n)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("case_number.sent"), auditevent.ObjectID("jm_talent")).CountX(ctx); n != 2 {
		t.Errorf("%d audit entries of the sends, want 2", n)
	}
}

func TestANewApplicationAfterARejectionStartsFromTheCase(t *testing.T) {
	s := recoveryFixture(t)
	a, number := submittedCaseOf(t, s)
	if resp, body := a.req(t, http.MethodGet, "/again", "", nil); resp.StatusCode != 409 || decodeError(t, body).Error.Code != "wrong_step" {
		t.Fatalf("before a decision: %d %s", resp.StatusCode, body)
	}
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	v := claimed(t, s, pc, number)
	if resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)},
		"reason": {"unclear_image"}}); resp.StatusCode != 303 {
		t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
	}
	resp, body := a.req(t, http.MethodGet, "/again", "", nil)
	want := fmt.Sprintf(`{"kind":"unit","username":"jm_talnet","cert_type":"uscc","cert_number":%q,"unit_name":"江门市人才发展公司"}`, unitA)
	if resp.StatusCode != 200 || body != want || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("after the rejection: %d %s", resp.StatusCode, body)
	}
	a.wantNotFoundWithAnotherToken(t, http.MethodGet, "/again")
}

// TestTheSizeRefusalSaysHowToShrinkAPhoto: where the browser could not
// shrink a photo (no JavaScript, an API client), the 413 tells the person
// how to make it smaller: over the limit by a byte, and far over it (refused
// before the body is read).
func TestTheSizeRefusalSaysHowToShrinkAPhoto(t *testing.T) {
	s, a := unitAtUpload(t)
	says := func(what string, status int, body string) {
		t.Helper()
		e := decodeError(t, body)
		if status != 413 || e.Error.Code != "file_too_large" || !strings.HasPrefix(e.Error.Message, "文件大小不能超过2M。") ||
			!strings.Contains(e.Error.Message, "相机设置中把照片尺寸（分辨率）调低") || !strings.Contains(e.Error.Message, "不勾选“原图”") {
			t.Errorf("%s: %d %s", what, status, body)
		}
	}
	resp, body := a.upload(t, "id_front", pngOfSize(t, 2<<20+1))
	says("one byte over", resp.StatusCode, body)
	// 3 MB announced: answered before the body is sent.
	status, body := a.announceUpload(t, s.listen(t), "id_front", 3<<20)
	says("3 MB", status, body)
}
