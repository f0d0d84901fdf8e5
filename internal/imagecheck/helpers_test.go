package imagecheck

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"math/bits"
	"runtime"
	"testing"

	"recoverydesk/internal/testenv/testimage"
)

// Test images are generated here, with the standard encoders where they can
// write the variant and by hand where they cannot (CMYK, RGB and 4:4:4
// JPEGs, progressive JPEGs, interlaced PNGs, PNG chunks).

// photo is testimage.Photo: a smooth picture with grain.
func photo(w, h int, seed uint64, noise int) *image.RGBA { return testimage.Photo(w, h, seed, noise) }

func grayOf(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			g.Set(x, y, img.At(x, y))
		}
	}
	return g
}

// encodeJPEG is testimage.JPEG.
func encodeJPEG(t testing.TB, img image.Image, quality int) []byte {
	return testimage.JPEG(t, img, quality)
}

// encodePNG is testimage.PNG.
func encodePNG(t testing.TB, img image.Image) []byte { return testimage.PNG(t, img) }

// --- JPEG assembly ---

func segment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	return append(s, payload...)
}

// withSegments inserts segments right after SOI.
func withSegments(jpg []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	return append(out, jpg[2:]...)
}

// exifWithGPS is an APP1 payload: "Exif\0\0", a little-endian TIFF header,
// IFD0 with Make and a GPS IFD pointer, and a GPS IFD with latitude and a
// processing method string that the tests look for.
func exifWithGPS() []byte {
	le := binary.LittleEndian
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	entry := func(b []byte, tag, typ uint16, count, value uint32) []byte {
		b = le.AppendUint16(b, tag)
		b = le.AppendUint16(b, typ)
		b = le.AppendUint32(b, count)
		return le.AppendUint32(b, value)
	}
	make_ := []byte("ACME-CAM-SERIAL-0042\x00")
	method := []byte("ASCII\x00\x00\x00GPS-SECRET-LOCATION")
	// Layout: IFD0 (2 entries) at 8, GPS IFD (3 entries) after it, then data.
	ifd0 := 8
	gps := ifd0 + 2 + 2*12 + 4
	data := gps + 2 + 3*12 + 4
	makeOff, latOff := data, data+len(make_)
	methodOff := latOff + 24
	b := le.AppendUint16(tiff, 2)
	b = entry(b, 0x010F, 2, uint32(len(make_)), uint32(makeOff)) // Make
	b = entry(b, 0x8825, 4, 1, uint32(gps))                      // GPSInfo IFD pointer
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, 3)
	b = entry(b, 0x0001, 2, 2, uint32('N'))                         // GPSLatitudeRef "N"
	b = entry(b, 0x0002, 5, 3, uint32(latOff))                      // GPSLatitude
	b = entry(b, 0x001B, 7, uint32(len(method)), uint32(methodOff)) // GPSProcessingMethod
	b = le.AppendUint32(b, 0)
	b = append(b, make_...)
	for _, v := range []uint32{23, 1, 7, 1, 4567, 100} {
		b = le.AppendUint32(b, v)
	}
	b = append(b, method...)
	return append([]byte("Exif\x00\x00"), b...)
}

const xmpPacket = `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="23,7.4567N" dc:creator="XMP-SECRET-CREATOR"/></rdf:RDF></x:xmpmeta>`

var fakeICC = []byte("FAKE-ICC-PROFILE sRGB IEC61966-2.1 (kept byte for byte)")

// metadataJPEGSegments returns what a phone or an editor typically adds,
// each with a recognisable secret, plus the ICC and Adobe segments to keep.
func metadataJPEGSegments() [][]byte {
	jfif := []byte("JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x02\x01THUMB!") // a 2×1 thumbnail
	return [][]byte{
		segment(markerAPP0, jfif),
		segment(0xE1, exifWithGPS()),
		segment(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpPacket...)),
		segment(markerAPP2, append([]byte("ICC_PROFILE\x00\x01\x01"), fakeICC...)),
		segment(markerAPP2, []byte("FPXR\x00FLASHPIX-SECRET")),
		segment(0xED, []byte("Photoshop 3.0\x008BIM\x04\x04IPTC-SECRET-BYLINE")),
		segment(markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01")), // transform 1: YCbCr
		segment(markerCOM, []byte("COMMENT-SECRET 广州市天河区某路1号")),
	}
}

// secrets are strings that must not survive stripping.
var secrets = []string{"Exif", "GPS-SECRET", "ACME-CAM-SERIAL", "xmpmeta", "ns.adobe.com/xap", "XMP-SECRET",
	"FLASHPIX", "Photoshop", "IPTC-SECRET", "COMMENT-SECRET", "THUMB!", "TRAILING-SECRET",
	"tEXt", "zTXt", "iTXt", "eXIf", "tIME", "PNG-TEXT-SECRET"}

// jpegParts returns the DQT, DHT and frame payloads and the entropy-coded
// data of a single-scan JPEG written by image/jpeg.
func jpegParts(t testing.TB, jpg []byte) (dqt, dht [][]byte, entropy []byte) {
	t.Helper()
	err := walkJPEG(jpg, func(s jpegSegment) error {
		switch s.marker {
		case 0xDB:
			dqt = append(dqt, s.payload)
		case 0xC4:
			dht = append(dht, s.payload)
		case markerSOS:
			entropy = s.entropy
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dqt, dht, entropy
}

// planarJPEG assembles a baseline JPEG with one full-resolution component per
// plane, each coded in its own (non-interleaved) scan: the entropy data of a
// greyscale JPEG of that plane is exactly such a scan. This gives the
// variants image/jpeg cannot write: YCbCr 4:4:4, RGB, CMYK and YCCK.
func planarJPEG(t testing.TB, planes []*image.Gray, ids []byte, pre ...[]byte) []byte {
	t.Helper()
	b := planes[0].Bounds()
	out := []byte{0xFF, markerSOI}
	for _, s := range pre {
		out = append(out, s...)
	}
	var scans [][]byte
	var dqt, dht [][]byte
	for _, p := range planes {
		var e []byte
		dqt, dht, e = jpegParts(t, encodeJPEG(t, p, 90))
		scans = append(scans, e)
	}
	for _, q := range dqt {
		out = append(out, segment(0xDB, q)...)
	}
	sof := []byte{8, byte(b.Dy() >> 8), byte(b.Dy()), byte(b.Dx() >> 8), byte(b.Dx()), byte(len(planes))}
	for _, id := range ids {
		sof = append(sof, id, 0x11, 0)
	}
	out = append(out, segment(markerSOF0, sof)...)
	for _, h := range dht {
		out = append(out, segment(0xC4, h)...)
	}
	for i, e := range scans {
		out = append(out, segment(markerSOS, []byte{1, ids[i], 0x00, 0, 63, 0})...)
		out = append(out, e...)
	}
	return append(out, 0xFF, markerEOI)
}

// bitWriter writes entropy-coded data: MSB first, FF stuffed with 00, padded
// with 1 bits.
type bitWriter struct {
	out  []byte
	acc  uint32
	nacc uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := n; i > 0; i-- {
		w.acc = w.acc<<1 | (v>>(i-1))&1
		w.nacc++
		if w.nacc == 8 {
			w.out = append(w.out, byte(w.acc))
			if byte(w.acc) == 0xFF {
				w.out = append(w.out, 0)
			}
			w.acc, w.nacc = 0, 0
		}
	}
}

func (w *bitWriter) flush() []byte {
	for w.nacc != 0 {
		w.put(1, 1)
	}
	return w.out
}

// progressiveJPEG writes a progressive JPEG of n full-resolution components
// whose 8×8 blocks are flat: one interleaved DC scan with level dc(comp, bx,
// by) in -128..127, then acScans AC scans (spectral 1–63) per component
// that hold only end-of-band runs. Tables are chosen for simplicity: all
// quantisers 8, every Huffman code 4 bits long.
func progressiveJPEG(w, h, n, acScans int, dc func(c, bx, by int) int, pre ...[]byte) []byte {
	out := []byte{0xFF, markerSOI}
	for _, s := range pre {
		out = append(out, s...)
	}
	dqt := []byte{0}
	for range 64 {
		dqt = append(dqt, 8)
	}
	out = append(out, segment(0xDB, dqt)...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), byte(n)}
	for c := range n {
		sof = append(sof, byte(c+1), 0x11, 0)
	}
	out = append(out, segment(markerSOF2, sof)...)
	counts := func(k int) []byte { c := make([]byte, 16); c[3] = byte(k); return c }
	dcTable := append([]byte{0x00}, counts(12)...)
	for s := range 12 {
		dcTable = append(dcTable, byte(s))
	}
	acTable := append([]byte{0x10}, counts(15)...)
	for r := range 15 {
		acTable = append(acTable, byte(r<<4))
	}
	out = append(out, segment(0xC4, dcTable)...)
	out = append(out, segment(0xC4, acTable)...)

	bw, bh := (w+7)/8, (h+7)/8
	sos := []byte{byte(n)}
	for c := range n {
		sos = append(sos, byte(c+1), 0x00)
	}
	out = append(out, segment(markerSOS, append(sos, 0, 0, 0))...)
	var bwr bitWriter
	pred := make([]int, n)
	for by := range bh {
		for bx := range bw {
			for c := range n {
				v := dc(c, bx, by) * 8 // DC coefficient of a flat block: 8× its level
				diff := v/8 - pred[c]  // quantised by 8
				pred[c] = v / 8
				size := uint(bits.Len(uint(max(diff, -diff))))
				bwr.put(uint32(size), 4)
				if diff < 0 {
					diff += 1<<size - 1
				}
				bwr.put(uint32(diff), size)
			}
		}
	}
	out = append(out, bwr.flush()...)
	for range acScans {
		for c := range n {
			out = append(out, segment(markerSOS, []byte{1, byte(c + 1), 0x00, 1, 63, 0})...)
			var aw bitWriter
			for left := bw * bh; left > 0; {
				r := min(bits.Len(uint(left))-1, 14)
				run := min(left, 1<<(r+1)-1)
				aw.put(uint32(r), 4) // symbol r<<4 has code r
				aw.put(uint32(run-1<<r), uint(r))
				left -= run
			}
			out = append(out, aw.flush()...)
		}
	}
	return append(out, 0xFF, markerEOI)
}

func flatDC(c, bx, by int) int { return (bx*7+by*13+c*50)%200 - 100 }

// --- PNG assembly ---

func pngChunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(c, typ...)
	c = append(c, data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// withChunks inserts chunks after IHDR (those marked late after the IDAT
// run, before IEND).
func withChunks(p []byte, early, late [][]byte) []byte {
	const ihdrEnd = 8 + 12 + 13
	iend := len(p) - 12
	out := append([]byte{}, p[:ihdrEnd]...)
	for _, c := range early {
		out = append(out, c...)
	}
	out = append(out, p[ihdrEnd:iend]...)
	for _, c := range late {
		out = append(out, c...)
	}
	return append(out, p[iend:]...)
}

func zlibBytes(b []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

func ihdr(w, h int, depth, colorType, interlace byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(w))
	b = binary.BigEndian.AppendUint32(b, uint32(h))
	return pngChunk("IHDR", append(b, depth, colorType, 0, 0, interlace))
}

// pngHeaderOnly is a PNG that stops after IHDR and a tiny IDAT: enough for
// DecodeConfig, hopeless for a decode.
func pngHeaderOnly(w, h int, colorType byte) []byte {
	p := append([]byte{}, pngSignature...)
	p = append(p, ihdr(w, h, 8, colorType, 0)...)
	p = append(p, pngChunk("IDAT", zlibBytes([]byte{0, 0, 0}))...)
	return append(p, pngChunk("IEND", nil)...)
}

// adam7PNG writes img as an interlaced 8-bit RGBA PNG, which image/png
// cannot.
func adam7PNG(img *image.NRGBA) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	passes := [7][4]int{{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}
	var raw []byte
	for _, ps := range passes {
		if ps[0] >= w || ps[1] >= h {
			continue
		}
		for y := ps[1]; y < h; y += ps[3] {
			raw = append(raw, 0)
			for x := ps[0]; x < w; x += ps[2] {
				o := img.PixOffset(b.Min.X+x, b.Min.Y+y)
				raw = append(raw, img.Pix[o:o+4]...)
			}
		}
	}
	p := append([]byte{}, pngSignature...)
	p = append(p, ihdr(w, h, 8, 6, 1)...)
	p = append(p, pngChunk("IDAT", zlibBytes(raw))...)
	return append(p, pngChunk("IEND", nil)...)
}

// --- assertions ---

// samePixels reports whether a and b have the same type, bounds and colour
// at every pixel, checked independently of pixelDigest.
func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() || typeName(a) != typeName(b) {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.RGBA64Model.Convert(a.At(x, y)) != color.RGBA64Model.Convert(b.At(x, y)) {
				return false
			}
		}
	}
	return true
}

func typeName(i any) string {
	switch i.(type) {
	case *image.Gray:
		return "Gray"
	case *image.Gray16:
		return "Gray16"
	case *image.RGBA:
		return "RGBA"
	case *image.NRGBA:
		return "NRGBA"
	case *image.RGBA64:
		return "RGBA64"
	case *image.NRGBA64:
		return "NRGBA64"
	case *image.CMYK:
		return "CMYK"
	case *image.YCbCr:
		return "YCbCr"
	case *image.Paletted:
		return "Paletted"
	}
	return "other"
}

// allocated returns the bytes allocated while f runs.
func allocated(f func()) uint64 {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	f()
	runtime.ReadMemStats(&m1)
	return m1.TotalAlloc - m0.TotalAlloc
}
