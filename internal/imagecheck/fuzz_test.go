package imagecheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color/palette"
	"image/draw"
	"testing"
	"time"
)

// fuzzSeeds are small files of every shape Check distinguishes: valid PNGs
// and JPEGs of each kind, with and without metadata, bombs, truncations.
func fuzzSeeds(f *testing.F) [][]byte {
	src := photo(200, 200, 20, 4)
	gray := grayOf(src)
	nrgba := image.NewNRGBA(src.Bounds())
	copy(nrgba.Pix, src.Pix)
	png := encodePNG(f, src)
	jpg := encodeJPEG(f, src, 75)
	early, late := pngMetadata()
	jpgMeta := withSegments(jpg, metadataJPEGSegments()...)
	adobe0 := segment(markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00"))
	planes := []*image.Gray{gray, gray, gray, gray}
	pal := image.NewPaletted(src.Bounds(), palette.WebSafe)
	draw.Draw(pal, pal.Bounds(), src, image.Point{}, draw.Src)
	return [][]byte{
		png,
		jpg,
		encodePNG(f, gray),
		encodeJPEG(f, gray, 60),
		withChunks(png, early, late),
		withChunks(encodePNG(f, pal), early, late),
		jpgMeta,
		append(append([]byte{}, jpgMeta...), "after EOI"...),
		adam7PNG(nrgba),
		planarJPEG(f, planes[:3], []byte("RGB")),
		planarJPEG(f, planes, []byte{1, 2, 3, 4}, adobe0),
		progressiveJPEG(200, 200, 3, 2, flatDC),
		progressiveJPEG(200, 200, 1, 3, flatDC, segment(markerCOM, []byte("c"))),
		pngHeaderOnly(30000, 30000, 6),
		pngHeaderOnly(8000, 5000, 2),
		progressiveJPEG(8000, 5000, 4, 0, flatDC, adobe0)[:600],
		png[:len(png)/2],
		jpg[:len(jpg)/2],
		jpg[:len(jpg)-2],
		[]byte("GIF89a\x01\x00\x01\x00"),
		{},
	}
}

// prepare is Check short of the decode (Inspect, then Strip): its error is
// Check's for an upload refused before the decode, and p.cost the decode's
// price.
func prepare(data []byte) (*Inspected, error) {
	in, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	if _, err := in.Strip(); err != nil {
		return nil, err
	}
	return in, nil
}

// FuzzCheck feeds arbitrary bytes to Check. Beyond not panicking and not
// hanging, it checks that every refusal is one of the four sentinels with a
// message, that Check allocates no more than the header-derived decode
// cost allows (once, plus a copy of the input), and that an accepted
// image is consistent and stable: checking the stored bytes again gives the
// same bytes.
func FuzzCheck(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var res *Result
		var err error
		if p, perr := prepare(data); perr != nil {
			// Refused before any decode; prepare allocates at most a copy of
			// the input (measured only past this point: ReadMemStats stops
			// the world, and most fuzz inputs end here).
			res, err = Check(data)
			if err == nil || err.Error() != perr.Error() {
				t.Fatalf("Check = %v, prepare = %v", err, perr)
			}
		} else {
			if p.cost > MaxDecodeBytes {
				t.Fatalf("prepare passed a decode costing %d bytes", p.cost)
			}
			start := time.Now()
			got := allocated(func() { res, err = Check(data) })
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Check took %v", d)
			}
			if bound := uint64(p.cost) + uint64(len(data)) + 1<<20; got > bound {
				t.Fatalf("Check allocated %d bytes, bound %d (decode cost %d)", got, bound, p.cost)
			}
		}
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupportedType) &&
				!errors.Is(err, ErrDimensions) && !errors.Is(err, ErrUnreadable) {
				t.Fatalf("error of no known kind: %v", err)
			}
			if res != nil || Message(err) == "" {
				t.Fatalf("refusal %v came with a result or no message", err)
			}
			return
		}
		sum := sha256.Sum256(res.Data)
		switch {
		case res.SHA256 != hex.EncodeToString(sum[:]):
			t.Fatal("SHA256 is not the hash of Data")
		case sniff(res.Data) != sniff(data) || res.ContentType != sniff(data).contentType():
			t.Fatalf("content type %s for %v", res.ContentType, sniff(data))
		case res.Width < MinSide || res.Width > MaxSide || res.Height < MinSide || res.Height > MaxSide:
			t.Fatalf("accepted %d×%d", res.Width, res.Height)
		case len(res.Data) > len(data):
			t.Fatalf("cleaned %d bytes into %d", len(data), len(res.Data))
		}
		again, err := Check(res.Data)
		if err != nil {
			t.Fatalf("stored bytes refused: %v", err)
		}
		if !bytes.Equal(again.Data, res.Data) || again.PHash != res.PHash || again.Width != res.Width || again.Height != res.Height {
			t.Fatal("checking the stored bytes again changed them")
		}
	})
}

// FuzzStrip is the proof Decode relies on when it does not decode the
// stripped bytes a second time. On any input the walkers accept: the output
// is exactly the input minus whole removed segments or chunks (every other
// segment, with its entropy-coded data, or chunk copied byte for byte and in
// order, and nothing else in the output), only metadata kinds are removed
// (JPEG APPn and COM; PNG ancillary chunks, unknown chunks and IDAT chunks
// after the first run, which image/png ignores), stripping is idempotent, and
// whenever the original decodes, the stripped bytes decode to exactly the
// same pixels (compared pixel by pixel). Images are kept small so every
// decode is cheap. `make fuzz-smoke` runs it for 20 s.
func FuzzStrip(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxBytes {
			return
		}
		fm := sniff(data)
		strip := func(b []byte) ([]byte, error) {
			if fm == formatPNG {
				if _, err := scanPNG(b); err != nil {
					return nil, err
				}
				return stripPNG(b)
			}
			fr, err := scanJPEG(b)
			if err != nil {
				return nil, err
			}
			return stripJPEG(b, fr)
		}
		if fm == formatUnknown {
			return
		}
		clean, err := strip(data)
		if err != nil {
			return
		}
		if len(clean) > len(data) {
			t.Fatalf("stripped %d bytes into %d", len(data), len(clean))
		}
		twice, err := strip(clean)
		if err != nil || !bytes.Equal(twice, clean) {
			t.Fatalf("stripping the stripped bytes: %v", err)
		}
		if fm == formatPNG {
			assertPNGMinusChunks(t, data, clean)
		} else {
			assertJPEGMinusSegments(t, data, clean)
		}
		cfg, err := fm.decodeConfig(data)
		if err != nil || cfg.Width*cfg.Height > 256*256 || cfg.Width > 4096 || cfg.Height > 4096 {
			return
		}
		orig, err := fm.decode(data)
		if err != nil {
			return
		}
		stripped, err := fm.decode(clean)
		if err != nil {
			t.Fatalf("original decodes, stripped does not: %v", err)
		}
		if !samePixels(orig, stripped) {
			t.Fatal("stripping changed the pixels")
		}
	})
}

// assertJPEGMinusSegments fails unless clean is data's segments in order
// with some APPn and COM segments left out and nothing else changed: each
// other segment (marker, length, payload and the entropy-coded data after a
// scan header) is in clean byte for byte, the only APPn/COM segments kept
// are JFIF APP0 (its thumbnail cut: the decoder reads 14 bytes of it), ICC
// APP2 and Adobe APP14, and clean holds no byte outside its segments.
func assertJPEGMinusSegments(t *testing.T, data, clean []byte) {
	t.Helper()
	var in, out []jpegSegment
	collect := func(to *[]jpegSegment) func(jpegSegment) error {
		return func(s jpegSegment) error { *to = append(*to, s); return nil }
	}
	if err := walkJPEG(data, collect(&in)); err != nil {
		t.Fatalf("input does not walk: %v", err)
	}
	if err := walkJPEG(clean, collect(&out)); err != nil {
		t.Fatalf("stripped bytes do not walk: %v", err)
	}
	size := 2 // SOI
	for _, s := range out {
		size += 2 + len(s.entropy)
		if s.marker != markerEOI {
			size += 2 + len(s.payload)
		}
	}
	if size != len(clean) {
		t.Fatalf("stripped file has %d bytes outside its segments", len(clean)-size)
	}
	metadata := func(m byte) bool { return (markerAPP0 <= m && m <= markerAPP15) || m == markerCOM }
	j := 0
	for _, s := range in {
		if j < len(out) && out[j].marker == s.marker && bytes.Equal(out[j].entropy, s.entropy) &&
			(bytes.Equal(out[j].payload, s.payload) ||
				(s.marker == markerAPP0 && len(s.payload) >= 14 && bytes.Equal(out[j].payload, append(s.payload[:12:12], 0, 0)))) {
			if metadata(s.marker) && !(s.marker == markerAPP0 && hasPrefix(s.payload, jfifPrefix)) &&
				!(s.marker == markerAPP2 && hasPrefix(s.payload, iccPrefix)) && !(s.marker == markerAPP14 && hasPrefix(s.payload, adobePrefix)) {
				t.Fatalf("metadata segment %#x kept", s.marker)
			}
			j++
			continue
		}
		if !metadata(s.marker) {
			t.Fatalf("segment %#x (%d bytes, %d of entropy-coded data) removed or changed", s.marker, len(s.payload), len(s.entropy))
		}
	}
	if j != len(out) {
		t.Fatalf("stripped file has %d segments the input does not", len(out)-j)
	}
}

// assertPNGMinusChunks fails unless clean is the signature and data's
// chunks in order, each byte for byte, with only ancillary or unknown
// chunks and IDAT chunks after the first run left out, the chunks that
// change pixels (tRNS, gAMA, iCCP, …) kept, and nothing after IEND.
func assertPNGMinusChunks(t *testing.T, data, clean []byte) {
	t.Helper()
	var in, out [][]byte
	var types []string
	if err := walkPNG(data, func(typ string, c []byte) error { in, types = append(in, c), append(types, typ); return nil }); err != nil {
		t.Fatalf("input does not walk: %v", err)
	}
	if err := walkPNG(clean, func(_ string, c []byte) error { out = append(out, c); return nil }); err != nil {
		t.Fatalf("stripped bytes do not walk: %v", err)
	}
	size := len(pngSignature)
	for _, c := range out {
		size += len(c)
	}
	if size != len(clean) {
		t.Fatalf("stripped file has %d bytes outside its chunks", len(clean)-size)
	}
	j, idatRun := 0, 0 // idatRun: 0 before IDAT, 1 in the first run, 2 after it
	for i, c := range in {
		typ := types[i]
		switch {
		case typ == "IDAT" && idatRun == 0:
			idatRun = 1
		case typ != "IDAT" && idatRun == 1:
			idatRun = 2
		}
		if j < len(out) && bytes.Equal(out[j], c) {
			if !keepPNGChunk(typ) || (typ == "IDAT" && idatRun == 2) {
				t.Fatalf("chunk %q kept", typ)
			}
			j++
			continue
		}
		critical := typ == "IHDR" || typ == "PLTE" || typ == "IEND" || (typ == "IDAT" && idatRun == 1)
		if critical || keepPNGChunk(typ) && typ != "IDAT" {
			t.Fatalf("chunk %q removed or changed", typ)
		}
	}
	if j != len(out) {
		t.Fatalf("stripped file has %d chunks the input does not", len(out)-j)
	}
}
