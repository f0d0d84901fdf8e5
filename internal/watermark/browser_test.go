package watermark

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/internal/testenv"
)

// TestBrowserDecodesSplicedJPEG shows the reviewer's browser the spliced
// files: Chromium (libjpeg-turbo, not Go's decoder) must decode each to
// exactly the pixels it decodes the single-threaded encode to, restart
// markers and all.
func TestBrowserDecodesSplicedJPEG(t *testing.T) {
	browser := testenv.Browser(t)
	ctx := testenv.Within(t, browser, 60*time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	for _, c := range encodeCases(t) {
		if !strings.HasSuffix(c.name, "/11") && !strings.HasPrefix(c.name, "gray-8000") {
			continue // the many-strip cases cover the rest
		}
		t.Run(c.name, func(t *testing.T) {
			spliced, err := encodeStrips(c.img, Quality, 0, c.strips, 2)
			if err != nil {
				t.Fatal(err)
			}
			single := jpegOf(t, c.img, Quality)
			type result struct{ W, H, Diff int }
			got, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(async () => {
				const load = async (b64) => {
					const blob = await (await fetch("data:image/jpeg;base64," + b64)).blob();
					const bmp = await createImageBitmap(blob);
					const c = new OffscreenCanvas(bmp.width, bmp.height).getContext("2d");
					c.drawImage(bmp, 0, 0);
					return {w: bmp.width, h: bmp.height, d: c.getImageData(0, 0, bmp.width, bmp.height).data};
				};
				const a = await load("`+base64.StdEncoding.EncodeToString(single)+`");
				const b = await load("`+base64.StdEncoding.EncodeToString(spliced)+`");
				let diff = a.d.length === b.d.length ? 0 : -1;
				for (let i = 0; diff >= 0 && i < a.d.length; i++) if (a.d[i] !== b.d[i]) diff++;
				return {W: b.w, H: b.h, Diff: diff};
			})()`, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("chromium cannot decode: %v", err)
			}
			if b := c.img.Bounds(); got.W != b.Dx() || got.H != b.Dy() || got.Diff != 0 {
				t.Errorf("chromium decodes %d×%d with %d samples differing from a single encode, want %d×%d and 0",
					got.W, got.H, got.Diff, b.Dx(), b.Dy())
			}
		})
	}
}
