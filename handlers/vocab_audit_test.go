package handlers_test

import (
	"context"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/handlers"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
)

// detailSample is a value of key as the product records it, varied by i so
// that every code of the key's vocabulary appears somewhere.
func detailSample(a vocab.Action, key vocab.DetailKey, i int) any {
	pick := func(n int) int { return i % n }
	switch key {
	case vocab.DetailStatus:
		return string(state.All[pick(len(state.All))])
	case vocab.DetailOutcome:
		return string(vocab.Outcomes[pick(len(vocab.Outcomes))])
	case vocab.DetailReasons:
		return []any{"unclear_image", "other"}
	case vocab.DetailReturnKinds:
		return []any{string(vocab.EvidenceIDFront), string(vocab.EvidenceAuthorization)}
	case vocab.DetailKind:
		if i%2 == 0 {
			return string(vocab.CaseKinds[pick(2)])
		}
		return string(vocab.EvidenceKinds[pick(len(vocab.EvidenceKinds))])
	case vocab.DetailRiskFlags:
		var out []any
		for _, f := range vocab.Flags {
			out = append(out, string(f))
		}
		return out
	case vocab.DetailVerdict:
		return string(vocab.Verdicts[pick(len(vocab.Verdicts))])
	case vocab.DetailAction:
		if a == vocab.ActionAuditExported {
			return []string{"recovery.*", string(vocab.EventDecided.Action())}[pick(2)]
		}
		return string(vocab.QAActions[pick(len(vocab.QAActions))])
	case vocab.DetailReason:
		return string(vocab.CloseReasons[pick(len(vocab.CloseReasons))])
	case vocab.DetailRole:
		return string(vocab.Roles[pick(len(vocab.Roles))])
	case vocab.DetailCertType:
		return string(vocab.CertTypes[pick(len(vocab.CertTypes))])
	case vocab.DetailPurpose:
		return []string{"recovery:7f3c2a", string(vocab.Purposes[pick(len(vocab.Purposes))])}[pick(2)]
	case vocab.DetailRegion:
		return "4407"
	case vocab.DetailCancelled, vocab.DetailReopened:
		return true
	case vocab.DetailEffectiveAt, vocab.DetailUntil:
		return "2025-10-09T06:07:00Z"
	case vocab.DetailClaimedBy, vocab.DetailStaff:
		return "jm_reviewer"
	case vocab.DetailCaseNumber, vocab.DetailCase:
		return "ZH20250930000007"
	case vocab.DetailDueBy:
		return "2025-10-10"
	case vocab.DetailPhone:
		return "138****6666"
	case vocab.DetailIDNumber:
		return "4407**********0180"
	case vocab.DetailCertNumber:
		return "9144********0K3X"
	case vocab.DetailText, vocab.DetailBefore, vocab.DetailAfter:
		return "证件照片不清晰"
	case vocab.DetailFrom, vocab.DetailTo:
		if a == vocab.ActionReasonMoved {
			return 3
		}
		return "2025-10-01"
	}
	return 12 // counts, positions, sizes, versions, entry numbers
}

var (
	auditDetailKey = regexp.MustCompile(`<dt>([^<]*)</dt>`)
	auditNext      = regexp.MustCompile(`<a rel="next" href="([^"]+)">下一页</a>`)
)

// TestTheAuditPageShowsNoRawCode is the audit half of issue 16's done-when
// test: an entry of every action, by every kind of actor, about every kind
// of object, each with every detail key, is shown with every key and every
// coded value in Chinese — no code of the vocabulary, no reason code.
func TestTheAuditPageShowsNoRawCode(t *testing.T) {
	s := newTestServer(t)
	ctx := context.Background()
	reasons, err := s.recovery.ReasonCatalog(ctx) // the catalog fills itself on first read, as in use
	if err != nil {
		t.Fatal(err)
	}
	var reasonCodes []string
	for _, r := range reasons {
		reasonCodes = append(reasonCodes, r.Code)
	}
	actors := []struct {
		kind vocab.ActorKind
		name string
	}{
		{vocab.ActorApplicant, "applicant"}, {vocab.ActorSystem, "system"}, {vocab.ActorSystem, "seed"},
		{vocab.ActorSystem, "cli"}, {vocab.ActorStaff, "jm_reviewer"}, {vocab.ActorAccount, "li_si"},
	}
	for i, a := range vocab.Actions() {
		detail := map[string]any{}
		for _, k := range vocab.DetailKeys {
			detail[string(k)] = detailSample(a, k, i)
		}
		who := actors[i%len(actors)]
		appendAudit(t, s, audit.Event{At: time.Now(), ActorKind: who.kind, Actor: who.name, Action: a,
			ObjectType: string(vocab.ObjectTypes[i%len(vocab.ObjectTypes)]), ObjectID: "ZH20250930000007", Detail: detail})
	}

	sup := staffClient(t, s, "gd_super", "supervisor", "44")
	path, entries := "/console/audit", 0
	for path != "" {
		resp, body := sup.get(t, path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		rows := rowsOf(body)
		entries += strings.Count(rows, "<tr>")
		if found := handlers.RawCodes(rows, reasonCodes...); len(found) > 0 {
			t.Errorf("%s shows raw codes %v", path, found)
		}
		for _, m := range auditDetailKey.FindAllStringSubmatch(rows, -1) {
			if k := html.UnescapeString(m[1]); len(k) == len([]rune(k)) {
				t.Errorf("a detail key shows in ASCII: %q", k)
			}
		}
		path = ""
		if m := auditNext.FindStringSubmatch(body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if want := len(vocab.Actions()); entries < want {
		t.Fatalf("%d entries shown, want at least %d", entries, want)
	}
	// Spot checks of what a reader sees.
	_, body := sup.get(t, "/console/audit?action="+string(vocab.EventDecided.Action()))
	rows := rowsOf(body)
	for _, want := range []string{"作出审核决定", "<dt>结果</dt>", "<dt>原因</dt>", recovery.DefaultReasons()[0].Text,
		"<dt>补正材料</dt><dd>个人身份证正面照、单位授权函</dd>", "<dt>风险提示</dt>", vocab.FlagRecentlyLocked.Label()} {
		if !strings.Contains(rows, want) {
			t.Errorf("the decided entry lacks %q:\n%s", want, rows)
		}
	}
}
