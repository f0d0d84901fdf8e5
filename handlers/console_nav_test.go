package handlers_test

import (
	"context"
	"strings"
	"testing"

	"recoverydesk/internal/rules"
)

// TestEachRoleLandsWhereItWorksAndSeesOnlyItsPages: after signing in, a
// reviewer lands on the queue and an administrator on the staff list; the
// navigation shows only the pages the person's roles open.
func TestEachRoleLandsWhereItWorksAndSeesOnlyItsPages(t *testing.T) {
	s := newTestServer(t)
	nav := map[string]string{"/console/cases": "审核队列", "/console/qa": "质检", "/console/dashboard": "统计看板",
		"/console/audit": "审计日志", "/console/staff": "人员管理", "/console/reasons": "原因代码"}
	cases := []struct {
		username, role, region, landing string
		links                           []string
	}{
		{"jm_reviewer", "reviewer", "4407", "/console/cases", []string{"/console/cases"}},
		{"gd_super", "supervisor", "44", "/console/cases", []string{"/console/cases", "/console/qa", "/console/dashboard", "/console/audit"}},
		{"gd_admin", "admin", "44", "/console/staff", []string{"/console/dashboard", "/console/audit", "/console/staff", "/console/reasons"}},
	}
	for _, tc := range cases {
		t.Run(tc.role, func(t *testing.T) {
			s.staffUser(t, tc.username, "Staff#2468go", tc.username, tc.role, tc.region)
			pc := newPagesClient(t, s)
			if status, loc, body := consoleSignIn(t, pc, tc.username, "Staff#2468go", ""); status != 303 || loc != tc.landing {
				t.Fatalf("sign-in: %d → %q, want %s\n%.300s", status, loc, tc.landing, body)
			}
			resp, page := pc.get(t, tc.landing)
			if resp.StatusCode != 200 {
				t.Fatalf("landing %s: %d", tc.landing, resp.StatusCode)
			}
			navHTML := page[strings.Index(page, `class="console-nav"`):]
			navHTML = navHTML[:strings.Index(navHTML, "</nav>")]
			for path, label := range nav {
				want := false
				for _, l := range tc.links {
					want = want || l == path
				}
				if has := strings.Contains(navHTML, `href="`+path+`"`) && strings.Contains(navHTML, label); has != want {
					t.Errorf("%s: link %s (%s) shown %v, want %v", tc.role, path, label, has, want)
				}
			}
			// /console sends them to the same place.
			if resp, _ := pc.get(t, "/console"); resp.StatusCode != 303 || resp.Header.Get("Location") != tc.landing {
				t.Errorf("/console: %d → %q", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
}

// TestStaffWithoutARoleAreToldSo: a new staff member whose roles are not yet
// granted gets an explanation, not a 403.
func TestStaffWithoutARoleAreToldSo(t *testing.T) {
	s := newTestServer(t)
	s.staffUser(t, "new_hire", "Staff#2468go", "新同事", "reviewer", "4407")
	if _, err := s.enforcer.RevokeAll(context.Background(), "staff:"+rules.NormalizeUsername("new_hire")); err != nil {
		t.Fatal(err)
	}
	pc := newPagesClient(t, s)
	if status, loc, _ := consoleSignIn(t, pc, "new_hire", "Staff#2468go", ""); status != 303 || loc != "/console" {
		t.Fatalf("sign-in: %d → %q", status, loc)
	}
	resp, page := pc.get(t, "/console")
	if resp.StatusCode != 200 || !strings.Contains(page, "尚未被授予任何角色") || strings.Contains(page, `href="/console/cases"`) {
		t.Fatalf("%d %.500s", resp.StatusCode, page)
	}
}
