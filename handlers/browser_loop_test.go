package handlers_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

// personCaseIn registers a person of 江门市蓬江区 (the n-th of a test, with
// its own ID number and phone) and walks the recovery API for them: the
// submitted case's number. A typed name other than the registered one draws
// the low-similarity flag (the approval then needs a supervisor).
func personCaseIn(t *testing.T, s *testServer, n int, typedName string) string {
	t.Helper()
	id := idNumber(fmt.Sprintf("44070319900101%03d", 200+n))
	phone := fmt.Sprintf("139000001%02d", n)
	name := "李" + string(rune('甲'+n))
	s.person(t, fmt.Sprintf("loop_user%02d", n), "Abcd2468!x", name, id, phone)
	if typedName == "" {
		typedName = name
	}
	return startPerson(t, s, typedName, id).submitDrawn(t, phone, personKinds, distinctPhoto, uint64(1000+10*n))
}

// distinctPhoto is an image no other seed's looks like: an 8×8 checker of
// light and dark cells drawn from the seed's bits (photo's images share one
// gradient and hash alike, which flags them as duplicate evidence).
func distinctPhoto(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bits := r.Uint64()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8(40)
			if bits>>(uint(y*8/h)*8+uint(x*8/w))&1 == 1 {
				v = 215
			}
			n := uint8(r.IntN(16))
			img.Set(x, y, color.RGBA{v + n/2, v, v - n/2, 255})
		}
	}
	return img
}

// waitAcrossNavigation evaluates the boolean expression js until it holds,
// through the navigation a key started (an evaluation cut by the page
// going away is tried again).
func waitAcrossNavigation(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: still not after 30 s (%v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keyCounter sends keys to the page and counts every key event it sends.
type keyCounter struct{ n int }

func (k *keyCounter) press(key string) chromedp.Action[chromedp.Void] {
	k.n++
	return chromedp.KeyEvent(key)
}

// TestBrowserTenApprovalsByKeyboard measures the review loop in Chromium:
// eleven cases of one reviewer's region; the reviewer opens the first from
// 待审核 (claimed on opening) and then decides by keyboard only, each
// decision landing on the next case already claimed, its images prepared
// while the previous one was decided, with a banner naming the case just
// decided. Every key event is counted: at most 3 per decision. The last
// case carries a risk flag; a supervisor co-signs it by keyboard with the
// same confirmation.
func TestBrowserTenApprovalsByKeyboard(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t)
	// One minute apart: the queue (by due date, then submission) takes
	// them in this order, the flagged one last.
	var numbers []string
	for i := range 11 {
		typed := ""
		if i == 10 {
			typed = "欧阳某某" // nothing like the registered name: flagged
		}
		numbers = append(numbers, personCaseIn(t, s, i, typed))
		s.clock.Advance(time.Minute)
	}
	s.staffUser(t, "jm_reviewer", "Review#2468", "李审核", "reviewer", "4407")
	s.staffUser(t, "gd_super", "Super#2468go", "王主管", "supervisor", "44")
	base := s.listen(t)
	bg := context.Background()
	me := staffID(t, s, "jm_reviewer")

	ctx, problems := browsing(t, browser, 600*time.Second)
	signIn := func(user, password string) {
		browserDo(t, ctx, "sign in "+user,
			browserSignIn(base+"/console/login", user, password, "form.console-logout"),
		)
	}
	signIn("jm_reviewer", "Review#2468")
	browserDo(t, ctx, "the queue", chromedp.Navigate(base+"/console/cases"), chromedp.WaitVisible(chromedp.CSS("table.queue")))

	// The first case, opened from 待审核, is claimed on opening.
	browserDo(t, ctx, "open the first case from 待审核",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.queue td.case-no a[href="/console/cases/%s"]`, numbers[0]))),
		chromedp.WaitVisible(chromedp.CSS("#decision-form")),
	)
	claimedByMe := func(number string) bool {
		rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(bg)
		return rc.Status == state.InReview && rc.ClaimedBy != nil && *rc.ClaimedBy == me
	}
	if !claimedByMe(numbers[0]) {
		t.Fatalf("the case opened from 待审核 is not claimed by the reviewer")
	}

	keys := &keyCounter{}
	current := numbers[0]
	for i := range 11 {
		// The page asked the server to prepare the next case's images
		// (nothing of it is claimed): wait for those requests to finish, as
		// they do while a person looks at the current case.
		if i < 10 {
			browserDo(t, ctx, "next images prepared",
				chromedp.Poll[chromedp.Void](`(() => {
					const want = Array.from(document.querySelectorAll("#next-evidence [data-src]")).map(li => li.dataset.src);
					const done = performance.getEntriesByType("resource").filter(e => e.responseEnd > 0).map(e => new URL(e.name).pathname);
					return want.length > 0 && want.every(w => done.includes(w));
				})()`, chromedp.WithPollingTimeout(10*time.Second)),
			)
			if claimedByMe(numbers[i+1]) {
				t.Fatalf("preparing the next case's images claimed it")
			}
		}
		before := keys.n
		browserDo(t, ctx, fmt.Sprintf("decision %d: A", i+1),
			chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
			keys.press("a"),
			chromedp.WaitVisible(chromedp.CSS("#approve-dialog[open]")),
		)
		if h := browserText(t, ctx, "#approve-dialog-title"); !strings.Contains(h, current) {
			t.Fatalf("decision %d: the dialog names %q, want %s", i+1, h, current)
		}
		// Landed: the banner names the case just decided (the page before
		// had a banner too, naming the one before it).
		landed := fmt.Sprintf(`(() => { const n = document.querySelector("#decided-notice"); return !!n && n.textContent.includes(%q) && document.readyState === "complete"; })()`, current)
		browserDo(t, ctx, fmt.Sprintf("decision %d: Enter", i+1), keys.press(kb.Enter))
		waitAcrossNavigation(t, ctx, fmt.Sprintf("decision %d lands", i+1), landed)
		if per := keys.n - before; per > 3 {
			t.Errorf("decision %d took %d keys", i+1, per)
		}
		notice := browserText(t, ctx, "#decided-notice")
		if i == 10 {
			if !strings.Contains(notice, "已初审通过 "+current+"，已交主管复核") {
				t.Errorf("after the flagged approval: %q", notice)
			}
			break
		}
		if !strings.Contains(notice, "已通过 "+current+"，新密码短信已排队") {
			t.Errorf("decision %d: banner %q, want the approval of %s", i+1, notice, current)
		}
		if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(current)).OnlyX(bg); rc.Status != state.Approved {
			t.Errorf("decision %d: %s is %s", i+1, current, rc.Status)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		next := numbers[i+1]
		if want := base + "/console/cases/" + next + "?decided=" + current; loc != want {
			t.Fatalf("decision %d landed on %q, want %s", i+1, loc, want)
		}
		if !claimedByMe(next) || !strings.Contains(browserText(t, ctx, ".cw-claim"), "（我）认领") {
			t.Fatalf("decision %d: the next case %s is not claimed by the reviewer", i+1, next)
		}
		// The landed case's images came prepared, and they show.
		prepared, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => {
			const imgs = Array.from(document.querySelectorAll(".cw-viewer img"));
			if (!imgs.length || !imgs.every(i => i.complete && i.naturalWidth > 0)) return 0;
			return performance.getEntriesByType("resource")
				.filter(e => e.name.includes("/evidence/") && (e.serverTiming || []).some(t => t.name === "prepared")).length;
		})()`, chromedp.WithPollingTimeout(10*time.Second)))
		if err != nil || prepared != 2 {
			t.Errorf("decision %d: %d of the next case's 2 images came prepared (%v)", i+1, prepared, err)
		}
		current = next
	}
	t.Logf("keystrokes: %d for %d decisions (%.1f each)", keys.n, 11, float64(keys.n)/11)
	fmt.Printf("review loop: %d key events for 11 decisions by keyboard (10 approvals + 1 first approval)\n", keys.n)

	// The supervisor co-signs the flagged case: A, the same confirmation,
	// Enter; the page confirms that the password went out.
	flagged := numbers[10]
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(flagged)).OnlyX(bg); rc.Status != state.AwaitingSecond {
		t.Fatalf("the flagged case is %s", rc.Status)
	}
	browserDo(t, ctx, "sign out",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("form.console-logout").submit()`),
		chromedp.WaitVisible(chromedp.CSS("#username")),
	)
	signIn("gd_super", "Super#2468go")
	cosign := &keyCounter{}
	browserDo(t, ctx, "open the flagged case",
		chromedp.Navigate(base+"/console/cases/"+flagged),
		chromedp.WaitVisible(chromedp.CSS("#second-approval-form")),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		cosign.press("a"),
		chromedp.WaitVisible(chromedp.CSS("#second-approve-dialog[open]")),
	)
	if h := browserText(t, ctx, "#second-approve-dialog-title"); !strings.Contains(h, flagged) {
		t.Errorf("co-sign dialog %q", h)
	}
	browserDo(t, ctx, "co-sign: Enter", cosign.press(kb.Enter))
	waitAcrossNavigation(t, ctx, "co-signed", fmt.Sprintf(`(() => { const n = document.querySelector("#decided-notice"); return !!n && n.textContent.includes(%q) && document.readyState === "complete"; })()`, flagged))
	if notice := browserText(t, ctx, "#decided-notice"); !strings.Contains(notice, "已通过 "+flagged+"，新密码短信已排队") {
		t.Errorf("after co-signing: %q", notice)
	}
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(flagged)).OnlyX(bg); rc.Status != state.Approved {
		t.Errorf("after co-signing: %s", rc.Status)
	}
	if cosign.n > 3 {
		t.Errorf("co-signing took %d keys", cosign.n)
	}
	fmt.Printf("co-signature: %d key events\n", cosign.n)
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}

// TestBrowserBulkReassignAFilteredPage: a supervisor of 江门 narrows the
// queue to person cases, selects all on the page with the header checkbox,
// reassigns them to a reviewer after one confirmation, and lands back on
// the filtered queue with a notice; every person case is the reviewer's,
// the unit case (filtered out) is untouched.
func TestBrowserBulkReassignAFilteredPage(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t)
	unit := submittedCase(t, s)
	var persons []string
	for i := range 3 {
		persons = append(persons, personCaseIn(t, s, 20+i, ""))
	}
	s.staffUser(t, "jm_super", "Super#2468go", "江门主管", "supervisor", "4407")
	s.staffUser(t, "jm_target", "Review#2468", "赵审核", "reviewer", "4407")
	base := s.listen(t)
	bg := context.Background()
	target := staffID(t, s, "jm_target")
	unitVersion := caseVersion(t, s, unit)

	ctx, problems := browsing(t, browser, 60*time.Second)
	browserDo(t, ctx, "sign in",
		browserSignIn(base+"/console/login", "jm_super", "Super#2468go", "table.queue"),
		chooseOption("#kind", "person"),
		// The unfiltered page has #bulk-all too: mark it, so the wait below
		// is for the filtered page that replaces it.
		chromedp.Evaluate[chromedp.Void](`document.body.dataset.unfiltered = "1"`),
		chromedp.Click(chromedp.CSS(`form.queue-filters button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("body:not([data-unfiltered]) #bulk-all")),
	)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.queue td.case-no a")).map(a => a.textContent.trim())`))
	if err != nil || len(rows) != len(persons) {
		t.Fatalf("the filtered page lists %v (%v), want the %d person cases", rows, err, len(persons))
	}
	browserDo(t, ctx, "select all and reassign",
		chromedp.Click(chromedp.CSS("#bulk-all")),
		chooseOption("#bulk-action", "reassign"),
		chromedp.SendKeys(chromedp.CSS("#bulk-to"), "jm_target"),
		chromedp.Click(chromedp.CSS("#bulk-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bulk-confirm")),
	)
	if h := browserText(t, ctx, "#bulk-title"); !strings.Contains(h, "将 3 件案件改派给 赵审核") {
		t.Errorf("confirmation %q", h)
	}
	for _, n := range persons {
		if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(n)).OnlyX(bg); rc.Status != state.Submitted {
			t.Fatalf("%s changed before the confirmation: %s", n, rc.Status)
		}
	}
	browserDo(t, ctx, "confirm",
		chromedp.Click(chromedp.CSS("#bulk-confirm")),
		chromedp.WaitVisible(chromedp.CSS("form.queue-filters")),
	)
	if msg := browserText(t, ctx, ".alert-success"); !strings.Contains(msg, "已将 3 件案件改派给 赵审核") {
		t.Errorf("notice %q", msg)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "kind=person") {
		t.Errorf("back on %q, want the filtered queue", loc)
	}
	for _, n := range persons {
		rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(n)).OnlyX(bg)
		if rc.Status != state.InReview || rc.ClaimedBy == nil || *rc.ClaimedBy != target {
			t.Errorf("%s after the bulk reassignment: %s by %v", n, rc.Status, rc.ClaimedBy)
		}
	}
	if caseVersion(t, s, unit) != unitVersion {
		t.Error("the unit case, filtered out, was changed")
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}

// TestBrowserRejectWithThreeKeys: R chooses 不通过, 1 ticks the first reason,
// Enter decides and opens the next case, claimed, with the confirmation; B
// then 1 then Enter without the words a return needs keeps the reviewer on
// the case and says what is missing.
func TestBrowserRejectWithThreeKeys(t *testing.T) {
	browser := testenv.Browser(t)
	s := recoveryFixture(t)
	first := personCaseIn(t, s, 40, "")
	s.clock.Advance(time.Minute)
	second := personCaseIn(t, s, 41, "")
	base := s.listen(t)
	bg := context.Background()

	ctx, problems := browsing(t, browser, 90*time.Second)
	browserDo(t, ctx, "sign in and open the first case",
		jmReviewerSignIn(t, s, base),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`table.queue td.case-no a[href="/console/cases/%s"]`, first))),
		chromedp.WaitVisible(chromedp.CSS("#decision-form")),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
	)
	keys := &keyCounter{}
	browserDo(t, ctx, "R, 1", keys.press("r"), keys.press("1"))
	ticked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#reasons input:checked").value`))
	if err != nil || ticked == "" {
		t.Fatalf("after R, 1: no reason ticked (%v)", err)
	}
	browserDo(t, ctx, "Enter", keys.press(kb.Enter))
	waitAcrossNavigation(t, ctx, "the rejection lands", fmt.Sprintf(`(() => { const n = document.querySelector("#decided-notice"); return !!n && n.textContent.includes(%q) && document.readyState === "complete"; })()`, "已决定不通过 "+first))
	if keys.n != 3 {
		t.Errorf("a rejection took %d keys", keys.n)
	}
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(first)).OnlyX(bg)
	if rc.Status != state.Rejected || len(rc.Reasons) != 1 || rc.Reasons[0] != ticked {
		t.Errorf("the rejected case: %s %v, want rejected for %s", rc.Status, rc.Reasons, ticked)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasPrefix(loc, base+"/console/cases/"+second) {
		t.Errorf("landed on %q, want %s", loc, second)
	}

	// A return needs words for the applicant: B, 1, Enter asks for them.
	browserDo(t, ctx, "B, 1, Enter",
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`),
		chromedp.KeyEvent("b"), chromedp.KeyEvent("1"), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS("#decision-client-error")),
	)
	// The script says what the server would (data-refuse-message), word for word.
	if msg := browserText(t, ctx, "#decision-client-error"); strings.TrimSpace(msg) != recovery.ErrNeedMessage.Message {
		t.Errorf("the return without words: %q, want the server's %q", msg, recovery.ErrNeedMessage.Message)
	}
	if focused, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); focused != "decision-message" {
		t.Errorf("focus on %q, want the message", focused)
	}
	if rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(second)).OnlyX(bg); rc.Status != state.InReview {
		t.Errorf("the return went in without its words: %s", rc.Status)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("page errors: %s", strings.Join(p, "\n"))
	}
}
