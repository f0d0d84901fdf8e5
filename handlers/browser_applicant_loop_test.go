package handlers_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/testenv"
)

// TestBrowserTheApplicantSeesWhatToFixAndWhatToDoNext: a return of two kinds
// shows the reviewer's words and exactly those materials on the status page,
// and the re-upload page marks exactly those two tiles; after a rejection the
// status page offers a new application and no password notice.
func TestBrowserTheApplicantSeesWhatToFixAndWhatToDoNext(t *testing.T) {
	browser := testenv.Browser(t)
	s, a, number, pc, v := claimedUnitCase(t)
	words := "人像面反光，授权函未盖章"
	if resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"return"}, "version": {fmt.Sprint(v)},
		"return_kind": {"id_front", "authorization_letter"}, "message": {words}}); resp.StatusCode != 303 {
		t.Fatalf("return: %d %.300s", resp.StatusCode, body)
	}
	base := s.listen(t)
	ctx, problems := browsing(t, browser, 30*time.Second)
	session := fmt.Sprintf(`sessionStorage.setItem("rd.recovery", JSON.stringify({id: %q, token: %q, kind: "unit", case_number: %q}))`, a.id, a.token, number)
	browserDo(t, ctx, "status page of the returned case",
		statusLookup(base),
		chromedp.Evaluate[chromedp.Void](session),
		chromedp.Navigate(base+"/recover/status"),
		chromedp.WaitVisible(chromedp.CSS("#status-view")),
	)
	if got := browserText(t, ctx, "#decision-message"); got != words {
		t.Errorf("message on the status page %q", got)
	}
	if got := browserText(t, ctx, "#decision-return-kinds"); !strings.Contains(got, "个人身份证正面照") || !strings.Contains(got, "单位授权函") ||
		strings.Contains(got, "手持") {
		t.Errorf("materials to upload again %q", got)
	}
	browserDo(t, ctx, "the re-upload page",
		chromedp.Navigate(base+"/recover?kind=unit"),
		chromedp.WaitVisible(chromedp.CSS("#tile-id_front.needs-redo")),
	)
	marked, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".evidence-tile.needs-redo")).map(e => e.dataset.kind)`))
	if err != nil {
		t.Fatal(err)
	}
	done, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".evidence-tile.is-done")).map(e => e.dataset.kind)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(marked, ",") != "id_front,authorization_letter" || strings.Join(done, ",") != "id_handheld,unit_license" {
		t.Errorf("to redo %v, done %v", marked, done)
	}
	if got := browserText(t, ctx, "#status-id_front"); !strings.Contains(got, "需重新上传") || !strings.Contains(got, words) {
		t.Errorf("returned tile says %q", got)
	}
	if got := browserText(t, ctx, "#submit-hint"); !strings.Contains(got, "还需上传 2 项材料") {
		t.Errorf("submit hint %q", got)
	}

	// Replaced and resubmitted, then rejected for "other" with words.
	for i, kind := range []string{"id_front", "authorization_letter"} {
		if resp, body := a.upload(t, kind, jpegBytes(t, photo(400, 300, uint64(70+i)))); resp.StatusCode != 201 {
			t.Fatalf("re-upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}
	if resp, body := a.req(t, "POST", "/submit", "", nil); resp.StatusCode != 200 {
		t.Fatalf("resubmit: %d %s", resp.StatusCode, body)
	}
	v = claimed(t, s, pc, number)
	words = "手持照片中证件被手指遮挡，请重新拍摄"
	if resp, body := pc.post(t, "/console/cases/"+number+"/decision", url.Values{"outcome": {"reject"}, "version": {fmt.Sprint(v)},
		"reason": {"other"}, "message": {words}}); resp.StatusCode != 303 {
		t.Fatalf("reject: %d %.300s", resp.StatusCode, body)
	}
	browserDo(t, ctx, "status page of the rejected case",
		chromedp.Navigate(base+"/recover/status"),
		chromedp.WaitVisible(chromedp.CSS("#status-new")),
	)
	if got := browserText(t, ctx, "#decision-message"); got != words {
		t.Errorf("message after the rejection %q", got)
	}
	if got := browserText(t, ctx, "#status-explain"); !strings.Contains(got, "重新提交一份申请") {
		t.Errorf("what to do next %q", got)
	}
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`[document.querySelector("#status-password-note").hidden,
		document.querySelector("#decision-return-box").hidden, document.querySelector("#status-continue").hidden]`))
	if err != nil {
		t.Fatal(err)
	}
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#status-new").getAttribute("href")`))
	if err != nil || len(hidden) != 3 || !hidden[0] || !hidden[1] || !hidden[2] || href != "/recover?kind=unit" {
		t.Errorf("after the rejection: password note, return list, re-upload button hidden %v; new application %q %v", hidden, href, err)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}
