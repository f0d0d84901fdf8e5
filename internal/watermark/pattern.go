package watermark

import "math"

// Coverage classes of a pixel under the pattern.
const (
	coverNone = 0
	coverHalo = 1 // the light rim around the ink, visible on dark areas
	coverInk  = 2 // the glyphs themselves, visible on light areas
)

// Geometry of the pattern, in multiples of the text's cell height or glyph
// pitch so that it looks the same at every image size.
const (
	// textHeightPermille is the capital height as a share of the image's
	// shorter side: 2.5 %, large enough to read in a phone screenshot, small
	// enough to leave the document readable between the lines.
	textHeightPermille = 25
	// minTextHeight is the smallest capital height in pixels; below it the
	// glyphs smear once the JPEG encoder has been at them.
	minTextHeight = 12
	// gapGlyphs is the blank space between two copies of the text on one
	// line, in glyph pitches.
	gapGlyphs = 3
	// lineCells is the distance from one line of text to the next, in glyph
	// cell heights: about a quarter of the image is under a line (a third
	// at 3 hid too much of a document), and a crop of a sixteenth of the
	// image still crosses one.
	lineCells = 4
	// angleDegrees is the slope of the lines: text rises to the right, so a
	// crop of any shape still cuts through several lines.
	angleDegrees = 30
)

// fixedOne is 1.0 in the 16.16 fixed-point coordinates of the pattern walk.
const fixedOne = 1 << 16

// pattern is the watermark for one text and one image size: a band holding
// one line of text (ink and halo, already scaled), repeated along the line
// every period pixels and across it every pitch pixels, every other line
// shifted by half a period so the copies form a brick wall, all rotated by
// angleDegrees about the image centre. It is built once per Apply and read
// by row, so drawing costs a table lookup per pixel.
type pattern struct {
	scale  int // image pixels per font pixel
	period int // repeat along a line, in pixels
	pitch  int // distance between lines, in pixels
	bandH  int // rows of band: the text cell plus the halo above and below
	stride int // bytes per band row: period + period/2, so a shifted line needs no wrap
	band   []byte

	cos, sin int // rotation in 16.16
	cx, cy   int // image centre
	u0, v0   int // band position of the image centre, 16.16
}

// scaleFor returns how many image pixels one font pixel takes for an image
// whose shorter side is short.
func scaleFor(short int) int {
	s := (short*textHeightPermille + 500*glyphCap) / (1000 * glyphCap) // rounded
	return max(s, (minTextHeight+glyphCap-1)/glyphCap)
}

// newPattern lays out text (already sanitized, not empty) for a w×h image.
func newPattern(text []byte, w, h int) *pattern {
	s := scaleFor(min(w, h))
	halo := max(1, s/3)
	textW := (len(text)*glyphPitch - (glyphPitch - glyphW)) * s
	textH := glyphH * s
	p := &pattern{
		scale:  s,
		period: textW + 2*halo + gapGlyphs*glyphPitch*s,
		pitch:  lineCells * textH,
		bandH:  textH + 2*halo,
	}
	p.stride = p.period + p.period/2
	p.band = make([]byte, p.stride*p.bandH)

	// Paint every font pixel's halo first (a square grown by halo with round
	// corners, so the rim is equally thick all round), then the ink over it.
	for pass := range 2 {
		for i, c := range text {
			rows := glyphRows(c)
			for r, bits := range rows {
				for col := range glyphW {
					if bits&(1<<(glyphW-1-col)) == 0 {
						continue
					}
					x := halo + (i*glyphPitch+col)*s
					y := halo + r*s
					if pass == 0 {
						p.paintHalo(x, y, halo)
					} else {
						p.fill(x, y, x+s, y+s, coverInk)
					}
				}
			}
		}
	}
	// Repeat the start of the band past its period, for the shifted lines.
	for y := range p.bandH {
		row := p.band[y*p.stride:]
		copy(row[p.period:p.stride], row[:p.stride-p.period])
	}

	rad := angleDegrees * math.Pi / 180
	p.cos = int(math.Round(math.Cos(rad) * fixedOne))
	p.sin = int(math.Round(math.Sin(rad) * fixedOne))
	p.cx, p.cy = w/2, h/2
	// The centre of the image shows the middle of one whole copy of the text.
	p.u0 = (halo + textW/2) * fixedOne
	p.v0 = (p.bandH / 2) * fixedOne
	return p
}

// fill sets band cells in [x0,x1)×[y0,y1) to v.
func (p *pattern) fill(x0, y0, x1, y1 int, v byte) {
	for y := y0; y < y1; y++ {
		row := p.band[y*p.stride:]
		for x := x0; x < x1; x++ {
			row[x] = v
		}
	}
}

// paintHalo marks the cells within distance r of the font pixel whose
// top-left image pixel is (x, y).
func (p *pattern) paintHalo(x, y, r int) {
	s := p.scale
	for py := y - r; py < y+s+r; py++ {
		ey := max(y-py, 0, py-(y+s-1))
		row := p.band[py*p.stride:]
		for px := x - r; px < x+s+r; px++ {
			ex := max(x-px, 0, px-(x+s-1))
			if ex*ex+ey*ey <= r*r && row[px] == coverNone {
				row[px] = coverHalo
			}
		}
	}
}

// row writes the coverage class of pixels (0, y) … (len(cov)-1, y) into cov.
//
// A pixel's position on the pattern is its offset from the image centre
// turned by the pattern's angle: u runs along the lines of text and v across
// them. Both advance by a constant step per pixel, so inside a line the walk
// is two adds, two compares and a table lookup per pixel, with no division
// and no interface call; between lines (two thirds of the image) it computes
// where the next line starts and clears the gap in one go.
func (p *pattern) row(y int, cov []byte) {
	period := p.period * fixedOne
	twoPitch := 2 * p.pitch * fixedOne
	dx, dy := -p.cx, y-p.cy
	u := mod(dx*p.cos-dy*p.sin+p.u0, period)
	v := mod(dx*p.sin+dy*p.cos+p.v0, twoPitch)
	band, stride, bandH, pitch, shift := p.band, p.stride, p.bandH, p.pitch, p.period/2
	for x := 0; x < len(cov); {
		iv := v >> 16
		if iv >= bandH && (iv < pitch || iv >= pitch+bandH) {
			next := 2 * pitch
			if iv < pitch {
				next = pitch
			}
			n := min((next*fixedOne-v+p.sin-1)/p.sin, len(cov)-x)
			clear(cov[x : x+n])
			x += n
			u = (u + n*p.cos) % period
			if v += n * p.sin; v >= twoPitch {
				v -= twoPitch
			}
			continue
		}
		iu := u >> 16
		if iv < bandH {
			cov[x] = band[iv*stride+iu]
		} else {
			cov[x] = band[(iv-pitch)*stride+iu+shift]
		}
		x++
		if u += p.cos; u >= period {
			u -= period
		}
		if v += p.sin; v >= twoPitch {
			v -= twoPitch
		}
	}
}

// mod is a modulo m that is never negative.
func mod(a, m int) int {
	a %= m
	if a < 0 {
		a += m
	}
	return a
}
