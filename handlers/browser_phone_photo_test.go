package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"recoverydesk/ent/evidence"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/testenv"
)

// phonePhoto is what a phone camera hands the browser: 4000×3000 with
// sensor noise, a JPEG at quality 100 of at least 5 MB.
func phonePhoto(t testing.TB) []byte {
	t.Helper()
	w, h := 4000, 3000
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(4000, 3000))
	for y := range h {
		for x := range w {
			n := uint8(r.IntN(8))
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/w)^n, uint8(y*255/h)^n, uint8((x+y)*127/(w+h))+n, 255
		}
	}
	b := jpegQuality(t, img, 100)
	if len(b) < 5<<20 {
		t.Fatalf("the phone photo is only %d bytes", len(b))
	}
	return b
}

// TestBrowserAPhonePhotoJustWorks: a 5 MB 4000×3000 photo, over the 2 MB
// limit, is downscaled in the browser and uploads; the tile says it was
// compressed and to what size, and the server stores at most 2400 px.
func TestBrowserAPhonePhotoJustWorks(t *testing.T) {
	browser := testenv.Browser(t)
	file := filepath.Join(t.TempDir(), "IMG_20260420_093012.jpg")
	if err := os.WriteFile(file, phonePhoto(t), 0o600); err != nil {
		t.Fatal(err)
	}
	forEachViewport(t, browser, func(t *testing.T, vp viewport) {
		s, a := unitAtUpload(t)
		base := s.listen(t)
		ctx, problems := browsing(t, browser, 40*time.Second)
		browserDo(t, ctx, "step 3 of the wizard",
			chromedp.Navigate(base+"/recover"),
			chromedp.WaitVisible(chromedp.CSS("#step-1")),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`sessionStorage.setItem("rd.recovery", JSON.stringify({id: %q, token: %q, kind: "unit"}))`, a.id, a.token)),
			chromedp.Navigate(base+"/recover?kind=unit"),
			chromedp.WaitVisible(chromedp.CSS("#tile-id_front")),
			chromedp.SetUploadFiles(chromedp.CSS("#file-id_front"), []string{file}),
			chromedp.Poll[chromedp.Void](`document.querySelector("#tile-id_front").classList.contains("is-done")`, chromedp.WithPollingTimeout(30*time.Second)),
		)
		if msg := browserText(t, ctx, "#error-id_front"); msg != "" {
			t.Errorf("tile error %q", msg)
		}
		shrunk := browserText(t, ctx, "#shrunk-id_front")
		ev := s.db.Ent.Evidence.Query().Where(evidence.KindEQ(evidence.KindIDFront)).OnlyX(context.Background())
		// The line names the size sent; the server stores it less any
		// metadata, so the two agree to within the rounding of the line.
		m := regexp.MustCompile(`^照片较大，已自动压缩为 (\d+(?:\.\d)?) (MB|KB) 后上传$`).FindStringSubmatch(shrunk)
		if m == nil {
			t.Fatalf("the tile says %q", shrunk)
		}
		sent, _ := strconv.ParseFloat(m[1], 64)
		if m[2] == "MB" {
			sent *= 1 << 20
		} else {
			sent *= 1 << 10
		}
		if diff := sent - float64(ev.Size); diff > 0.06*(1<<20) || diff < -0.06*(1<<20) {
			t.Errorf("the tile says %q, the server stored %d bytes", shrunk, ev.Size)
		}
		if max(ev.Width, ev.Height) > imagecheck.DownscaleTo || ev.Width != 2400 || ev.Height != 1800 || ev.Size > imagecheck.MaxBytes ||
			ev.ContentType != "image/jpeg" {
			t.Errorf("stored %d×%d, %d bytes, %s", ev.Width, ev.Height, ev.Size, ev.ContentType)
		}
		if status := browserText(t, ctx, "#status-id_front"); !strings.Contains(status, "2400×1800") {
			t.Errorf("tile status %q", status)
		}
		if p := problems(); len(p) > 0 {
			t.Errorf("page errors: %s", strings.Join(p, "\n"))
		}
	})
}

func jpegQuality(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
