package vocab

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"testing"
	"unicode/utf8"

	"recoverydesk/internal/recovery/state"
)

// vocabularyOf names, for each type of this package, the vocabulary the
// template function label reads it from.
var vocabularyOf = map[string]string{
	"CaseKind": "kind", "EventType": "event", "Outcome": "outcome", "SecondVerdict": "second_verdict",
	"Verdict": "verdict", "QAAction": "qa_action", "QAWhy": "qa_why", "Flag": "flag", "Role": "role",
	"CertType": "cert", "EvidenceKind": "evidence", "Action": "action", "ActorKind": "actor_kind",
	"ObjectType": "object", "Purpose": "purpose", "CloseReason": "close_reason", "SLA": "sla",
	"DetailKey": "detail", "SystemActor": "system_actor", "AttemptPurpose": "", "SMSStatus": "sms_status",
	"Duty": "duty", "Link": "link", "BulkAction": "bulk_action",
}

// chinese reports whether s is a label people can read: not empty, and not
// the ASCII code it stands for.
func chinese(s string) bool { return s != "" && utf8.RuneCountInString(s) < len(s) }

// TestEveryConstantHasALabel reads this package's source, so that a
// constant added without a label (or without a vocabulary) fails here even
// when nobody remembered to add it to a list.
func TestEveryConstantHasALabel(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range pkgs["vocab"].Files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, sp := range g.Specs {
				vs := sp.(*ast.ValueSpec)
				typ, ok := vs.Type.(*ast.Ident)
				if !ok || len(vs.Values) != 1 {
					continue
				}
				lit, ok := vs.Values[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				code, _ := strconv.Unquote(lit.Value)
				voc, known := vocabularyOf[typ.Name]
				if !known {
					t.Errorf("%s (%s): type %s has no vocabulary in vocabularyOf", vs.Names[0], code, typ.Name)
					continue
				}
				if voc == "" {
					continue // labelled through the actions it forms (see TestEveryAttemptHasALabel)
				}
				got, err := Label(voc, code)
				if err != nil || !chinese(got) {
					t.Errorf("%s = %q has no Chinese label (%q, %v)", vs.Names[0], code, got, err)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d constants checked; the source walk is broken", n)
	}
}

func TestEveryStatusHasALabel(t *testing.T) {
	for _, s := range state.All {
		if got, _ := Label("status", string(s)); !chinese(got) {
			t.Errorf("status %s: label %q", s, got)
		}
	}
}

func TestEveryAttemptAndEventHasAnAction(t *testing.T) {
	for _, p := range AttemptPurposes {
		for _, r := range []string{AttemptSuccess, AttemptFailure, AttemptRefusedLocked, AttemptPendingNotReady} {
			if a := Attempt(p, r); !chinese(a.Label()) {
				t.Errorf("action %s has no label", a)
			}
		}
	}
	for _, e := range EventTypes {
		if a := e.Action(); !chinese(a.Label()) {
			t.Errorf("event %s: action %s has no label", e, a)
		}
	}
}

func TestLabelRefusesAnUnknownVocabulary(t *testing.T) {
	if _, err := Label("evnet", "created"); err == nil {
		t.Fatal("a misspelt vocabulary must fail the render")
	}
	if got, _ := Label("event", "not_a_code"); got != "not_a_code" {
		t.Fatalf("an unknown code shows as itself, got %q", got)
	}
	if got, _ := Label("event", EventReassigned); got != "改派" {
		t.Fatalf("typed values are labelled too, got %q", got)
	}
}

func TestDetailLabelByAction(t *testing.T) {
	if got := DetailLabel(ActionReasonMoved, DetailFrom); got != "原位置" {
		t.Fatalf("reason.moved from: %q", got)
	}
	if got := DetailLabel(ActionAuditExported, DetailFrom); got != "开始日期" {
		t.Fatalf("audit.exported from: %q", got)
	}
}
