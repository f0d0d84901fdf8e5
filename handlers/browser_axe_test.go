package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/testenv"
)

// axeSource is axe-core, vendored under testdata/axe (see its README).
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

// axeFinding is one rule axe-core found broken, with the first few places.
type axeFinding struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun injects axe-core into the page as it is now and returns what it
// finds critical or serious (WCAG 2.x A/AA and best practices).
const axeRun = `(async () => {
  const r = await axe.run(document, {resultTypes: ["violations"]});
  return r.violations.filter(v => v.impact === "critical" || v.impact === "serious").map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 6).map(n => n.target.join(" ") + " — " + (n.failureSummary || "").replace(/\s+/g, " "))
  }));
})()`

// axeCheck fails the test on every critical or serious finding on the page
// shown now, printing each with where it is.
func axeCheck(t *testing.T, ctx context.Context, src, what string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", what, err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", what, err)
	}
	var found []axeFinding
	if err := json.Unmarshal(raw, &found); err != nil {
		t.Fatalf("%s: axe result %s: %v", what, raw, err)
	}
	for _, f := range found {
		t.Errorf("%s: axe %s (%s): %s\n    %s", what, f.ID, f.Impact, f.Help, strings.Join(f.Nodes, "\n    "))
	}
}

// TestBrowserAccessibility runs axe-core over every public page — the
// wizard at each of its four steps, the status page before and after a
// decision, 忘记申请编号 open, an error page and the console's sign-in — at desktop width and on a 390 px phone:
// no critical and no serious finding.
func TestBrowserAccessibility(t *testing.T) {
	browser := testenv.Browser(t)
	src := axeSource(t)
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		s := recoveryFixture(t)
		base := s.listen(t)
		ctx := testenv.Within(t, browser, 120*time.Second)
		page := func(path, ready string, steps ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			browserDo(t, ctx, path, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + path), chromedp.WaitVisible(chromedp.CSS(ready))}, steps...)...)
			axeCheck(t, ctx, src, vp.name+" "+path+" "+ready)
		}
		page("/", "body")
		page("/register/person", "form")
		page("/register/unit", "form")
		page("/login", "form")
		page("/login?kind=unit", "form")
		page("/password/change", "form")
		page("/account/recover", "form")
		page("/account/recover?kind=unit", "form")
		page("/recover/letter-template", "body")
		page("/recover?kind=person", "#step-1")
		page("/recover?kind=unit", "#step-1")
		page("/recover/status", "#lookup")
		page("/recover/status", "#lookup", chromedp.Click(chromedp.CSS("#forgot-open")), chromedp.WaitVisible(chromedp.CSS("#forgot")))
		page("/no-such-page", "body")  // the error page with its request id
		page("/console/login", "form") // the staff console's own frame

		// The wizard's steps 2–4 of one case, then its status before and
		// after a rejection.
		a := startUnit(t, s, nil)
		session := fmt.Sprintf(`sessionStorage.setItem("rd.recovery", JSON.stringify({id: %q, token: %q, kind: "unit"}))`, a.id, a.token)
		browserDo(t, ctx, "hold the case", chromedp.Evaluate[chromedp.Void](session))
		page("/recover?kind=unit", "#step-2")
		a.verifyPhone(t, "13800006666")
		page("/recover?kind=unit", "#step-3")
		for i, kind := range recoverEvidenceKinds {
			if resp, body := a.upload(t, kind, jpegBytes(t, photo(400, 300, uint64(20+i)))); resp.StatusCode != 201 {
				t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
			}
		}
		resp, body := a.req(t, "POST", "/submit", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("submit: %d %s", resp.StatusCode, body)
		}
		var sub struct {
			CaseNumber string `json:"case_number"`
		}
		mustJSON(t, body, &sub)
		page("/recover?kind=unit", "#step-4")
		page("/recover/status", "#status-view")
		page("/recover/letter-template?unit_name="+url.QueryEscape("江门市人才发展公司")+"&cert_number="+unitA, "body")
		pc := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
		v := claimed(t, s, pc, sub.CaseNumber)
		if resp, body := pc.post(t, "/console/cases/"+sub.CaseNumber+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)},
			"reason": {"other"}, "message": {"手持照片中证件被手指遮挡，请重新拍摄"}}); resp.StatusCode != 303 {
			t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
		}
		page("/recover/status", "#status-decision")
	})
}
