// Package testimage makes the pictures tests feed to the image checks and
// the watermark: deterministic, and shaped like photos rather than flat
// fills, so that encoders, hashes and timings behave as on real uploads.
package testimage

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"testing"
)

// JPEG encodes img as a baseline JPEG at quality, failing the test if it
// cannot.
func JPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// PNG encodes img as a PNG, failing the test if it cannot.
func PNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// PhonePhoto is a 3000×2000 Photo as a JPEG at quality 90, about 1.5 MB: the
// size of a phone upload after the app's own downscaling, the common case
// for the image checks and the console's watermark.
func PhonePhoto(t testing.TB) []byte {
	t.Helper()
	data := JPEG(t, Photo(3000, 2000, 42, 13), 90)
	if len(data) < 1_300_000 || len(data) > 1_800_000 {
		t.Fatalf("benchmark photo is %d bytes, want about 1.5 MB", len(data))
	}
	return data
}

// Photo is a smooth picture with grain: a random 12×9 colour grid upsampled
// bilinearly, plus uniform noise of ±noise. Different seeds give pictures
// with different structure; the noise makes JPEGs as large as real photos.
func Photo(w, h int, seed uint64, noise int) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 0x1ead))
	const gw, gh = 12, 9
	var grid [gh + 1][gw + 1][3]float64
	for y := range grid {
		for x := range grid[y] {
			for c := range 3 {
				grid[y][x][c] = 20 + 215*r.Float64()
			}
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		fy := float64(y) * gh / float64(h)
		iy, ty := int(fy), fy-float64(int(fy))
		for x := range w {
			fx := float64(x) * gw / float64(w)
			ix, tx := int(fx), fx-float64(int(fx))
			o := img.PixOffset(x, y)
			for c := range 3 {
				v := (grid[iy][ix][c]*(1-tx)+grid[iy][ix+1][c]*tx)*(1-ty) +
					(grid[iy+1][ix][c]*(1-tx)+grid[iy+1][ix+1][c]*tx)*ty
				if noise > 0 {
					v += float64(r.IntN(2*noise+1) - noise)
				}
				img.Pix[o+c] = uint8(min(max(v, 0), 255))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}
