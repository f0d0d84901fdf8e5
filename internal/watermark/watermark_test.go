package watermark

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
	"testing"
)

// TestApplyCoversWholeImage checks that a crop of any sixteenth of the image
// still carries the stamp: in every cell of a 4×4 grid, a share of the
// pixels differs clearly from the same image encoded without it.
func TestApplyCoversWholeImage(t *testing.T) {
	for _, size := range []image.Point{{1200, 900}, {400, 300}, {300, 1800}, {3000, 2000}} {
		t.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(t *testing.T) {
			src := jpegOf(t, photo(size.X, size.Y, 7, 6), 90)
			out, ct, err := Apply(src, stampText)
			if err != nil {
				t.Fatal(err)
			}
			if ct != "image/jpeg" || !bytes.HasPrefix(out, []byte{0xff, 0xd8}) {
				t.Fatalf("content type %q, output starts % x", ct, out[:4])
			}
			got, want := lumaOf(t, out), control(t, src)
			if got.Bounds() != want.Bounds() {
				t.Fatalf("output is %v, source %v", got.Bounds(), want.Bounds())
			}
			for gy := range 4 {
				for gx := range 4 {
					r := image.Rect(size.X*gx/4, size.Y*gy/4, size.X*(gx+1)/4, size.Y*(gy+1)/4)
					changed := 0
					for y := r.Min.Y; y < r.Max.Y; y++ {
						for x := r.Min.X; x < r.Max.X; x++ {
							if absDiff(got.GrayAt(x, y).Y, want.GrayAt(x, y).Y) >= 16 {
								changed++
							}
						}
					}
					if share := float64(changed) / float64(r.Dx()*r.Dy()); share < 0.02 {
						t.Errorf("cell (%d,%d) %v: %.2f %% of pixels visibly changed, want ≥ 2 %%", gx, gy, r, 100*share)
					}
				}
			}
		})
	}
}

// TestApplyStaysRecognisable checks that the reviewer still sees the
// document: on average a pixel moves by a few levels, far below 25.
func TestApplyStaysRecognisable(t *testing.T) {
	img := photo(1200, 900, 9, 6)
	out, _, err := Apply(pngOf(t, img), stampText)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	mad := meanAbsDiff(got, img)
	t.Logf("mean absolute difference %.2f levels per channel", mad)
	if mad >= 25 {
		t.Errorf("mean absolute difference %.1f levels, want < 25", mad)
	}
}

// TestApplyDrawsTheText checks that what is drawn is the text, where the
// pattern says: dark ink readable on a light background, the light halo on
// a dark one, and on a photo a change that follows the rendered text.
func TestApplyDrawsTheText(t *testing.T) {
	const w, h = 1200, 900
	mask := inkMask(stampText, w, h)
	// meanAt is the mean of got−want over pixels of class k.
	meanAt := func(got, want *image.Gray, k byte) float64 {
		sum, n := 0, 0
		for y := range h {
			for x := range w {
				if mask[y][x] == k {
					sum += int(got.GrayAt(x, y).Y) - int(want.GrayAt(x, y).Y)
					n++
				}
			}
		}
		return float64(sum) / float64(n)
	}

	for _, bg := range []struct {
		level uint8
		class byte
		want  float64 // signed change under that class
	}{
		// At about 15 % opacity (the wants keep the old margin of about 70 %
		// of the blend's exact change, as they did at 35 %).
		{230, coverInk, -20},  // 230 → 201: ink darkens a light page
		{200, coverInk, -17},  // 200 → 175
		{40, coverHalo, +20},  // 40 → 69: the halo lightens a dark one
		{10, coverHalo, +20},  // 10 → 43
		{128, coverInk, -10},  // mid grey: both show (128 → 114)
		{128, coverHalo, +10}, // 128 → 144
	} {
		src := pngOf(t, uniform(w, h, bg.level))
		out, _, err := Apply(src, stampText)
		if err != nil {
			t.Fatal(err)
		}
		d := meanAt(lumaOf(t, out), control(t, src), bg.class)
		if math.Signbit(d) != math.Signbit(bg.want) || math.Abs(d) < math.Abs(bg.want) {
			t.Errorf("background %d: class %d changes by %+.1f levels, want at least %+.0f", bg.level, bg.class, d, bg.want)
		}
		if d := meanAt(lumaOf(t, out), control(t, src), coverNone); math.Abs(d) > 2 {
			t.Errorf("background %d: pixels off the pattern change by %+.1f levels on average", bg.level, d)
		}
	}

	// On a photo the change must follow the rendered text: predict each
	// pixel's change from the mask and the unstamped pixel, and correlate.
	src := jpegOf(t, photo(w, h, 11, 6), 90)
	out, _, err := Apply(src, stampText)
	if err != nil {
		t.Fatal(err)
	}
	got, want := lumaOf(t, out), control(t, src)
	var predicted, actual []float64
	for y := range h {
		for x := range w {
			v := int(want.GrayAt(x, y).Y)
			p := 0
			switch mask[y][x] {
			case coverInk:
				p = int(blend(v, inkTone)) - v
			case coverHalo:
				p = int(blend(v, haloTone)) - v
			}
			predicted = append(predicted, float64(p))
			actual = append(actual, float64(int(got.GrayAt(x, y).Y)-v))
		}
	}
	r := pearson(predicted, actual)
	t.Logf("correlation of predicted and actual change: %.3f", r)
	if r < 0.8 {
		t.Errorf("change correlates with the rendered text at r = %.3f, want ≥ 0.8", r)
	}

	// Another text gives another picture: the stamp is the text, not a
	// fixed pattern.
	other, _, err := Apply(src, "zz_other 2026-11-28 09:00 CST")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other, out) {
		t.Error("two texts give the same output")
	}
}

// TestApplyInputs runs every pixel layout the decoders produce for a PNG or
// JPEG through Apply: each comes back as a JPEG of the same size that looks
// like the source, transparent areas over white.
func TestApplyInputs(t *testing.T) {
	const w, h = 601, 451 // odd, so no MCU or stride lines up
	rgba := photo(w, h, 5, 4)
	nrgba := image.NewNRGBA(rgba.Bounds())
	copy(nrgba.Pix, rgba.Pix)
	for y := range h / 3 { // the top third transparent, the next third half so
		for x := range w {
			nrgba.Pix[nrgba.PixOffset(x, y)+3] = 0
			nrgba.Pix[nrgba.PixOffset(x, y+h/3)+3] = 128
		}
	}
	gray := toLuma(rgba)
	gray16 := image.NewGray16(rgba.Bounds())
	nrgba64 := image.NewNRGBA64(rgba.Bounds())
	pal := image.NewPaletted(rgba.Bounds(), color.Palette{color.Transparent})
	for i := 1; i < 256; i++ {
		pal.Palette = append(pal.Palette, color.NRGBA{uint8(i), uint8(255 - i), uint8(i * 7), 255})
	}
	for y := range h {
		for x := range w {
			gray16.Set(x, y, gray.At(x, y))
			nrgba64.Set(x, y, nrgba.At(x, y))
			pal.SetColorIndex(x, y, uint8((x/7+y/5)%256))
		}
	}
	for _, c := range []struct {
		name string
		src  []byte
		ref  image.Image // what the viewer should see, before the stamp
		gray bool        // output is a greyscale JPEG
	}{
		{"jpeg-ycbcr", jpegOf(t, rgba, 92), rgba, false},
		{"jpeg-gray", jpegOf(t, gray, 92), gray, true},
		{"png-rgba", pngOf(t, rgba), rgba, false},
		{"png-nrgba-alpha", pngOf(t, nrgba), nrgba, false},
		{"png-gray", pngOf(t, gray), gray, true},
		{"png-gray16", pngOf(t, gray16), gray16, false},
		{"png-nrgba64", pngOf(t, nrgba64), nrgba64, false},
		{"png-paletted", pngOf(t, pal), pal, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, ct, err := Apply(c.src, stampText)
			if err != nil {
				t.Fatal(err)
			}
			if ct != ContentType {
				t.Errorf("content type %q", ct)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("output is not a JPEG: %v", err)
			}
			if img.Bounds() != c.ref.Bounds() {
				t.Fatalf("output is %v, source %v", img.Bounds(), c.ref.Bounds())
			}
			if _, isGray := img.(*image.Gray); isGray != c.gray {
				t.Errorf("output is %T", img)
			}
			// Against the source over white: close overall, and the
			// transparent top third is white (not black) under the stamp.
			got, ref := toLuma(img), toLuma(c.ref)
			if mad := meanAbsDiff(got, ref); mad >= 25 {
				t.Errorf("mean absolute difference %.1f levels", mad)
			}
			if c.name == "png-nrgba-alpha" {
				mask := inkMask(stampText, w, h)
				for y := range h / 3 {
					for x := range w {
						if mask[y][x] == coverNone && got.GrayAt(x, y).Y < 230 {
							t.Fatalf("transparent pixel (%d,%d) shows as %d, want white", x, y, got.GrayAt(x, y).Y)
						}
					}
				}
			}
		})
	}
}

// TestApplyRefuses checks that input which is not a sound PNG or JPEG, or an
// unusable text, fails with the right error and never panics.
func TestApplyRefuses(t *testing.T) {
	good := jpegOf(t, photo(300, 200, 1, 2), 80)
	goodPNG := pngOf(t, photo(300, 200, 1, 2))
	for _, c := range []struct {
		name string
		src  []byte
		text string
		want error
	}{
		{"nil", nil, stampText, ErrUnsupported},
		{"text file", []byte("hello, world"), stampText, ErrUnsupported},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), stampText, ErrUnsupported},
		{"png signature only", goodPNG[:8], stampText, ErrCorrupt},
		{"png truncated", goodPNG[:len(goodPNG)/2], stampText, ErrCorrupt},
		{"png bad crc", flipByte(goodPNG, 20), stampText, ErrCorrupt},
		{"jpeg soi only", []byte{0xff, 0xd8, 0xff}, stampText, ErrCorrupt},
		{"jpeg truncated", good[:len(good)/2], stampText, ErrCorrupt},
		{"jpeg header only", good[:200], stampText, ErrCorrupt},
		{"png 9000 wide", pngClaiming(t, goodPNG, 9000, 10), stampText, ErrTooLarge},
		{"png 7000×7000", pngClaiming(t, goodPNG, 7000, 7000), stampText, ErrTooLarge},
		{"png 0 high", pngClaiming(t, goodPNG, 10, 0), stampText, ErrCorrupt}, // image/png refuses it first
		{"jpeg 9000 high", jpegClaiming(t, good, 300, 9000), stampText, ErrTooLarge},
		{"empty text", good, "", ErrText},
		{"blank text", good, "   ", ErrText},
		{"text too long", good, strings.Repeat("x", MaxTextLen+1), ErrText},
		{"non-ASCII too long", good, strings.Repeat("张", MaxTextLen+1), ErrText},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, ct, err := Apply(c.src, c.text)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if out != nil || ct != "" {
				t.Errorf("returned %d bytes of %q with the error", len(out), ct)
			}
		})
	}
	if _, _, err := Apply(good, strings.Repeat("x", MaxTextLen)); err != nil {
		t.Errorf("text of MaxTextLen: %v", err)
	}
}

// TestApplyReplacesNonASCII checks the documented fallback: a rune the font
// lacks is drawn as one '?', and the rest of the text as given.
func TestApplyReplacesNonASCII(t *testing.T) {
	for in, want := range map[string]string{
		"张三 2026-11-27":   "?? 2026-11-27",
		"tab\there":       "tab?here",
		"bad\xffutf8":     "bad?utf8",
		"ok_user 16:10":   "ok_user 16:10",
		"emoji🙂 x":        "emoji? x",
		"del\x7f nul\x00": "del? nul?",
	} {
		if got := string(sanitize(in)); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	src := jpegOf(t, photo(400, 300, 2, 3), 85)
	a, _, errA := Apply(src, "张三 16:10")
	b, _, errB := Apply(src, "?? 16:10")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if !bytes.Equal(a, b) {
		t.Error("non-ASCII text is not drawn as '?'")
	}
}

// TestTextHeight checks the glyph size: 2.5 % of the shorter side, never
// below 12 px.
func TestTextHeight(t *testing.T) {
	for _, c := range []struct{ w, h, capHeight int }{
		{200, 200, 14},   // the minimum: 2 px per font pixel
		{640, 480, 14},   // 2.5 % is 12 px
		{1200, 900, 21},  // 22.5 px wanted
		{3000, 2000, 49}, // 50
		{2480, 3508, 63}, // 62
		{8000, 5000, 126},
	} {
		p := newPattern(sanitize(stampText), c.w, c.h)
		if got := p.scale * glyphCap; got != c.capHeight {
			t.Errorf("%d×%d: capital height %d px, want %d", c.w, c.h, got, c.capHeight)
		}
		if got := p.scale * glyphCap; got < minTextHeight {
			t.Errorf("%d×%d: capital height %d px below %d", c.w, c.h, got, minTextHeight)
		}
	}
}

// TestApplyConcurrent runs Apply from several goroutines at once (with
// -race it checks that nothing is shared) and checks they agree.
func TestApplyConcurrent(t *testing.T) {
	src := jpegOf(t, photo(800, 600, 3, 3), 85)
	want, _, err := Apply(src, stampText)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			got, _, err := Apply(src, stampText)
			if err == nil && !bytes.Equal(got, want) {
				err = errors.New("outputs differ")
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// meanAbsDiff is the mean absolute difference of R, G and B, in 8-bit
// levels, with transparency over white.
func meanAbsDiff(a, b image.Image) float64 {
	r := a.Bounds()
	var sum, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ca, cb := overWhite(a.At(x, y)), overWhite(b.At(x, y))
			for i := range 3 {
				sum += math.Abs(float64(ca[i]) - float64(cb[i]))
				n++
			}
		}
	}
	return sum / n
}

func overWhite(c color.Color) [3]uint8 {
	r, g, b, a := c.RGBA()
	bg := 0xffff - a
	return [3]uint8{uint8((r + bg) >> 8), uint8((g + bg) >> 8), uint8((b + bg) >> 8)}
}

func pearson(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb)
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// pngClaiming is p with its IHDR (and CRC) rewritten to claim w×h.
func pngClaiming(t *testing.T, p []byte, w, h int) []byte {
	t.Helper()
	c := bytes.Clone(p)
	if string(c[12:16]) != "IHDR" {
		t.Fatal("IHDR is not the first chunk")
	}
	binary.BigEndian.PutUint32(c[16:], uint32(w))
	binary.BigEndian.PutUint32(c[20:], uint32(h))
	binary.BigEndian.PutUint32(c[29:], crc32.ChecksumIEEE(c[12:29]))
	return c
}

// jpegClaiming is j with its SOF0 rewritten to claim w×h.
func jpegClaiming(t *testing.T, j []byte, w, h int) []byte {
	t.Helper()
	c := bytes.Clone(j)
	i := bytes.Index(c, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	binary.BigEndian.PutUint16(c[i+5:], uint16(h))
	binary.BigEndian.PutUint16(c[i+7:], uint16(w))
	return c
}
