package watermark

import (
	"bytes"
	"image"
	"image/color"
	"testing"

	"recoverydesk/internal/testenv/testimage"
)

// stampText is what the console passes: a username and the local time.
const stampText = "jm_reviewer 2026-11-27 16:10 CST"

// photo is testimage.Photo: a smooth picture with grain.
func photo(w, h int, seed uint64, noise int) *image.RGBA { return testimage.Photo(w, h, seed, noise) }

// uniform is a w×h image of one grey level.
func uniform(w, h int, level uint8) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = level
	}
	return g
}

// jpegOf is testimage.JPEG.
func jpegOf(t testing.TB, img image.Image, quality int) []byte {
	return testimage.JPEG(t, img, quality)
}

// pngOf is testimage.PNG.
func pngOf(t testing.TB, img image.Image) []byte { return testimage.PNG(t, img) }

// lumaOf decodes data and returns its luma (BT.601, as JPEG stores it) as a
// Gray image, with the decoded image's type name.
func lumaOf(t testing.TB, data []byte) *image.Gray {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("output does not decode: %v", err)
	}
	return toLuma(img)
}

// toLuma converts any image to luma, transparent parts over white.
func toLuma(img image.Image) *image.Gray {
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, gr, bl, a := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			bg := 0xffff - a
			c := color.RGBA64{uint16(r + bg), uint16(gr + bg), uint16(bl + bg), 0xffff}
			g.Pix[y*g.Stride+x] = color.GrayModel.Convert(c).(color.Gray).Y
		}
	}
	return g
}

// control is src through the same decode and encode as Apply but without the
// stamp: comparing Apply's output with it isolates what the stamp changed
// from what JPEG compression changed.
func control(t testing.TB, src []byte) *image.Gray {
	t.Helper()
	img, err := decode(src)
	if err != nil {
		t.Fatal(err)
	}
	return lumaOf(t, jpegOf(t, canvasOf(img).img, Quality))
}

// inkMask is the pattern's coverage of a w×h image for text: where Apply
// puts ink, halo and nothing.
func inkMask(text string, w, h int) [][]byte {
	p := newPattern(sanitize(text), w, h)
	m := make([][]byte, h)
	for y := range m {
		m[y] = make([]byte, w)
		p.row(y, m[y])
	}
	return m
}
