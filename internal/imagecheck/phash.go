package imagecheck

import (
	"image"
	"image/color"
	"math/bits"
)

// Hamming returns the number of bits in which two PHash values differ. At
// most NearDuplicateDistance means "probably the same picture": a flag for
// the reviewer that this evidence was already submitted, perhaps re-saved.
func Hamming(a, b uint64) int {
	return bits.OnesCount64(a ^ b)
}

// dHash is the difference hash of img: the image is reduced to a 9×8 grid of
// mean luma (a box filter over every pixel, so JPEG noise and rescaling
// average out), and bit r*8+c is set when cell (r, c) is brighter than its
// right neighbour. It depends on the picture's gradients, not on its size,
// brightness or encoding, which is what a near-duplicate flag needs. Cost:
// one pass over the luma, two rows of scratch.
func dHash(img image.Image) uint64 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 9 || h < 8 {
		return 0
	}
	// Column x belongs to cell x*9/w; cell c starts at ceil(c*w/9).
	var start [10]int
	for c := range start {
		start[c] = (c*w + 8) / 9
	}
	var sums [8][9]uint64
	row := make([]uint8, w)
	readRow := lumaRows(img, row)
	for y := range h {
		readRow(b.Min.Y + y)
		s := &sums[y*8/h]
		for c := range 9 {
			var t uint64
			for _, v := range row[start[c]:start[c+1]] {
				t += uint64(v)
			}
			s[c] += t
		}
	}
	var hash uint64
	for r := range 8 {
		for c := range 8 {
			// Compare the means without dividing: cells in a row differ in
			// width by at most one column, and every cell spans the same rows.
			wl, wr := uint64(start[c+1]-start[c]), uint64(start[c+2]-start[c+1])
			if sums[r][c]*wr > sums[r][c+1]*wl {
				hash |= 1 << (r*8 + c)
			}
		}
	}
	return hash
}

// luma8 is ITU-R BT.601 luma, the Y of JFIF's YCbCr, so a PNG and a JPEG of
// the same picture hash alike.
func luma8(r, g, b uint32) uint32 {
	return (19595*r + 38470*g + 7471*b + 1<<15) >> 16
}

// lumaRows returns a function that fills row with the 8-bit luma of line y
// of img, transparent pixels shown over white (paper). The image types
// image/png and image/jpeg return are read directly from their buffers; any
// other type goes through At, which is slow but correct.
func lumaRows(img image.Image, row []uint8) func(y int) {
	x0 := img.Bounds().Min.X
	switch m := img.(type) {
	case *image.Gray:
		return func(y int) { copy(row, m.Pix[m.PixOffset(x0, y):]) }
	case *image.YCbCr:
		return func(y int) { copy(row, m.Y[m.YOffset(x0, y):]) }
	case *image.Gray16:
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				row[i] = pix[2*i]
			}
		}
	case *image.RGBA: // premultiplied: over white adds 255-a
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				p := pix[4*i : 4*i+4 : 4*i+4]
				row[i] = uint8(luma8(uint32(p[0]), uint32(p[1]), uint32(p[2])) + 255 - uint32(p[3]))
			}
		}
	case *image.NRGBA:
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				p := pix[4*i : 4*i+4 : 4*i+4]
				row[i] = overWhite(luma8(uint32(p[0]), uint32(p[1]), uint32(p[2])), uint32(p[3]))
			}
		}
	case *image.RGBA64:
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				p := pix[8*i : 8*i+8 : 8*i+8]
				row[i] = uint8(luma8(uint32(p[0]), uint32(p[2]), uint32(p[4])) + 255 - uint32(p[6]))
			}
		}
	case *image.NRGBA64:
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				p := pix[8*i : 8*i+8 : 8*i+8]
				row[i] = overWhite(luma8(uint32(p[0]), uint32(p[2]), uint32(p[4])), uint32(p[6]))
			}
		}
	case *image.CMYK:
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				p := pix[4*i : 4*i+4 : 4*i+4]
				r, g, b := color.CMYKToRGB(p[0], p[1], p[2], p[3])
				row[i] = uint8(luma8(uint32(r), uint32(g), uint32(b)))
			}
		}
	case *image.Paletted:
		var lut [256]uint8 // indexes past the palette read as black, as image/png fills them
		for i, c := range m.Palette {
			if i == len(lut) {
				break
			}
			r, g, b, a := c.RGBA()
			lut[i] = uint8(luma8(r>>8, g>>8, b>>8) + 255 - a>>8)
		}
		return func(y int) {
			pix := m.Pix[m.PixOffset(x0, y):]
			for i := range row {
				row[i] = lut[pix[i]]
			}
		}
	}
	return func(y int) {
		for i := range row {
			r, g, b, a := img.At(x0+i, y).RGBA()
			row[i] = uint8(luma8(r>>8, g>>8, b>>8) + 255 - a>>8)
		}
	}
}

// overWhite composites a non-premultiplied luma l with alpha a over white.
func overWhite(l, a uint32) uint8 {
	return uint8((l*a + 255*(255-a) + 127) / 255)
}

// PHashBands is how many bands a PHash is split into for the near-duplicate
// index: 6 bands of 9 bits and one of 10 (6×9 + 10 = 64). Two hashes at
// most NearDuplicateDistance apart differ in at most that many bits, which
// can touch at most that many bands; with more bands than that, at least one
// band is equal in both (pigeonhole). So the images near a hash are all
// among those that share one of its bands: 7 equality lookups on indexed
// columns instead of a scan, and an exact Hamming check of the few found.
const PHashBands = 7

// bandWidths are the bit widths of the bands, least significant first.
var bandWidths = [PHashBands]uint{9, 9, 9, 9, 9, 9, 10}

// The pigeonhole argument needs more bands than bits that may differ; a
// larger NearDuplicateDistance must come with more (narrower) bands.
var _ = [PHashBands - NearDuplicateDistance - 1]struct{}{}

// BandBits returns where band i lies in a PHash: its lowest bit and its
// width. The migration that fills the band columns of rows written before
// they existed computes them in SQL from it.
func BandBits(i int) (shift, width uint) {
	for _, w := range bandWidths[:i] {
		shift += w
	}
	return shift, bandWidths[i]
}

// Bands splits h into its PHashBands bands: band i is bits
// 9i … 9i+8 (the last band bits 54 … 63), as a small non-negative number.
// The evidence table stores them as indexed columns (phash_b0 … phash_b6).
func Bands(h uint64) [PHashBands]int {
	var out [PHashBands]int
	shift := uint(0)
	for i, w := range bandWidths {
		out[i] = int(h >> shift & (1<<w - 1))
		shift += w
	}
	return out
}
