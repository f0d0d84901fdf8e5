package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"recoverydesk/ent/account"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/watermark"
)

// consoleFetched is what the page's own fetch of an evidence image saw.
type consoleFetched struct {
	Status       int    `json:"status"`
	CacheControl string `json:"cacheControl"`
	ContentType  string `json:"contentType"`
	Body         string `json:"body"` // base64
}

// consoleFetchImage fetches the src of the image matching sel from the page,
// with the page's cookies, and returns the response headers and bytes.
func consoleFetchImage(sel string) chromedp.Action[consoleFetched] {
	return chromedp.Evaluate[consoleFetched](fmt.Sprintf(`(async () => {
		const img = document.querySelector(%q);
		const r = await fetch(img.src, {credentials: "same-origin"});
		const b = new Uint8Array(await r.arrayBuffer());
		let s = "";
		for (let i = 0; i < b.length; i += 0x8000) {
			s += String.fromCharCode.apply(null, b.subarray(i, i + 0x8000));
		}
		return {status: r.status, cacheControl: r.headers.get("Cache-Control") || "",
			contentType: r.headers.get("Content-Type") || "", body: btoa(s)};
	})()`, sel), chromedp.EvalAwaitPromise)
}

// consoleDecodeJPEG decodes a JPEG or fails the test.
func consoleDecodeJPEG(t *testing.T, what string, data []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode as JPEG: %v", what, err)
	}
	return img
}

// consoleImageDiff compares two images of the same size channel by channel
// (R, G, B, 8 bits): the mean absolute difference, and the share of pixels
// where some channel moved by more than 10 levels.
func consoleImageDiff(a, b image.Image) (mean, marked float64) {
	r := a.Bounds()
	var sum, n, strong int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ar, ag, ab, _ := a.At(x, y).RGBA()
			br, bg, bb, _ := b.At(x-r.Min.X+b.Bounds().Min.X, y-r.Min.Y+b.Bounds().Min.Y).RGBA()
			most := 0
			for _, d := range []int{int(ar>>8) - int(br>>8), int(ag>>8) - int(bg>>8), int(ab>>8) - int(bb>>8)} {
				d = max(d, -d)
				sum += d
				most = max(most, d)
			}
			// More than 10 levels: well past JPEG noise, and a change the
			// stamp at about 15 % opacity makes over most of its ink (at most
			// 15 % of the way to its tone: 24 levels was past reach on
			// mid-tones once the stamp was lightened).
			if most > 10 {
				strong++
			}
			n++
		}
	}
	return float64(sum) / float64(3*n), float64(strong) / float64(n)
}

// jmReviewerSignIn creates 李审核 (jm_reviewer, a reviewer of 江门) and
// returns the browser steps that sign them in at base, landing on the queue.
func jmReviewerSignIn(t testing.TB, s *testServer, base string) chromedp.Action[chromedp.Void] {
	t.Helper()
	s.staffUser(t, "jm_reviewer", "Review#2468", "李审核", "reviewer", "4407")
	return browserSignIn(base+"/console/login", "jm_reviewer", "Review#2468", "table.queue")
}

// TestBrowserReviewerApprovesWithTheKeyboard is the review console's walk in
// Chromium: a reviewer signs in, finds the case in the queue, opens it
// (claimed on opening),
// opens each image (it loads, and carries the watermark), approves with A
// then Enter; the new password goes out by SMS, and takes effect 4 hours
// after it was sent.
func TestBrowserReviewerApprovesWithTheKeyboard(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	base := s.listen(t)
	bg := context.Background()

	ctx, problems := browsing(t, browser, 60*time.Second)

	// Sign in: the console opens on the queue.
	browserDo(t, ctx, "sign in",
		jmReviewerSignIn(t, s, base),
	)
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/console/cases" {
		t.Fatalf("after signing in: %q (%v)", loc, err)
	}

	// The queue lists the case; its number links to the case page.
	numbers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("table.queue td.case-no a")).map(a => a.textContent.trim())`))
	if err != nil || !slices.Contains(numbers, number) {
		t.Fatalf("queue numbers %v (%v), want %s among them", numbers, err, number)
	}
	link := fmt.Sprintf(`table.queue td.case-no a[href="/console/cases/%s"]`, number)
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).closest("tr").textContent`, link)))
	if err != nil || !strings.Contains(row, "待审核") || !strings.Contains(row, "单位") {
		t.Errorf("queue row of %s: %q (%v)", number, row, err)
	}
	// Opened from 待审核, the case is claimed on opening (the reviewer holds
	// no other claim): the page comes with the claim and the decision form.
	browserDo(t, ctx, "open the case",
		chromedp.Click(chromedp.CSS(link)),
		chromedp.WaitVisible(chromedp.CSS("#decision-form")),
	)
	if h := browserText(t, ctx, ".cw-title h1"); !strings.Contains(h, number) {
		t.Fatalf("case page heading %q", h)
	}
	if st := browserText(t, ctx, ".cw-claim-mine"); !strings.Contains(st, "由 李审核（我）认领") {
		t.Errorf("claim state %q", st)
	}
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(bg); rc.Status != state.InReview {
		t.Fatalf("after the claim: status %s", rc.Status)
	}

	// Each image, scrolled to (they load lazily), has loaded whole.
	for _, kind := range recoverEvidenceKinds {
		img := fmt.Sprintf("#viewer-%s img", kind)
		browserDo(t, ctx, "open "+kind,
			chromedp.ScrollIntoView(chromedp.CSS(img)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const i = document.querySelector(%q); return i.complete && i.naturalWidth > 0; })()`, img),
				chromedp.WithPollingTimeout(10*time.Second)),
		)
		size, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const i = document.querySelector(%q); return i.naturalWidth + "x" + i.naturalHeight; })()`, img)))
		if err != nil || size != "400x300" {
			t.Errorf("%s shown at %q (%v), want its upload's 400x300", kind, size, err)
		}
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const imgs = Array.from(document.images).filter(i => i.src.includes("/evidence/"));
		return imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.closest("figure").dataset.kind);
	})()`))
	if err != nil || len(loaded) != len(recoverEvidenceKinds) {
		t.Errorf("loaded evidence images %v (%v), want all of %v", loaded, err, recoverEvidenceKinds)
	}
	for _, kind := range recoverEvidenceKinds {
		if !slices.Contains(loaded, kind) {
			t.Errorf("%s not shown loaded", kind)
		}
	}

	// The page's own fetch of one image: never stored, a JPEG, and stamped.
	got, err := chromedp.Run(ctx, consoleFetchImage("#viewer-id_front img"))
	if err != nil {
		t.Fatalf("fetch id_front from the page: %v", err)
	}
	if got.Status != 200 || got.CacheControl != "no-store" || got.ContentType != watermark.ContentType {
		t.Errorf("id_front: status %d, Cache-Control %q, Content-Type %q", got.Status, got.CacheControl, got.ContentType)
	}
	served, err := base64.StdEncoding.DecodeString(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	ev := s.db.Ent.Evidence.Query().Where(evidence.KindEQ(evidence.KindIDFront),
		evidence.HasCaseWith(recoverycase.CaseNumber(number))).OnlyX(bg)
	r, _, err := s.store.Open(bg, ev.ObjectKey)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(stored, served) {
		t.Fatal("the console serves the stored evidence unchanged")
	}
	orig := consoleDecodeJPEG(t, "stored id_front", stored)
	shown := consoleDecodeJPEG(t, "served id_front", served)
	if orig.Bounds().Size() != shown.Bounds().Size() {
		t.Fatalf("served %v, stored %v", shown.Bounds().Size(), orig.Bounds().Size())
	}
	// The control: the stored image only re-encoded as the server encodes,
	// so that JPEG noise alone cannot pass for a stamp.
	var again bytes.Buffer
	if err := jpeg.Encode(&again, orig, &jpeg.Options{Quality: watermark.Quality}); err != nil {
		t.Fatal(err)
	}
	ctlMean, ctlMarked := consoleImageDiff(orig, consoleDecodeJPEG(t, "re-encoded id_front", again.Bytes()))
	mean, marked := consoleImageDiff(orig, shown)
	t.Logf("served vs stored: mean |Δ| %.2f, %.1f%% of pixels marked; re-encode alone: %.2f, %.1f%%", mean, 100*marked, ctlMean, 100*ctlMarked)
	if mean <= 1 || mean >= 25 || mean < ctlMean+1 {
		t.Errorf("served id_front differs from the stored one by %.2f levels on average (re-encoding alone: %.2f): want a stamp (> 1 over the re-encode) on a recognisable image (< 25)", mean, ctlMean)
	}
	if marked < 0.05 || marked < 4*ctlMarked {
		t.Errorf("only %.1f%% of pixels carry the stamp (re-encoding alone: %.1f%%)", 100*marked, 100*ctlMarked)
	}

	// Every view is an audit event of the reviewer's.
	views := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("evidence.viewed"), auditevent.ObjectID(number)).AllX(bg)
	seen := map[string]bool{}
	for _, e := range views {
		if e.Actor != "jm_reviewer" {
			t.Errorf("evidence.viewed by %q", e.Actor)
		}
		if k, ok := e.Detail["kind"].(string); ok {
			seen[k] = true
		}
	}
	for _, kind := range recoverEvidenceKinds {
		if !seen[kind] {
			t.Errorf("no evidence.viewed event for %s (%d events)", kind, len(views))
		}
	}

	// A, outside any field, chooses 通过 and asks for confirmation; Enter
	// confirms; the decision goes in and the next case opens — here the
	// queue, which holds no other case — with a confirmation.
	browserDo(t, ctx, "focus the page",
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		chromedp.Poll[chromedp.Void](`document.activeElement === document.body`, chromedp.WithPollingTimeout(2*time.Second)),
	)
	text := s.newSMS(t, "13800006666", func() {
		browserDo(t, ctx, "press A",
			chromedp.KeyEvent("a"),
			chromedp.WaitVisible(chromedp.CSS("#approve-dialog[open]")),
		)
		after, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`document.querySelector("#outcome-approve").checked + " " + (document.activeElement.value || document.activeElement.id)`))
		if err != nil || after != "true confirm" {
			t.Fatalf("after A: approve checked, focus: %q (%v); want the 确认通过 button focused", after, err)
		}
		if h := browserText(t, ctx, "#approve-dialog-title"); !strings.Contains(h, number) {
			t.Errorf("dialog title %q", h)
		}
		browserDo(t, ctx, "press Enter",
			chromedp.KeyEvent(kb.Enter),
			chromedp.WaitVisible(chromedp.CSS(".alert-success")),
		)
	})
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || loc != base+"/console/cases?decided="+number {
		t.Errorf("after approving: %q (%v)", loc, err)
	}
	if msg := browserText(t, ctx, ".alert-success"); !strings.Contains(msg, "已通过 "+number+"，新密码短信已排队") {
		t.Errorf("decided notice %q", msg)
	}
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(bg); rc.Status != state.Approved {
		t.Fatalf("after approving: status %s", rc.Status)
	}

	// The SMS in the outbox holds the new password, pending until 4 hours
	// after it was sent.
	m := regexp.MustCompile(`新密码为：(\S+) 。`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("SMS without a password: %q", text)
	}
	password := m[1]
	deadline := time.Now().Add(5 * time.Second)
	acc := s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(bg)
	for acc.PendingEffectiveAt == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		acc = s.db.Ent.Account.Query().Where(account.UsernameKey("jm_talent")).OnlyX(bg)
	}
	if acc.PendingEffectiveAt == nil {
		t.Fatal("the account has no pending_effective_at after the SMS went out")
	}
	if resp, e := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 403 || e["code"] != "password_not_effective" {
		t.Fatalf("new password right away: %d %v", resp.StatusCode, e)
	}
	s.clock.Advance(4*time.Hour + time.Second)
	if resp, e := login(t, s, "unit", "jm_talent", password); resp.StatusCode != 200 {
		t.Fatalf("new password 4 hours later: %d %v", resp.StatusCode, e)
	}

	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}
