package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"

	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// TestBulkReassignAndReleaseBySupervisorsOfTheRegion: a supervisor of 江门
// selects cases in the queue and reassigns them to a reviewer of 江门 after
// one confirmation (the first post only shows what will happen), with one
// case event and one audit entry per case; releases a case to 待审核 the
// same way. A selection with a case outside the supervisor's regions, or a
// target who may not decide there, is refused whole and changes nothing; a
// reviewer may not act in bulk; a post without the CSRF token is refused.
func TestBulkReassignAndReleaseBySupervisorsOfTheRegion(t *testing.T) {
	testenv.ForEachDB(t, bulkInRegion)
}

func bulkInRegion(t *testing.T, d *db.DB) {
	s := recoveryFixtureOn(t, d)
	unit := submittedCase(t, s)
	person := submittedPersonCase(t, s)
	s.person(t, "gz_person", "Abcd2468!x", "李广州", liID, "13800001234")
	guangzhou := personCaseOf(t, s, "李广州", liID, "13800001234", 90)
	ctx := context.Background()

	holder := staffClient(t, s, "jm_holder", "reviewer", "4407")
	claim(t, holder, unit)
	staffClient(t, s, "jm_target", "reviewer", "4407")
	staffClient(t, s, "gz_reviewer", "reviewer", "4401")
	sup := staffClient(t, s, "jm_super", "supervisor", "4407")
	target := staffID(t, s, "jm_target")

	type snap struct {
		status  state.Status
		by      *int
		version int
	}
	get := func(number string) snap {
		rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
		return snap{rc.Status, rc.ClaimedBy, rc.Version}
	}
	events := func(number, typ string) int {
		return s.db.Ent.CaseEvent.Query().Where(caseevent.Type(typ), caseevent.HasCaseWith(recoverycase.CaseNumber(number))).CountX(ctx)
	}
	audits := func(number, action string) int {
		return s.db.Ent.AuditEvent.Query().Where(auditevent.Action(action), auditevent.ObjectID(number)).CountX(ctx)
	}

	// The queue offers supervisors the checkboxes; reviewers do not get them.
	_, queue := sup.get(t, "/console/cases?tab=pending")
	if !strings.Contains(queue, `id="bulk-all"`) || !strings.Contains(queue, `name="number" value="`+person+`" form="bulk-form"`) {
		t.Fatal("the supervisor's queue has no bulk selection")
	}
	if _, q := holder.get(t, "/console/cases"); strings.Contains(q, `id="bulk-form"`) {
		t.Error("a reviewer's queue offers bulk actions")
	}
	if resp, _ := holder.post(t, "/console/cases/bulk", url.Values{"number": {person}, "action": {"release"}}); resp.StatusCode != 403 {
		t.Errorf("a reviewer's bulk action: %d, want 403", resp.StatusCode)
	}
	// Without the CSRF token: refused.
	req := httptest.NewRequest(http.MethodPost, "/console/cases/bulk", strings.NewReader(url.Values{"number": {person}, "action": {"release"}, "confirm": {"1"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, _ := sup.send(t, req); resp.StatusCode != 403 {
		t.Errorf("bulk without CSRF: %d, want 403", resp.StatusCode)
	}

	before := map[string]snap{unit: get(unit), person: get(person), guangzhou: get(guangzhou)}
	unchanged := func(what string) {
		t.Helper()
		for n, b := range before {
			if g := get(n); g.version != b.version {
				t.Errorf("%s changed %s: %+v → %+v", what, n, b, g)
			}
		}
	}
	form := url.Values{"number": {unit, person}, "action": {"reassign"}, "to": {"jm_target"}, "back": {"/console/cases?tab=pending&kind=unit"}}
	resp, page := sup.post(t, "/console/cases/bulk", form)
	if resp.StatusCode != 200 || !strings.Contains(page, "将 2 件案件改派给 jm_target") || !strings.Contains(page, `id="bulk-confirm"`) {
		t.Fatalf("the confirmation step: %d %.400s", resp.StatusCode, page)
	}
	unchanged("the confirmation step")

	// A case outside the supervisor's regions refuses the whole selection.
	out := url.Values{"number": {person, guangzhou}, "action": {"reassign"}, "to": {"jm_target"}, "confirm": {"1"}}
	if resp, page := sup.post(t, "/console/cases/bulk", out); resp.StatusCode != 422 || !strings.Contains(page, "未作任何改动") || strings.Contains(page, guangzhou) {
		t.Errorf("a selection with a case outside the region: %d %.300s", resp.StatusCode, page)
	}
	out.Set("action", "release")
	if resp, _ := sup.post(t, "/console/cases/bulk", out); resp.StatusCode != 422 {
		t.Errorf("a release with a case outside the region: %d", resp.StatusCode)
	}
	// A target who may not decide cases of 江门.
	if resp, _ := sup.post(t, "/console/cases/bulk", url.Values{"number": {person}, "action": {"reassign"}, "to": {"gz_reviewer"}, "confirm": {"1"}}); resp.StatusCode != 422 {
		t.Errorf("reassign to a reviewer of another city: %d", resp.StatusCode)
	}
	unchanged("a refused bulk action")

	form.Set("confirm", "1")
	resp, _ = sup.post(t, "/console/cases/bulk", form)
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/cases?tab=pending&kind=unit" {
		t.Fatalf("confirmed: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, n := range []string{unit, person} {
		if g := get(n); g.status != state.InReview || g.by == nil || *g.by != target {
			t.Errorf("%s after the bulk reassignment: %+v", n, g)
		}
		if e, a := events(n, "reassigned"), audits(n, "recovery.reassigned"); e != 1 || a != 1 {
			t.Errorf("%s: %d reassigned events, %d audit entries; want one each", n, e, a)
		}
	}
	if _, q := sup.get(t, resp.Header.Get("Location")); !strings.Contains(q, "已将 2 件案件改派给 jm_target") {
		t.Error("the queue does not confirm the bulk reassignment")
	}

	// Release: back to 待审核, nobody's claim.
	resp, _ = sup.post(t, "/console/cases/bulk", url.Values{"number": {unit}, "action": {"release"}, "confirm": {"1"}})
	if resp.StatusCode != 303 {
		t.Fatalf("release: %d", resp.StatusCode)
	}
	if g := get(unit); g.status != state.Submitted || g.by != nil {
		t.Errorf("released case: %+v", g)
	}
	if e, a := events(unit, "released"), audits(unit, "recovery.released"); e != 1 || a != 1 {
		t.Errorf("release: %d events, %d audit entries; want one each", e, a)
	}
	if g := get(guangzhou); g.version != before[guangzhou].version {
		t.Error("the case outside the region changed")
	}
}
