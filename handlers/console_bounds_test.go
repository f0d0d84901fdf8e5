package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/sms"
)

// TestARepeatedReasonIsOneReasonInOneShortSMS: the probe that sent a
// 60 054-character SMS (reason=other 5 000 times) now decides with the
// reason once and an SMS within one long message; a note over the bound is
// refused on the case page with its Chinese message.
func TestARepeatedReasonIsOneReasonInOneShortSMS(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	casePath := "/console/cases/" + number
	pc.get(t, casePath)
	if resp, body := pc.post(t, casePath+"/claim", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("claim: %d %.300s", resp.StatusCode, body)
	}
	pc.get(t, casePath)
	resp, body := pc.post(t, casePath+"/notes", url.Values{"note": {strings.Repeat("注", 1001)}})
	if resp.StatusCode != 422 || !strings.Contains(body, "不能超过1000字") {
		t.Fatalf("a long case note: %d", resp.StatusCode)
	}
	ctx := context.Background()
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
	if n := s.db.Ent.CaseEvent.Query().Where(caseevent.CaseID(rc.ID), caseevent.Type("note")).CountX(ctx); n != 0 {
		t.Fatalf("%d notes stored after the refusal", n)
	}
	reasons := make([]string, 5000)
	for i := range reasons {
		reasons[i] = "other"
	}
	text := s.newSMS(t, "13800006666", func() {
		resp, body := pc.post(t, casePath+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(caseVersion(t, s, number))},
			"reason": reasons, "message": {"手持照片中证件被手指遮挡，请重新拍摄"}})
		if resp.StatusCode != 303 {
			t.Fatalf("reject: %d %.500s", resp.StatusCode, body)
		}
	})
	other := reasonText(t, s, "other")
	if n := utf8.RuneCountInString(text); n > sms.MaxTextLen || strings.Count(text, other) != 1 {
		t.Fatalf("the SMS has %d characters and names the reason %d times: %q", n, strings.Count(text, other), text)
	}
	if rc := s.db.Ent.RecoveryCase.GetX(ctx, rc.ID); strings.Join(rc.Reasons, ",") != "other" {
		t.Fatalf("stored reasons %d", len(rc.Reasons))
	}
}
