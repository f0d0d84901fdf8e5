package imagecheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
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
	return [][]byte{
		png,
		jpg,
		encodePNG(f, gray),
		encodeJPEG(f, gray, 60),
		withChunks(png, early, late),
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

// FuzzCheck feeds arbitrary bytes to Check. Beyond not panicking and not
// hanging, it checks that every refusal is one of the four sentinels with a
// message, that Check allocates no more than the header-derived decode
// cost allows (twice, plus a copy of the input), and that an accepted
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
			if bound := uint64(2*p.cost) + uint64(len(data)) + 1<<20; got > bound {
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

// FuzzStrip checks the metadata strippers on their own, on any input the
// walkers accept: the output is never longer, stripping is idempotent, only
// the kept kinds of segment or chunk remain, and whenever the original
// decodes, the stripped bytes decode to exactly the same pixels (compared
// pixel by pixel, independently of pixelDigest). Images are kept small so
// every decode is cheap.
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
			err = walkPNG(clean, func(typ string, _ []byte) error {
				if !keepPNGChunk(typ) {
					t.Fatalf("chunk %q kept", typ)
				}
				return nil
			})
		} else {
			err = walkJPEG(clean, func(s jpegSegment) error {
				if m := s.marker; m == markerCOM || (markerAPP0 <= m && m <= markerAPP15 && m != markerAPP0 && m != markerAPP2 && m != markerAPP14) {
					t.Fatalf("marker %#x kept", m)
				}
				return nil
			})
		}
		if err != nil {
			t.Fatalf("stripped bytes do not walk: %v", err)
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
