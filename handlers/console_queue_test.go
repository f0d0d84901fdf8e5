package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// queueRow is the queue's table row of one case, or "".
func queueRow(body, number string) string {
	m := regexp.MustCompile(`(?s)<tr[^>]*>\s*<td class="case-no"><a href="/console/cases/` + number + `">.*?</tr>`).FindString(body)
	return m
}

// TestQueueBadgeAgreesWithTheCasePage: a case the reviewer holds is 我认领
// in the queue and on its page; once returned and resubmitted it is
// claimed by no one in both places (it still records who reviewed it).
func TestQueueBadgeAgreesWithTheCasePage(t *testing.T) {
	s := recoveryFixture(t)
	a, number := submittedCaseOf(t, s)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	pc.get(t, "/console/cases/"+number)
	if resp, body := pc.post(t, "/console/cases/"+number+"/claim", url.Values{}); resp.StatusCode != 303 {
		t.Fatalf("claim: %d %.300s", resp.StatusCode, body)
	}
	_, queue := pc.get(t, "/console/cases?tab=mine")
	_, page := pc.get(t, "/console/cases/"+number)
	if row := queueRow(queue, number); !strings.Contains(row, "我认领") || !strings.Contains(page, "（我）认领") {
		t.Fatalf("claimed: queue row %q, page mine=%v", row, strings.Contains(page, "（我）认领"))
	}
	resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"return"},
		"version": {fmt.Sprint(caseVersion(t, s, number))}, "return_kind": {"unit_license"}, "note": {"公章不清晰"}})
	if resp.StatusCode != 303 {
		t.Fatalf("return: %d %.300s", resp.StatusCode, body)
	}
	if resp, body := a.upload(t, "unit_license", jpegBytes(t, photo(400, 300, 99))); resp.StatusCode != 201 {
		t.Fatalf("upload again: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.req(t, http.MethodPost, "/submit", "", nil); resp.StatusCode != 200 {
		t.Fatalf("resubmit: %d %s", resp.StatusCode, body)
	}
	_, queue = pc.get(t, "/console/cases?tab=pending")
	_, page = pc.get(t, "/console/cases/"+number)
	row := queueRow(queue, number)
	if row == "" || strings.Contains(row, "我认领") {
		t.Fatalf("resubmitted case in 待审核: %q", row)
	}
	if !strings.Contains(page, "未认领") || strings.Contains(page, "（我）认领") {
		t.Fatalf("resubmitted case page does not read 未认领")
	}
}

var cityOption = regexp.MustCompile(`<option value="(\d{4})"[^>]*>([^<]+)</option>`)

// TestQueueCityFilterListsTheViewersCities: the 地市 filter offers the
// cities of the viewer's regions only.
func TestQueueCityFilterListsTheViewersCities(t *testing.T) {
	s := recoveryFixture(t)
	for _, tc := range []struct {
		username, region string
		want             int
		first            string
	}{
		{"jm_reviewer", "4407", 1, "江门市"},
		{"pj_reviewer", "440703", 1, "江门市"},
		{"gd_reviewer", "44", 21, "广州市"},
	} {
		pc := staffClient(t, s, tc.username, "reviewer", tc.region)
		resp, body := pc.get(t, "/console/cases")
		got := cityOption.FindAllStringSubmatch(body, -1)
		if resp.StatusCode != 200 || len(got) != tc.want || got[0][2] != tc.first {
			t.Errorf("%s (%s): %d, %d cities %v", tc.username, tc.region, resp.StatusCode, len(got), got)
		}
	}
}

// TestExactCaseNumberSearchOpensTheCase: a whole case number (any case)
// opens the case; a partial one lists matches; a case outside the viewer's
// regions is not disclosed (an empty list, no redirect).
func TestExactCaseNumberSearchOpensTheCase(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	for _, q := range []string{number, " " + strings.ToLower(number) + " "} {
		resp, body := pc.get(t, "/console/cases?q="+url.QueryEscape(q))
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/cases/"+number {
			t.Fatalf("search %q: %d to %q %.200s", q, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	resp, body := pc.get(t, "/console/cases?q="+number[:10])
	if resp.StatusCode != 200 || queueRow(body, number) == "" {
		t.Fatalf("prefix search: %d, row %q", resp.StatusCode, queueRow(body, number))
	}
	gz := staffClient(t, s, "gz_reviewer", "reviewer", "4401")
	resp, body = gz.get(t, "/console/cases?q="+number)
	if resp.StatusCode != 200 || queueRow(body, number) != "" || !strings.Contains(body, "没有符合筛选条件的案件") {
		t.Fatalf("search outside the region: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
