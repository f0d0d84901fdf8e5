package handlers

// The done-when test of "one vocabulary" (issue 16): every event type,
// status, outcome, verdict, QA action, risk flag, role, kind, SLA state and
// closing reason is rendered through the console's templates, and the
// visible text may not contain any of the codes — only their Chinese labels.
// The audit page's half (every action and detail key) is in
// vocab_audit_test.go, through a real server and database.

import (
	"bytes"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
	"recoverydesk/views"
)

// RawCodes lists the codes of the vocabulary (and of extra, such as the
// reason catalog's) that page shows as text; for the audit test in
// handlers_test.
func RawCodes(page string, extra ...string) []string {
	codes := vocabCodes()
	for _, c := range extra {
		codes[c] = true
	}
	return rawCodes(page, codes)
}

// vocabCodes is every code of the vocabulary: none may show as text.
func vocabCodes() map[string]bool {
	m := map[string]bool{}
	add := func(list []string) {
		for _, c := range list {
			m[c] = true
		}
	}
	add(listOf(state.All))
	add(listOf(vocab.EventTypes))
	add(listOf(vocab.Outcomes))
	add(listOf(vocab.SecondVerdicts))
	add(listOf(vocab.Verdicts))
	add(listOf(vocab.QAActions))
	add(listOf(vocab.QAWhys))
	add(listOf(vocab.Flags))
	add(listOf(vocab.Roles))
	add(listOf(vocab.CertTypes))
	add(listOf(vocab.EvidenceKinds))
	add(listOf(vocab.ActorKinds))
	add(listOf(vocab.ObjectTypes))
	add(listOf(vocab.Purposes))
	add(listOf(vocab.CloseReasons))
	add(listOf(vocab.SLAs))
	add(listOf(vocab.CaseKinds))
	add(listOf(vocab.DetailKeys))
	add(listOf(vocab.Actions()))
	return m
}

func listOf[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

var (
	invisible  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)>|<!--.*?-->`)
	tag        = regexp.MustCompile(`(?s)<[^>]*>`)
	identifier = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*`)
)

// visibleText is what a person reads of a page: no markup, no attributes,
// no scripts.
func visibleText(page string) string {
	return html.UnescapeString(tag.ReplaceAllString(invisible.ReplaceAllString(page, " "), " "))
}

// rawCodes lists the codes of the vocabulary that a page shows as text.
func rawCodes(page string, codes map[string]bool) []string {
	var found []string
	for _, id := range identifier.FindAllString(visibleText(page), -1) {
		if codes[id] && !slices.Contains(found, id) {
			found = append(found, id)
		}
	}
	return found
}

// TestRawCodesAreCaught makes sure the checker itself can fail.
func TestRawCodesAreCaught(t *testing.T) {
	got := rawCodes(`<p class="status-approved" title="reassigned">改派 <b>reassigned</b>, recovery.decided</p><script>var x = "draft"</script>`, vocabCodes())
	if !slices.Equal(got, []string{"reassigned", "recovery.decided"}) {
		t.Fatalf("found %v", got)
	}
}

func TestTheConsoleShowsNoRawCode(t *testing.T) {
	codes := vocabCodes()
	check := func(what, out string) {
		t.Helper()
		if found := rawCodes(out, codes); len(found) > 0 {
			t.Errorf("%s shows raw codes %v", what, found)
		}
	}

	// The case page: one history entry per event type, their payloads
	// cycling through every status, outcome, verdict, QA action, flag,
	// closing reason and kind; applicant, system and staff actors.
	v := sampleCase()
	v.Events = nil
	actors := []string{"applicant", "system", "staff:jm_reviewer"}
	at := cstTime(2025, 10, 9, 10, 0)
	for i, e := range vocab.EventTypes {
		from, to := state.All[i%len(state.All)], state.All[(i+1)%len(state.All)]
		after := map[string]any{
			"status":       string(to),
			"outcome":      string(vocab.Outcomes[i%len(vocab.Outcomes)]),
			"risk_flags":   []any{string(vocab.Flags[i%len(vocab.Flags)])},
			"verdict":      string(vocab.Verdicts[i%len(vocab.Verdicts)]),
			"action":       string(vocab.QAActions[i%len(vocab.QAActions)]),
			"reason":       string(vocab.CloseReasons[i%len(vocab.CloseReasons)]),
			"return_kinds": []any{string(vocab.EvidenceKinds[i%len(vocab.EvidenceKinds)])},
		}
		if i%2 == 0 {
			after["kind"] = string(vocab.CaseKinds[i%len(vocab.CaseKinds)])
		} else {
			after["kind"] = string(vocab.EvidenceKinds[i%len(vocab.EvidenceKinds)])
		}
		v.Events = append(v.Events, eventView{At: at.Add(time.Duration(i) * time.Minute), Type: string(e),
			Actor: actors[i%len(actors)], Before: map[string]any{"status": string(from)}, After: after})
	}
	for _, f := range vocab.Flags {
		v.W.Risk = append(v.W.Risk, recovery.RiskFlag{Code: string(f), Label: f.Label()})
	}
	out := renderConsoleAs(t, "console/case", Page{Nav: "cases", Data: v}, listOf(vocab.Roles))
	for _, e := range vocab.EventTypes {
		wantAll(t, "case history", out, `<strong class="cw-event-type">`+e.Label()+`</strong>`)
	}
	for _, r := range vocab.Roles {
		wantAll(t, "console frame", out, `<span class="role-tag">`+r.Label()+`</span>`)
	}
	check("the case page", out)

	// Every decided outcome in the result box.
	for _, o := range vocab.Outcomes {
		d := sampleCase()
		d.W.Case.Status, d.W.Case.Outcome, d.CanDecide = state.Approved, ptr(recoverycase.Outcome(o)), false
		d.W.Case.DecidedAt, d.W.ClaimedBy, d.W.ClaimedByMe = ptr(at), "", false
		out := renderConsoleAs(t, "console/case", Page{Nav: "cases", Data: d}, nil)
		wantAll(t, "decided "+string(o), out, "审核结果</dt><dd>"+o.Label())
		check("the decided case page", out)
	}

	// The queue: a row in every status, of both kinds, in every SLA state.
	q := sampleQueue()
	q.Rows = nil
	for i, st := range state.All {
		q.Rows = append(q.Rows, recovery.QueueRow{CaseNumber: "ZH2025093000000" + string(rune('0'+i)),
			Kind: string(vocab.CaseKinds[i%2]), Name: "张*", Status: st, SubmittedAt: at,
			SLA: string(vocab.SLAs[i%len(vocab.SLAs)])})
	}
	out = renderConsoleAs(t, "console/cases", Page{Nav: "cases", Data: q}, nil)
	for _, st := range state.All {
		wantAll(t, "queue", out, `<span class="badge status-`+string(st)+`">`+vocab.StatusLabel(st)+`</span>`)
	}
	check("the queue", out)

	// The QA list: every outcome, sampled and flagged.
	qa := qaView{}
	for i, o := range vocab.Outcomes {
		it := recovery.QAItem{ID: i + 1, Case: q.Rows[i], Outcome: string(o), DecidedBy: "李审核", DecidedAt: at,
			Why: string(vocab.QAWhys[i%len(vocab.QAWhys)])}
		if it.Why == string(vocab.QAFlagged) {
			it.Flags = recovery.RiskFlags(listOf(vocab.Flags))
		}
		qa.Items = append(qa.Items, it)
	}
	out = renderConsoleAs(t, "console/qa", Page{Nav: "qa", Data: qa}, []string{string(vocab.RoleSupervisor)})
	for _, o := range vocab.Outcomes {
		wantAll(t, "qa", out, o.Label())
	}
	check("the QA list", out)
}

// renderConsoleAs is renderConsole for a staff member with the given roles.
func renderConsoleAs(t *testing.T, name string, p Page, roles []string) string {
	t.Helper()
	if roles == nil {
		roles = []string{string(vocab.RoleReviewer)}
	}
	e := views.Engine()
	if err := e.Load(); err != nil {
		t.Fatalf("load templates: %v", err)
	}
	p.CSRFToken = viewToken
	p.Staff = &StaffView{Username: "jm_reviewer", Name: "李审核", Roles: roles}
	var buf bytes.Buffer
	if err := e.Render(&buf, name, p, layoutConsole); err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	out := buf.String()
	if strings.Contains(out, "<no value>") {
		t.Errorf("%s: <no value>", name)
	}
	return out
}
