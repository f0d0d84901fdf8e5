package handlers_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
)

// TestLegalHoldOnTheCasePage: a supervisor places a hold with a reason (a
// missing reason is refused on the page), the page shows it to everyone,
// and the supervisor lifts it; a reviewer is shown no hold form.
func TestLegalHoldOnTheCasePage(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	c := "/console/cases/" + number
	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")

	if _, page := rev.get(t, c); strings.Contains(page, `action="`+c+`/hold"`) {
		t.Fatal("a reviewer is offered the hold form")
	}
	if _, page := sup.get(t, c); !strings.Contains(page, `action="`+c+`/hold"`) {
		t.Fatal("the supervisor is not offered the hold form")
	}
	resp, page := sup.post(t, c+"/hold", url.Values{"hold_reason": {"  "}})
	if resp.StatusCode != 422 || !strings.Contains(page, "请填写保全原因") {
		t.Fatalf("a hold without a reason: %d %.300s", resp.StatusCode, page)
	}
	if resp, page := sup.post(t, c+"/hold", url.Values{"hold_reason": {"涉诉，法院调取材料"}}); resp.StatusCode != 303 {
		t.Fatalf("place hold: %d %.300s", resp.StatusCode, page)
	}
	if _, page := rev.get(t, c); !strings.Contains(page, "本案件已保全") || !strings.Contains(page, "涉诉，法院调取材料") ||
		strings.Contains(page, c+"/hold/lift") {
		t.Fatalf("the reviewer's page does not show the hold (or offers lifting it)")
	}
	if _, page := rev.get(t, c); !strings.Contains(page, `cw-ev-hold_placed`) || !strings.Contains(page, "案件保全") {
		t.Fatalf("the history does not name the hold")
	}
	if resp, page := sup.post(t, c+"/hold/lift", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("lift hold: %d %.300s", resp.StatusCode, page)
	}
	if resp, page := sup.post(t, c+"/hold/lift", url.Values{}); resp.StatusCode != 409 || !strings.Contains(page, "该案件未处于保全状态") {
		t.Fatalf("lifting a hold that is not there: %d %.300s", resp.StatusCode, page)
	}
}

// TestDestroyedEvidenceIsSaidSoOnThePageAndAnswers410: once the purge has
// destroyed a case's images, the case page says when instead of showing
// them, and the image route answers 410 with the same words.
func TestDestroyedEvidenceIsSaidSoOnThePageAndAnswers410(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	c := "/console/cases/" + number
	ctx := context.Background()
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
	at := time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC) // 18:00 in Shanghai
	s.db.Ent.Evidence.Update().Where(evidence.CaseID(rc.ID)).SetDestroyedAt(at).ExecX(ctx)

	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	_, page := rev.get(t, c)
	if !strings.Contains(page, "证件材料已于 2026-09-30 18:00") || !strings.Contains(page, "按保存期限销毁") || strings.Contains(page, `src="`+c+`/evidence/`) {
		t.Fatalf("the case page of destroyed evidence:\n%.2000s", page[strings.Index(page, `id="evidence"`):])
	}
	resp, body := rev.get(t, c+"/evidence/id_front")
	if resp.StatusCode != 410 || !strings.Contains(body, "该证件材料已于 2026-09-30 按保存期限销毁") {
		t.Fatalf("a destroyed image: %d %.500s", resp.StatusCode, body)
	}
}
