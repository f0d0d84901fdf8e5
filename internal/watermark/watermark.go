// Package watermark stamps evidence images with the name of whoever is
// looking at them, before they leave the server.
//
// Reviewers see applicants' ID photos in the console. Every image they are
// served is a fresh JPEG with their username and the time written across it
// in a tiled, semi-transparent diagonal pattern burnt into the pixels, so a
// screenshot, a phone photo of the screen or a saved file that turns up
// elsewhere names who looked and when. Doing it on the server is the point:
// a watermark drawn by the browser over a clean image is removed by saving
// the image. The stored evidence itself is never changed.
//
// It is a deterrent and a trace, not a lock: someone set on it can paint the
// pattern out of a copy, and nothing is hidden in the pixels beyond what a
// person can read.
//
// The package is pure (no files, no network, no state between calls) and safe
// for concurrent use. Each call holds one decoded image and the output: 1.5
// bytes a pixel for a phone JPEG (about 10 MB for 3000×2000), 4 for an 8-bit
// PNG, up to 12 for a 16-bit PNG (about 400 MB at the 33 MP imagecheck admits
// for those). It also uses every core for the encode. Callers should bound
// how many run at once, as they do for imagecheck.Check.
package watermark

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"runtime"
	"sync"

	"recoverydesk/internal/imagecheck"
)

// ContentType is the type of every image Apply returns. One output format
// keeps handlers simple, and re-encoding a PNG scan as JPEG both shrinks it
// for the console and leaves no lossless copy of the evidence in a reviewer's
// downloads.
const ContentType = "image/jpeg"

// Quality is the JPEG quality of the output: high enough that small print on
// a document stays legible and the stamp's edges stay sharp, well below the
// size of a lossless copy.
const Quality = 85

// MaxTextLen is the longest text Apply accepts, in runes. A username (at
// most 20 characters) and a time fit several times over; the bound keeps the
// pattern's tables small whatever the caller passes.
const MaxTextLen = 80

// Opacity of the stamp, out of 256: about 15 % (38/256). At 35 % the
// stamp hid an ID card's fine print where a line crossed it; at 15 % the
// print reads through the ink, and the name still reads in a screenshot
// because the ink is dark (a fall of about 30 levels on a white card) and
// the halo light.
const opacity = 38

// Tones of the stamp. Dark ink shows on light areas; the light halo round it
// shows on dark ones, so the text is readable on a white ID card and on a
// black coat alike.
const (
	inkTone  = 32
	haloTone = 232
)

// Errors returned by Apply. Callers map them once, to a status and a log
// line; none of their text is meant for the viewer.
var (
	// ErrUnsupported means src is neither a PNG nor a JPEG, judged by its
	// first bytes.
	ErrUnsupported = errors.New("watermark: not a PNG or JPEG image")
	// ErrCorrupt means src starts like a PNG or JPEG but does not decode. For
	// stored evidence, which passed imagecheck at upload, it points at a
	// damaged object in storage.
	ErrCorrupt = errors.New("watermark: image does not decode")
	// ErrTooLarge means src's header claims more pixels than imagecheck
	// admits. It is checked before decoding, so a damaged or foreign object
	// cannot make Apply allocate without bound.
	ErrTooLarge = errors.New("watermark: image dimensions out of range")
	// ErrText means text is empty, only spaces, or longer than MaxTextLen.
	// An image is never served without a stamp: the caller must fix the
	// text, not retry without it.
	ErrText = errors.New("watermark: text empty or too long")
)

// Apply decodes src (a PNG or JPEG), draws text across the whole image in a
// tiled diagonal pattern, and returns the result as a JPEG of the same size,
// with ContentType.
//
// text should be ASCII, typically the viewer's username and the local time
// ("jm_reviewer 2026-11-27 16:10 CST"). The font has printable ASCII only:
// every other rune, control characters included, is drawn as '?', one per
// rune, so a Chinese name still yields a stamp of the right length beside the
// ASCII parts. Empty or over-long text is refused with ErrText rather than
// serving an unmarked image.
//
// The capital height is 2.5 % of the image's shorter side (at least 14 px),
// the ink is dark grey at about 15 % opacity with a light halo, and the lines
// rise at 30°, lineCells text heights apart, copies staggered like bricks, so
// any crop a few text heights across carries part of the name while no
// 100×100 area is fully covered (TestStampLeavesEveryWindowReadable). Transparent areas of a
// PNG are shown over white. Metadata is not copied to the output.
//
// src is meant to be stored evidence, which passed imagecheck.Check at
// upload. Apply does not rely on that for safety: it never panics, and
// dimensions beyond imagecheck's limits fail with ErrTooLarge before any
// pixel buffer is allocated. It does not repeat Check's finer bounds on
// decode memory and JPEG scan count, so a hostile file that never went
// through Check can cost more time and memory than evidence does.
func Apply(src []byte, text string) (out []byte, contentType string, err error) {
	t := sanitize(text)
	if len(t) == 0 || len(t) > MaxTextLen || len(bytes.TrimSpace(t)) == 0 {
		return nil, "", ErrText
	}
	img, err := decode(src)
	if err != nil {
		return nil, "", err
	}
	c := canvasOf(img)
	stamp(c, newPattern(t, c.w, c.h))

	out, err = encode(c.img, Quality, len(src)+len(src)/4)
	if err != nil {
		return nil, "", fmt.Errorf("watermark: encode: %w", err)
	}
	return out, ContentType, nil
}

// decode reads src as PNG or JPEG by its magic bytes, refusing oversized
// dimensions from the header before decoding. It dispatches by hand rather
// than through image.Decode so that no other format registered elsewhere in
// the binary is ever accepted here.
func decode(src []byte) (image.Image, error) {
	var (
		config   func([]byte) (image.Config, error)
		decodeFn func([]byte) (image.Image, error)
		name     string
	)
	switch {
	case bytes.HasPrefix(src, []byte("\x89PNG\r\n\x1a\n")):
		config = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decodeFn = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
		name = "png"
	case bytes.HasPrefix(src, []byte("\xff\xd8\xff")):
		config = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decodeFn = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
		name = "jpeg"
	default:
		return nil, ErrUnsupported
	}
	cfg, err := config(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %w", ErrCorrupt, name, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > imagecheck.MaxSide || cfg.Height > imagecheck.MaxSide ||
		cfg.Width*cfg.Height > imagecheck.MaxPixels {
		return nil, fmt.Errorf("%w: %d×%d", ErrTooLarge, cfg.Width, cfg.Height)
	}
	img, err := decodeFn(src)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, name, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%w: %s decodes to %v, header says %d×%d", ErrCorrupt, name, b, cfg.Width, cfg.Height)
	}
	return img, nil
}

// canvas is an image the JPEG encoder takes without conversion, with the
// samples the stamp changes: the luma plane of a YCbCr or Gray image (one
// byte a pixel) or the R, G and B of an RGBA image (four bytes a pixel). On
// YCbCr only the brightness is blended and the colour under the stamp stays:
// it reads the same, and a JPEG is never converted to RGB and back.
type canvas struct {
	img    image.Image
	pix    []byte // sample of pixel (0, 0)
	stride int
	bpp    int // bytes a pixel: 1 (luma) or 4 (RGBA)
	w, h   int
}

// canvasOf returns img itself when the encoder can take it directly, and
// otherwise an *image.RGBA, with transparency flattened over white: the JPEG
// encoder would show a transparent background as black. A JPEG's YCbCr or
// Gray (the common case) and a PNG's 8-bit RGBA or NRGBA cost no copy: img
// was just decoded and belongs to Apply, so it is changed in place. Other
// layouts (paletted, 16-bit, CMYK) are copied once.
func canvasOf(img image.Image) canvas {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		return canvas{img: m, pix: m.Y[m.YOffset(b.Min.X, b.Min.Y):], stride: m.YStride, bpp: 1, w: b.Dx(), h: b.Dy()}
	case *image.Gray:
		return canvas{img: m, pix: m.Pix[m.PixOffset(b.Min.X, b.Min.Y):], stride: m.Stride, bpp: 1, w: b.Dx(), h: b.Dy()}
	}
	var dst *image.RGBA
	switch m := img.(type) {
	case *image.RGBA:
		flattenRGBA(m)
		dst = m
	case *image.NRGBA:
		flattenNRGBA(m)
		dst = &image.RGBA{Pix: m.Pix, Stride: m.Stride, Rect: m.Rect}
	case *image.Paletted:
		dst = image.NewRGBA(b)
		flattenPaletted(dst, m)
	default:
		// 16-bit PNGs, CMYK JPEGs: rarer, and draw's own paths do well enough.
		dst = image.NewRGBA(b)
		draw.Draw(dst, b, image.White, image.Point{}, draw.Src)
		draw.Draw(dst, b, img, b.Min, draw.Over)
	}
	return canvas{img: dst, pix: dst.Pix[dst.PixOffset(b.Min.X, b.Min.Y):], stride: dst.Stride, bpp: 4, w: b.Dx(), h: b.Dy()}
}

// rowsOf calls f with the bytes of each row of a 4-byte-a-pixel image whose
// pixel r.Min is pix[0].
func rowsOf(pix []byte, stride int, r image.Rectangle, f func(row []byte)) {
	for y := range r.Dy() {
		f(pix[y*stride:][:4*r.Dx()])
	}
}

// flattenNRGBA turns m's straight-alpha pixels, in place, into opaque ones
// over white (and so into valid premultiplied RGBA).
func flattenNRGBA(m *image.NRGBA) {
	rowsOf(m.Pix, m.Stride, m.Rect, func(p []byte) {
		for i := 0; i+3 < len(p); i += 4 {
			a := uint32(p[i+3])
			if a == 0xff {
				continue
			}
			bg := 0xff * (0xff - a)
			p[i] = uint8((uint32(p[i])*a + bg + 0x7f) / 0xff)
			p[i+1] = uint8((uint32(p[i+1])*a + bg + 0x7f) / 0xff)
			p[i+2] = uint8((uint32(p[i+2])*a + bg + 0x7f) / 0xff)
			p[i+3] = 0xff
		}
	})
}

// flattenRGBA turns m's premultiplied pixels, in place, into opaque ones
// over white.
func flattenRGBA(m *image.RGBA) {
	rowsOf(m.Pix, m.Stride, m.Rect, func(p []byte) {
		for i := 0; i+3 < len(p); i += 4 {
			if p[i+3] == 0xff {
				continue
			}
			bg := 0xff - p[i+3]
			// A premultiplied channel never exceeds alpha, so this cannot
			// overflow for valid input; clamp for invalid.
			p[i] = satAdd(p[i], bg)
			p[i+1] = satAdd(p[i+1], bg)
			p[i+2] = satAdd(p[i+2], bg)
			p[i+3] = 0xff
		}
	})
}

// flattenPaletted copies src into dst through its palette, each entry
// flattened over white once.
func flattenPaletted(dst *image.RGBA, src *image.Paletted) {
	var lut [256][4]byte
	for i := range lut {
		lut[i] = [4]byte{0, 0, 0, 0xff} // an index past the palette reads as black, as At does
		if i < len(src.Palette) {
			r, g, bl, a := src.Palette[i].RGBA() // premultiplied, 16-bit
			bg := 0xffff - a
			lut[i] = [4]byte{uint8((r + bg) >> 8), uint8((g + bg) >> 8), uint8((bl + bg) >> 8), 0xff}
		}
	}
	b := src.Bounds()
	for y := range b.Dy() {
		s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:b.Dx()]
		d := dst.Pix[dst.PixOffset(b.Min.X, b.Min.Y+y):][:4*b.Dx()]
		for x, idx := range s {
			copy(d[4*x:4*x+4], lut[idx][:])
		}
	}
}

func satAdd(a, b uint8) uint8 {
	if s := uint16(a) + uint16(b); s < 0xff {
		return uint8(s)
	}
	return 0xff
}

// stamp blends the pattern into c. The blend of each class is a 256-entry
// table, so a covered sample costs one lookup; rows are shared among the
// cores, each with its own coverage buffer.
func stamp(c canvas, p *pattern) {
	var lut [3][256]byte
	for v := range 256 {
		lut[coverNone][v] = uint8(v)
		lut[coverHalo][v] = blend(v, haloTone)
		lut[coverInk][v] = blend(v, inkTone)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, c.h/minStripRows))
	var wg sync.WaitGroup
	for i := range workers {
		y0, y1 := c.h*i/workers, c.h*(i+1)/workers
		wg.Go(func() { stampRows(c, p, &lut, y0, y1) })
	}
	wg.Wait()
}

// stampRows blends rows [y0, y1) of c.
func stampRows(c canvas, p *pattern, lut *[3][256]byte, y0, y1 int) {
	cov := make([]byte, c.w)
	for y := y0; y < y1; y++ {
		p.row(y, cov)
		row := c.pix[y*c.stride:][:c.bpp*c.w]
		for x := 0; x < len(cov); x++ {
			// Most of a row is between lines: skip it eight pixels at a time.
			if x+8 <= len(cov) && binary.NativeEndian.Uint64(cov[x:]) == 0 {
				x += 7
				continue
			}
			k := cov[x]
			if k == coverNone {
				continue
			}
			t := &lut[k]
			if c.bpp == 1 {
				row[x] = t[row[x]]
			} else {
				px := row[4*x : 4*x+3]
				px[0], px[1], px[2] = t[px[0]], t[px[1]], t[px[2]]
			}
		}
	}
}

// blend is v with tone laid over it at opacity, rounded.
func blend(v, tone int) uint8 {
	return uint8((v*(256-opacity) + tone*opacity + 128) >> 8)
}
