package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/reasoncode"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// DetailItem is one key of an entry's detail as staff read it: both the key
// and the value in Chinese, personal data masked.
type DetailItem struct {
	Key, Value string
}

// reasonTexts maps reason codes to the catalog's wording (retired reasons
// included: old entries name them). The catalog is internal/recovery's; the
// audit log reads its table, not its service, because recovery records
// into the audit log and cannot be imported from here.
type reasonTexts map[string]string

// loadReasonTexts reads the reason catalog once for a page or an export
// batch; it is a few dozen rows.
func loadReasonTexts(ctx context.Context, c *ent.Client) (reasonTexts, error) {
	rows, err := c.ReasonCode.Query().Select(reasoncode.FieldCode, reasoncode.FieldText).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit reasons: %w", err)
	}
	m := make(reasonTexts, len(rows))
	for _, r := range rows {
		m[r.Code] = r.Text
	}
	return m, nil
}

// describe renders the detail of an entry of action, key by key in key
// order, every key and every coded value in Chinese, so that the audit page
// and its export never show a code. A key or value the vocabulary does not
// know (an entry of a newer release) shows as recorded.
func describe(action vocab.Action, d map[string]any, reasons reasonTexts) []DetailItem {
	out := make([]DetailItem, 0, len(d))
	for _, k := range slices.Sorted(maps.Keys(d)) {
		key := vocab.DetailKey(k)
		out = append(out, DetailItem{Key: vocab.DetailLabel(action, key), Value: MaskText(detailValue(action, key, d[k], reasons))})
	}
	return out
}

// detailText is describe as one line: "键：值；键：值".
func detailText(items []DetailItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.Key + "：" + it.Value
	}
	return strings.Join(parts, "；")
}

// detailValue renders one value of key in an entry of action.
func detailValue(action vocab.Action, key vocab.DetailKey, v any, reasons reasonTexts) string {
	each := func(sep string, fn func(string) string) string {
		list := strs(v)
		for i, s := range list {
			list[i] = fn(s)
		}
		return strings.Join(list, sep)
	}
	switch key {
	case vocab.DetailStatus:
		return vocab.StatusLabel(state.Status(str(v)))
	case vocab.DetailOutcome:
		return vocab.Outcome(str(v)).Label()
	case vocab.DetailReasons:
		return each("；", func(c string) string {
			if t, ok := reasons[c]; ok {
				return t
			}
			return c
		})
	case vocab.DetailReturnKinds:
		return each("、", func(k string) string { return vocab.EvidenceKind(k).Label() })
	case vocab.DetailRiskFlags:
		return each("；", func(f string) string { return vocab.Flag(f).Label() })
	case vocab.DetailKind:
		if k := vocab.CaseKind(str(v)); k == vocab.KindPerson || k == vocab.KindUnit {
			return k.Label()
		}
		return vocab.EvidenceKind(str(v)).Label()
	case vocab.DetailVerdict:
		return vocab.Verdict(str(v)).Label()
	case vocab.DetailAction:
		if action == vocab.ActionAuditExported {
			return ActionLabel(str(v)) // the export's filter: an action or a group
		}
		return vocab.QAAction(str(v)).Label()
	case vocab.DetailReason:
		return vocab.CloseReason(str(v)).Label()
	case vocab.DetailRole:
		return vocab.Role(str(v)).Label()
	case vocab.DetailRegion:
		if n := rules.RegionFullName(str(v)); n != "" {
			return n
		}
	case vocab.DetailCertType:
		if l := vocab.CertType(str(v)).Label(); l != "" {
			return l
		}
	case vocab.DetailPurpose:
		// A code's purpose is what it proves, scoped: register,
		// recovery:<id>, status:<case number>; a message's is its own.
		p := vocab.Purpose(str(v))
		switch scope, _, _ := strings.Cut(string(p), ":"); scope {
		case "register":
			p = vocab.PurposeRegisterCode
		case "recovery":
			p = vocab.PurposeRecoveryCode
		case "status":
			p = vocab.PurposeStatusCode
		}
		return p.Label()
	case vocab.DetailCancelled, vocab.DetailReopened:
		if b, ok := v.(bool); ok {
			return map[bool]string{true: "是", false: "否"}[b]
		}
	case vocab.DetailEffectiveAt, vocab.DetailUntil:
		if t, err := time.Parse(time.RFC3339, str(v)); err == nil {
			return t.In(rules.Shanghai).Format("2006-01-02 15:04")
		}
	case vocab.DetailSize:
		if n, ok := v.(float64); ok {
			return strconv.FormatFloat(n/1024, 'f', 0, 64) + " KB"
		}
	case vocab.DetailUpto, vocab.DetailQAReview:
		return "第 " + str(v) + " 条"
	}
	return str(v)
}

// str is a detail value as text: strings as they are, numbers without an
// exponent, anything else as JSON.
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return map[bool]string{true: "是", false: "否"}[x]
	case time.Time:
		return x.In(rules.Shanghai).Format("2006-01-02 15:04")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// strs is a list-valued detail (JSON decodes it as []any) as strings.
func strs(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = str(e)
		}
		return out
	case []string:
		return slices.Clone(x)
	case nil:
		return nil
	}
	return []string{str(v)}
}
