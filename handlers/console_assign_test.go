package handlers_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
)

// tabCount reads a queue tab's label and count from the page.
func tabCount(body, key string) (label, count string) {
	m := regexp.MustCompile(`tab=` + key + `[^"]*"[^>]*>([^<]+)<span class="tab-count">([^<]+)</span>`).FindStringSubmatch(body)
	if m == nil {
		return "", ""
	}
	return m[1], m[2]
}

// With RD_ASSIGNMENT=pull (as before auto-assignment) a submitted case waits
// unclaimed in 待审核 until a reviewer claims it; there is no duty toggle.
func TestAssignmentPullKeepsTheCaseInThePendingQueue(t *testing.T) {
	s := recoveryFixture(t)
	rv := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	number := submittedCase(t, s)
	_, queue := rv.get(t, "/console/cases")
	if label, count := tabCount(queue, "pending"); label != "待审核" || count != "1" || !strings.Contains(queue, number) {
		t.Fatalf("pending tab %q %q; case listed %v", label, count, strings.Contains(queue, number))
	}
	if _, count := tabCount(queue, "mine"); count != "0" {
		t.Fatalf("我的 holds %s cases under pull", count)
	}
	if strings.Contains(queue, `id="duty-toggle"`) {
		t.Fatal("the 暂停接单 toggle shows under pull")
	}
	_, page := rv.get(t, "/console/cases/"+number)
	if !strings.Contains(page, `<span class="cw-claim-state">未认领</span>`) {
		t.Fatal("the case page does not say 未认领")
	}
}

// With RD_ASSIGNMENT=auto a case submitted while a reviewer of its region is
// on duty is theirs at once (我的, claimed on its page, opened by 下一件); one
// submitted while nobody is on duty waits under 待分配 and is assigned when a
// reviewer signs in; a paused reviewer gets nothing new.
func TestAssignmentAutoGivesTheCaseToTheReviewerOnDuty(t *testing.T) {
	t.Run("submitted while on duty", func(t *testing.T) {
		s := recoveryFixture(t, assignAuto)
		rv := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
		staffClient(t, s, "gz_reviewer", "reviewer", "4401") // another city: never assigned a 江门 case
		_, queue := rv.get(t, "/console/cases")
		if !strings.Contains(queue, `id="duty-state">`+vocab.DutyOn.Label()) || !strings.Contains(queue, `id="duty-toggle">暂停接单`) {
			t.Fatal("the header does not show 接单中 with the 暂停接单 toggle")
		}
		number := submittedCase(t, s)
		_, queue = rv.get(t, "/console/cases")
		if label, count := tabCount(queue, "pending"); label != "待分配" || count != "0" {
			t.Fatalf("待分配 tab %q %q", label, count)
		}
		if _, count := tabCount(queue, "mine"); count != "1" {
			t.Fatalf("我的 holds %s cases, want the assigned one", count)
		}
		_, page := rv.get(t, "/console/cases/"+number)
		if !strings.Contains(page, "由 jm_reviewer（我）认领") {
			t.Fatal("the case page does not show the assignment as the reviewer's claim")
		}
		resp, _ := rv.get(t, "/console/cases/next")
		if loc := resp.Header.Get("Location"); loc != "/console/cases/"+number {
			t.Fatalf("下一件 opens %q, want the assigned case", loc)
		}
		// Claiming it again is a no-op that shows the case.
		before := caseVersion(t, s, number)
		if resp, _ := rv.post(t, "/console/cases/"+number+"/claim", url.Values{}); resp.StatusCode != 303 || caseVersion(t, s, number) != before {
			t.Fatalf("claiming one's own assigned case: %d, version %d→%d", resp.StatusCode, before, caseVersion(t, s, number))
		}
		// Pausing is audited and shown in the header.
		if resp, body := rv.post(t, "/console/duty", url.Values{"paused": {"1"}}); resp.StatusCode != 303 {
			t.Fatalf("pause: %d %.300s", resp.StatusCode, body)
		}
		_, queue = rv.get(t, "/console/cases")
		if !strings.Contains(queue, `id="duty-state">`+vocab.DutyPaused.Label()) || !strings.Contains(queue, `id="duty-toggle">恢复接单`) {
			t.Fatal("the header does not show 暂停接单 with the 恢复接单 toggle")
		}
		if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action(string(vocab.ActionStaffPaused)), auditevent.Actor("jm_reviewer")).CountX(context.Background()); n != 1 {
			t.Fatalf("%d audit entries for the pause", n)
		}
	})
	t.Run("submitted while nobody is on duty", func(t *testing.T) {
		s := recoveryFixture(t, assignAuto)
		number := submittedCase(t, s)
		rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(context.Background())
		if rc.Status != state.Submitted || rc.ClaimedBy != nil {
			t.Fatalf("with nobody on duty the case is %s, claimed by %v", rc.Status, rc.ClaimedBy)
		}
		rv := staffClient(t, s, "jm_reviewer", "reviewer", "4407") // signing in puts them on duty
		_, queue := rv.get(t, "/console/cases?tab=mine")
		if _, count := tabCount(queue, "mine"); count != "1" || !strings.Contains(queue, number) {
			t.Fatalf("after signing in 我的 holds %s cases", count)
		}
	})
}

// The workload page shows each reviewer's duty, load and cap to the
// supervisor, who sets a cap (audited).
func TestWorkloadPageShowsLoadsAndSetsACap(t *testing.T) {
	s := recoveryFixture(t, assignAuto)
	staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	sup := staffClient(t, s, "jm_super", "supervisor", "4407")
	submittedCase(t, s)
	_, page := sup.get(t, "/console/workload")
	row := regexp.MustCompile(`(?s)<tr data-username="jm_reviewer">.*?</tr>`).FindString(page)
	if !strings.Contains(row, vocab.DutyOn.Label()) || !strings.Contains(row, `<td class="num load">1</td>`) || !strings.Contains(row, `value="10"`) {
		t.Fatalf("workload row: %s", row)
	}
	if resp, body := sup.post(t, "/console/workload/jm_reviewer/cap", url.Values{"cap": {"500"}}); resp.StatusCode != 422 {
		t.Fatalf("cap 500: %d %.300s", resp.StatusCode, body)
	}
	if resp, _ := sup.post(t, "/console/workload/jm_reviewer/cap", url.Values{"cap": {"4"}}); resp.StatusCode != 303 {
		t.Fatalf("cap 4: %d", resp.StatusCode)
	}
	_, page = sup.get(t, "/console/workload")
	if row := regexp.MustCompile(`(?s)<tr data-username="jm_reviewer">.*?</tr>`).FindString(page); !strings.Contains(row, `value="4"`) {
		t.Fatalf("after setting the cap: %s", row)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action(string(vocab.ActionStaffCapSet)), auditevent.ObjectID("jm_reviewer")).CountX(context.Background()); n != 1 {
		t.Fatalf("%d audit entries for the cap", n)
	}
}
