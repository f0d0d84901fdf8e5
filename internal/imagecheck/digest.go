package imagecheck

import (
	"encoding/binary"
	"hash/maphash"
	"image"
)

// pixelDigest hashes exactly what a viewer would see of img: its type, its
// bounds and every sample inside them (for YCbCr the chroma samples each
// pixel uses; for Paletted the palette too). Two images with the same digest
// under the same secret seed have identical pixels, barring a 2⁻⁶⁴ accident:
// the seed is random per Check, so an upload cannot be crafted to collide.
// maphash runs at memory speed, so comparing this way costs far less than
// the decode it checks, and needs no second image in memory.
func pixelDigest(seed maphash.Seed, img image.Image) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	b := img.Bounds()
	var hdr [4 * 8]byte
	for i, v := range [4]int{b.Min.X, b.Min.Y, b.Max.X, b.Max.Y} {
		binary.LittleEndian.PutUint64(hdr[8*i:], uint64(v))
	}
	h.Write(hdr[:])
	rows := func(kind byte, pix []byte, stride, off, rowBytes int) {
		h.WriteByte(kind)
		for range b.Dy() {
			h.Write(pix[off : off+rowBytes])
			off += stride
		}
	}
	dx := b.Dx()
	if b.Empty() {
		return h.Sum64()
	}
	switch m := img.(type) {
	case *image.Gray:
		rows(1, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), dx)
	case *image.Gray16:
		rows(2, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 2*dx)
	case *image.RGBA:
		rows(3, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 4*dx)
	case *image.NRGBA:
		rows(4, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 4*dx)
	case *image.RGBA64:
		rows(5, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 8*dx)
	case *image.NRGBA64:
		rows(6, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 8*dx)
	case *image.CMYK:
		rows(7, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), 4*dx)
	case *image.Paletted:
		rows(8, m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), dx)
		for _, c := range m.Palette {
			r, g, bl, a := c.RGBA()
			var p [16]byte
			binary.LittleEndian.PutUint32(p[0:], r)
			binary.LittleEndian.PutUint32(p[4:], g)
			binary.LittleEndian.PutUint32(p[8:], bl)
			binary.LittleEndian.PutUint32(p[12:], a)
			h.Write(p[:])
		}
	case *image.YCbCr:
		h.WriteByte(byte(m.SubsampleRatio))
		rows(9, m.Y, m.YStride, m.YOffset(b.Min.X, b.Min.Y), dx)
		// The chroma samples of row y are those at COffset(x, y) for x in
		// bounds; with subsampling, consecutive rows may share them.
		for y := b.Min.Y; y < b.Max.Y; y++ {
			lo, hi := m.COffset(b.Min.X, y), m.COffset(b.Max.X-1, y)+1
			h.Write(m.Cb[lo:hi])
			h.Write(m.Cr[lo:hi])
		}
	default:
		h.WriteByte(0)
		var p [16]byte
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				binary.LittleEndian.PutUint32(p[0:], r)
				binary.LittleEndian.PutUint32(p[4:], g)
				binary.LittleEndian.PutUint32(p[8:], bl)
				binary.LittleEndian.PutUint32(p[12:], a)
				h.Write(p[:])
			}
		}
	}
	return h.Sum64()
}
