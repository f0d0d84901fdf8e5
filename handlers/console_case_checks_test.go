package handlers_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// submittedPersonCase walks the recovery API for the fixture's person
// 王经办 (jingban, 江门市蓬江区) and returns the case number.
func submittedPersonCase(t testing.TB, s *testServer) string {
	t.Helper()
	return personCaseOf(t, s, "王经办", zhangID, "13800006666", 40)
}

// jiangmenDesk is recoveryFixture with the unit's case and the person's
// case submitted in 江门, and the reviewer jm_reviewer of 江门 signed in.
func jiangmenDesk(t testing.TB) (s *testServer, unit, person string, pc *pagesClient) {
	t.Helper()
	s = recoveryFixture(t)
	unit = submittedCase(t, s)
	person = submittedPersonCase(t, s)
	return s, unit, person, staffClient(t, s, "jm_reviewer", "reviewer", "4407")
}

// TestUnitCaseShowsTheOperatorBesideTheHandheldPhoto: the checklist asks
// whether the person holding the card is the authorised operator, so the
// page names the operator with the masked ID number and phone on record,
// beside the handheld photo; a person case has no such block.
func TestUnitCaseShowsTheOperatorBesideTheHandheldPhoto(t *testing.T) {
	_, unit, person, pc := jiangmenDesk(t)
	_, page := pc.get(t, "/console/cases/"+unit)
	handheld := regexp.MustCompile(`(?s)<figure[^>]*id="viewer-id_handheld".*?</figure>`).FindString(page)
	masked := zhangID[:4] + "**********" + zhangID[14:]
	for _, want := range []string{"经办人</dt><dd>王经办</dd>", masked, "138****6666"} {
		if !strings.Contains(handheld, want) {
			t.Errorf("handheld photo of the unit case lacks %q", want)
		}
	}
	if strings.Contains(page, zhangID) {
		t.Error("the operator's ID number is shown in full")
	}
	_, page = pc.get(t, "/console/cases/"+person)
	if strings.Contains(page, "cw-operator") {
		t.Error("a person case shows an operator block")
	}
}

// TestReasonsFollowTheCaseKind: a person case offers no unit-only reason
// (未加盖公章, 授权函不规范) and refuses one posted anyway; a unit case offers
// them.
func TestReasonsFollowTheCaseKind(t *testing.T) {
	s, unit, person, pc := jiangmenDesk(t)
	unitOnly := []string{`value="license_no_seal"`, `value="letter_irregular"`}
	for _, number := range []string{unit, person} {
		mustClaim(t, pc, number)
		_, page := pc.get(t, "/console/cases/"+number)
		for _, v := range unitOnly {
			if offered := strings.Contains(page, v); offered != (number == unit) {
				t.Errorf("case %s (unit %v) offers %s: %v", number, number == unit, v, offered)
			}
		}
		if !strings.Contains(page, `value="unclear_image"`) {
			t.Errorf("case %s does not offer unclear_image", number)
		}
		if number == unit {
			// One claim at a time: let the unit case go back to the pool.
			resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"},
				"version": {fmt.Sprint(caseVersion(t, s, number))}, "reason": {"license_no_seal"}})
			if resp.StatusCode != 303 {
				t.Fatalf("reject the unit case for its seal: %d %.300s", resp.StatusCode, body)
			}
		}
	}
	resp, body := pc.post(t, "/console/cases/"+person+"/decision", url.Values{"outcome": {"reject"},
		"version": {fmt.Sprint(caseVersion(t, s, person))}, "reason": {"letter_irregular"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "所选原因不适用于该类申请") {
		t.Fatalf("person case rejected for the letter: %d", resp.StatusCode)
	}
}
