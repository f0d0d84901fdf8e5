package watermark

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// FuzzApply feeds Apply arbitrary bytes and text. It must never panic; it
// either fails with one of its sentinel errors or returns a JPEG of the
// size the input's header declares.
func FuzzApply(f *testing.F) {
	rgba := photo(48, 40, 8, 6)
	gray := toLuma(rgba)
	pal := image.NewPaletted(rgba.Bounds(), color.Palette{color.Transparent, color.White, color.Black})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	jpg := jpegOf(f, rgba, 75)
	for _, seed := range []struct {
		src  []byte
		text string
	}{
		{jpg, stampText},
		{jpegOf(f, gray, 75), "张三 2026-11-27"},
		{pngOf(f, rgba), "x"},
		{pngOf(f, gray), stampText},
		{pngOf(f, pal), "\xff\x00\t"},
		{jpg[:len(jpg)/2], stampText},
		{[]byte("\x89PNG\r\n\x1a\n"), stampText},
		{[]byte{0xff, 0xd8, 0xff, 0xd9}, stampText},
		{[]byte("not an image"), ""},
	} {
		f.Add(seed.src, seed.text)
	}
	f.Fuzz(func(t *testing.T, src []byte, text string) {
		// Keep each run fast: Apply itself admits up to 40 MP.
		cfg, _, cfgErr := image.DecodeConfig(bytes.NewReader(src))
		if cfgErr == nil && cfg.Width*cfg.Height > 1<<20 {
			t.Skip()
		}
		out, ct, err := Apply(src, text)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) &&
				!errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrText) {
				t.Fatalf("error outside the sentinels: %v", err)
			}
			if out != nil || ct != "" {
				t.Fatal("output returned with an error")
			}
			return
		}
		if ct != ContentType {
			t.Fatalf("content type %q", ct)
		}
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("output does not decode: %v", err)
		}
		if cfgErr != nil || img.Bounds().Dx() != cfg.Width || img.Bounds().Dy() != cfg.Height {
			t.Fatalf("output is %v, input header says %d×%d (%v)", img.Bounds(), cfg.Width, cfg.Height, cfgErr)
		}
	})
}
