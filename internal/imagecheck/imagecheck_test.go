package imagecheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// countingReader is an endless upload that counts what was asked of it.
type countingReader struct{ n int64 }

func (c *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	c.n += int64(len(p))
	return len(p), nil
}

func TestReadLimited(t *testing.T) {
	t.Run("exactly 2 MB is accepted", func(t *testing.T) {
		data, err := ReadLimited(bytes.NewReader(make([]byte, MaxBytes)))
		if err != nil || len(data) != 2_097_152 {
			t.Fatalf("got %d bytes, %v", len(data), err)
		}
	})
	t.Run("2 MB + 1 is refused", func(t *testing.T) {
		_, err := ReadLimited(bytes.NewReader(make([]byte, MaxBytes+1)))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("an endless body is read no further than the limit", func(t *testing.T) {
		r := &countingReader{}
		_, err := ReadLimited(r)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v", err)
		}
		if r.n > MaxBytes+1 {
			t.Fatalf("read %d bytes from the client, want at most %d", r.n, MaxBytes+1)
		}
	})
	t.Run("small reads add up", func(t *testing.T) {
		data, err := ReadLimited(iotest.OneByteReader(bytes.NewReader(make([]byte, 5000))))
		if err != nil || len(data) != 5000 {
			t.Fatalf("got %d bytes, %v", len(data), err)
		}
	})
	t.Run("a broken body is an error of its own", func(t *testing.T) {
		boom := errors.New("connection reset")
		_, err := ReadLimited(iotest.ErrReader(boom))
		if !errors.Is(err, boom) || errors.Is(err, ErrTooLarge) || Message(err) != "" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMessage(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{io.ErrUnexpectedEOF, ""},
		// The size refusal says how to shrink a phone photo (issue 14).
		{fmt.Errorf("%w: 3 MB", ErrTooLarge), "文件大小不能超过2M。手机照片通常有3–6M，可以这样缩小：在相机设置中把照片尺寸（分辨率）调低后重新拍摄；" +
			"或用手机相册的“编辑”裁去证件以外的部分后保存；或通过微信把照片发给自己（不勾选“原图”），保存后再上传。"},
		{ErrUnsupportedType, "仅支持 PNG、JPEG 格式的图片"},
		{fmt.Errorf("%w: 1×1", ErrDimensions), "图片尺寸应在200至8000像素之间"},
		{fmt.Errorf("%w: 8000×5001", ErrTooManyPixels), "图片像素过多，请降低分辨率（不超过4000万像素）后重新上传"},
		{fmt.Errorf("%w: truncated", ErrUnreadable), "图片文件已损坏或无法识别，请重新拍摄或扫描后上传"},
	} {
		if got := Message(c.err); got != c.want {
			t.Errorf("Message(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	if !errors.Is(ErrTooManyPixels, ErrDimensions) {
		t.Error("ErrTooManyPixels must be an ErrDimensions (same HTTP status)")
	}
}

func mustGIF(t *testing.T) []byte {
	var b bytes.Buffer
	img := image.NewPaletted(image.Rect(0, 0, 300, 300), palette.Plan9)
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sofWithDims returns jpg with its frame header claiming w×h.
func sofWithDims(t *testing.T, jpg []byte, w, h int) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	i := bytes.Index(out, []byte{0xFF, markerSOF0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	out[i+5], out[i+6], out[i+7], out[i+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return out
}

func TestCheckRefuses(t *testing.T) {
	smallJPEG := encodeJPEG(t, photo(320, 240, 1, 8), 85)
	smallPNG := encodePNG(t, photo(320, 240, 1, 0))
	onePixel := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"more than 2 MB", append(append([]byte{}, smallPNG...), make([]byte, MaxBytes)...), ErrTooLarge},
		{"empty", nil, ErrUnsupportedType},
		{"text", []byte("hello, this is not an image"), ErrUnsupportedType},
		{"GIF", mustGIF(t), ErrUnsupportedType},
		{"WebP", []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00"), ErrUnsupportedType},
		{"BMP", append([]byte("BM"), make([]byte, 60)...), ErrUnsupportedType},
		{"SOI alone", []byte{0xFF, 0xD8}, ErrUnsupportedType},
		{"PNG signature alone", []byte(pngSignature), ErrUnreadable},
		{"JPEG cut in the middle", smallJPEG[:len(smallJPEG)*6/10], ErrUnreadable},
		{"JPEG without EOI", smallJPEG[:len(smallJPEG)-2], ErrUnreadable},
		{"PNG cut in the middle", smallPNG[:len(smallPNG)*6/10], ErrUnreadable},
		{"PNG with a bad CRC", func() []byte { b := append([]byte{}, smallPNG...); b[40] ^= 1; return b }(), ErrUnreadable},
		{"1×1 PNG", onePixel, ErrDimensions},
		{"199 px wide", encodePNG(t, image.NewGray(image.Rect(0, 0, 199, 300))), ErrDimensions},
		{"8001 px wide header", pngHeaderOnly(8001, 200, 0), ErrDimensions},
		{"30000×30000 PNG header", pngHeaderOnly(30000, 30000, 6), ErrDimensions},
		{"30000×30000 JPEG header", sofWithDims(t, smallJPEG, 30000, 30000), ErrDimensions},
		{"8000×5001 header", pngHeaderOnly(8000, 5001, 0), ErrTooManyPixels},
		{"8000×5000 header, truncated", pngHeaderOnly(8000, 5000, 0), ErrUnreadable},
		{"8000×5000 progressive 4:4:4 needs ~600 MB", progressiveJPEG(8000, 5000, 3, 0, flatDC)[:2000], ErrTooManyPixels},
		{"more than 64 scans", progressiveJPEG(256, 256, 1, 65, flatDC), ErrUnreadable},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := Check(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("Check = %v, %v; want %v", res, err, c.want)
			}
			if res != nil || Message(err) == "" {
				t.Fatalf("result %v, message %q", res, Message(err))
			}
		})
	}
}

func TestCheckSideLimitsAreInclusive(t *testing.T) {
	for _, r := range []image.Rectangle{
		image.Rect(0, 0, MinSide, MinSide),
		image.Rect(0, 0, MaxSide, MinSide),
		image.Rect(0, 0, MinSide, MaxSide),
	} {
		res, err := Check(encodePNG(t, image.NewGray(r)))
		if err != nil || res.Width != r.Dx() || res.Height != r.Dy() {
			t.Fatalf("%v: %+v, %v", r, res, err)
		}
	}
}

// TestContentDecidesType: Check never sees a file name or a declared
// Content-Type; whatever the browser said, the bytes decide.
func TestContentDecidesType(t *testing.T) {
	img := photo(300, 200, 2, 4)
	for _, c := range []struct {
		declaredName, declaredType string
		data                       []byte
		want                       string
	}{
		{"身份证.jpg", "image/jpeg", encodePNG(t, img), "image/png"},
		{"scan.png", "image/png", encodeJPEG(t, img, 80), "image/jpeg"},
		{"letter.pdf", "application/pdf", encodeJPEG(t, img, 80), "image/jpeg"},
	} {
		res, err := Check(c.data)
		if err != nil || res.ContentType != c.want {
			t.Fatalf("%s declared %s: %+v, %v; want %s", c.declaredName, c.declaredType, res, err, c.want)
		}
	}
}

// TestBombsRefusedWithoutAllocating: a header that claims a huge image is
// refused from the header alone, in microseconds and a few kilobytes.
func TestBombsRefusedWithoutAllocating(t *testing.T) {
	jpg := encodeJPEG(t, photo(320, 240, 3, 8), 85)
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"PNG 30000×30000", pngHeaderOnly(30000, 30000, 6)},
		{"PNG 8000×5001", pngHeaderOnly(8000, 5001, 6)},
		{"JPEG 30000×30000", sofWithDims(t, jpg, 30000, 30000)},
		{"JPEG 65535×65535", sofWithDims(t, jpg, 65535, 65535)},
		{"progressive 4:4:4 8000×5000", progressiveJPEG(8000, 5000, 3, 0, flatDC)[:2000]},
		{"progressive CMYK 8000×5000", progressiveJPEG(8000, 5000, 4, 0, flatDC,
			segment(markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x00")))[:2000]},
	} {
		t.Run(c.name, func(t *testing.T) {
			const runs = 20
			start := time.Now()
			var err error
			bytes := allocated(func() {
				for range runs {
					_, err = Check(c.data)
				}
			})
			elapsed := time.Since(start) / runs
			if !errors.Is(err, ErrDimensions) {
				t.Fatalf("got %v", err)
			}
			if per := bytes / runs; per > 64<<10 {
				t.Fatalf("allocated %d bytes per Check, want under 64 KiB", per)
			}
			if elapsed > 50*time.Millisecond {
				t.Fatalf("took %v per Check", elapsed)
			}
			t.Logf("%v, %d B per Check", elapsed, bytes/runs)
		})
	}
}

func TestCheckResult(t *testing.T) {
	data := encodeJPEG(t, photo(640, 480, 4, 6), 85)
	res, err := Check(data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(res.Data)
	if res.SHA256 != hex.EncodeToString(sum[:]) || res.ContentType != "image/jpeg" || res.Width != 640 || res.Height != 480 {
		t.Fatalf("%+v", res)
	}
	// Nothing to strip: the bytes are stored as uploaded, in a copy.
	if !bytes.Equal(res.Data, data) || &res.Data[0] == &data[0] {
		t.Fatal("a metadata-free JPEG should be stored unchanged, in its own slice")
	}
	// Checking the stored bytes again changes nothing.
	again, err := Check(res.Data)
	if err != nil || !bytes.Equal(again.Data, res.Data) || again.PHash != res.PHash || again.SHA256 != res.SHA256 {
		t.Fatalf("second Check: %+v, %v", again, err)
	}
}

func assertNoSecrets(t *testing.T, data []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("cleaned image still contains %q", s)
		}
	}
}

func assertSamePixels(t *testing.T, f format, a, b []byte) {
	t.Helper()
	ia, err := f.decode(a)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := f.decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !samePixels(ia, ib) {
		t.Fatalf("pixels differ (%T %v vs %T %v)", ia, ia.Bounds(), ib, ib.Bounds())
	}
}

func TestStripJPEGMetadata(t *testing.T) {
	plain := encodeJPEG(t, photo(400, 300, 5, 6), 88)
	upload := withSegments(plain, metadataJPEGSegments()...)
	upload = append(upload, "TRAILING-SECRET after EOI"...)
	if !bytes.Contains(upload, []byte("GPS-SECRET")) {
		t.Fatal("test image lacks its metadata")
	}
	res, err := Check(upload)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, res.Data)
	assertSamePixels(t, formatJPEG, upload, res.Data)

	// Kept: the ICC profile byte for byte, Adobe, JFIF without its thumbnail.
	icc := segment(markerAPP2, append([]byte("ICC_PROFILE\x00\x01\x01"), fakeICC...))
	if !bytes.Contains(res.Data, icc) {
		t.Error("ICC profile segment not kept intact")
	}
	if !bytes.Contains(res.Data, segment(markerAPP14, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))) {
		t.Error("Adobe segment not kept")
	}
	if !bytes.Contains(res.Data, segment(markerAPP0, []byte("JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00"))) {
		t.Error("JFIF segment not kept without its thumbnail")
	}
	// And everything after the metadata is the original, byte for byte.
	if !bytes.HasSuffix(res.Data, plain[2:]) {
		t.Error("image segments were altered")
	}
	if want := len(plain) + len(icc) + (4 + 12) + (4 + 14); len(res.Data) != want {
		t.Errorf("cleaned length %d, want %d", len(res.Data), want)
	}
	// Only the kept kinds of segment remain.
	err = walkJPEG(res.Data, func(s jpegSegment) error {
		if m := s.marker; (m >= markerAPP0 && m <= markerAPP15 && m != markerAPP0 && m != markerAPP2 && m != markerAPP14) || m == markerCOM {
			return fmt.Errorf("marker %#x kept", m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStripJPEGKeepsDecoderState: image/jpeg remembers only the last APP0,
// so a JFIF segment followed by a JFXX one means "not JFIF" and, with
// components named R, G, B, an RGB image. Stripping the JFXX segment alone
// would flip that to YCbCr; the walker drops the JFIF segment too.
func TestStripJPEGKeepsDecoderState(t *testing.T) {
	img := photo(256, 224, 6, 0)
	var planes [3]*image.Gray
	for c := range planes {
		planes[c] = image.NewGray(img.Bounds())
		for i := range planes[c].Pix {
			planes[c].Pix[i] = img.Pix[4*i+c]
		}
	}
	upload := planarJPEG(t, planes[:], []byte("RGB"),
		segment(markerAPP0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00")),
		segment(markerAPP0, []byte("JFXX\x00\x13THUMB!")))
	res, err := Check(upload)
	if err != nil {
		t.Fatal(err)
	}
	assertSamePixels(t, formatJPEG, upload, res.Data)
	if bytes.Contains(res.Data, []byte("JFIF")) || bytes.Contains(res.Data, []byte("JFXX")) {
		t.Error("APP0 segments kept although the decoder ends up in the non-JFIF state")
	}
	decoded, _ := formatJPEG.decode(res.Data)
	if _, ok := decoded.(*image.RGBA); !ok {
		t.Fatalf("decoded as %T, want RGB", decoded)
	}
}

func pngMetadata() (early, late [][]byte) {
	iccp := append([]byte("sRGB built-in\x00\x00"), zlibBytes(fakeICC)...)
	early = [][]byte{
		pngChunk("gAMA", []byte{0, 0, 0xB1, 0x8F}),
		pngChunk("iCCP", iccp),
		pngChunk("pHYs", []byte{0, 0, 0x2E, 0x23, 0, 0, 0x2E, 0x23, 1}),
		pngChunk("tEXt", []byte("Author\x00PNG-TEXT-SECRET author")),
		pngChunk("zTXt", append([]byte("Comment\x00\x00"), zlibBytes([]byte("compressed secret"))...)),
		pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), xmpPacket...)),
		pngChunk("eXIf", exifWithGPS()[6:]),
		pngChunk("tIME", []byte{0x07, 0xE9, 5, 1, 12, 0, 0}),
		pngChunk("prVt", []byte("private chunk ACME-CAM-SERIAL")),
	}
	late = [][]byte{
		pngChunk("tEXt", []byte("Software\x00PNG-TEXT-SECRET editor")),
		pngChunk("IDAT", []byte("GPS-SECRET hidden in a trailing IDAT")),
	}
	return early, late
}

func TestStripPNGMetadata(t *testing.T) {
	plain := encodePNG(t, photo(300, 220, 7, 3))
	early, late := pngMetadata()
	upload := withChunks(plain, early, late)
	upload = append(upload, "TRAILING-SECRET after IEND"...)
	res, err := Check(upload)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, res.Data)
	assertSamePixels(t, formatPNG, upload, res.Data)
	for _, kept := range early[:3] {
		if !bytes.Contains(res.Data, kept) {
			t.Errorf("%s chunk not kept", kept[4:8])
		}
	}
	if want := len(plain) + len(early[0]) + len(early[1]) + len(early[2]); len(res.Data) != want {
		t.Errorf("cleaned length %d, want %d", len(res.Data), want)
	}
}

// TestStripKeepsPixels runs every image type the two decoders produce
// through Check with metadata added, and checks that the stored bytes decode
// to exactly the upload's pixels, and that decodeCost is an upper bound on
// what a decode really allocates.
func TestStripKeepsPixels(t *testing.T) {
	src := photo(243, 211, 8, 5) // not a multiple of the MCU size
	gray := grayOf(src)
	var nrgba = image.NewNRGBA(src.Bounds())
	for i := range nrgba.Pix {
		nrgba.Pix[i] = src.Pix[i]
		if i%4 == 3 {
			nrgba.Pix[i] = uint8(i / 4 % 256)
		}
	}
	gray16 := image.NewGray16(src.Bounds())
	rgba64 := image.NewRGBA64(src.Bounds())
	nrgba64 := image.NewNRGBA64(src.Bounds())
	for y := range src.Bounds().Dy() {
		for x := range src.Bounds().Dx() {
			c := src.RGBAAt(x, y)
			gray16.SetGray16(x, y, color.Gray16{uint16(c.R)<<8 | uint16(x)})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(c.R) << 8, uint16(c.G) << 8, uint16(c.B)<<8 | uint16(y), 0xFFFF})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) << 8, uint16(c.G) << 8, uint16(c.B) << 8, uint16(x * 256)})
		}
	}
	pal := image.NewPaletted(src.Bounds(), palette.WebSafe)
	for y := range src.Bounds().Dy() {
		for x := range src.Bounds().Dx() {
			pal.Set(x, y, src.At(x, y))
		}
	}
	planes := func(n int) []*image.Gray {
		ps := make([]*image.Gray, n)
		for c := range ps {
			ps[c] = image.NewGray(src.Bounds())
			for i := range ps[c].Pix {
				ps[c].Pix[i] = src.Pix[4*i+c%3] ^ uint8(c*40)
			}
		}
		return ps
	}
	jfif := segment(markerAPP0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))
	adobe := func(transform byte) []byte {
		return segment(markerAPP14, []byte{'A', 'd', 'o', 'b', 'e', 0, 100, 0, 0, 0, 0, transform})
	}
	grayTRNS := withChunks(encodePNG(t, gray), [][]byte{pngChunk("tRNS", []byte{0, 128})}, nil)

	cases := []struct {
		name     string
		f        format
		data     []byte
		wantType string
	}{
		{"PNG gray", formatPNG, encodePNG(t, gray), "Gray"},
		{"PNG gray with tRNS", formatPNG, grayTRNS, "NRGBA"},
		{"PNG gray16", formatPNG, encodePNG(t, gray16), "Gray16"},
		{"PNG RGB", formatPNG, encodePNG(t, src), "RGBA"},
		{"PNG RGBA", formatPNG, encodePNG(t, nrgba), "NRGBA"},
		{"PNG RGB16", formatPNG, encodePNG(t, rgba64), "RGBA64"},
		{"PNG RGBA16", formatPNG, encodePNG(t, nrgba64), "NRGBA64"},
		{"PNG paletted", formatPNG, encodePNG(t, pal), "Paletted"},
		{"PNG interlaced", formatPNG, adam7PNG(nrgba), "NRGBA"},
		{"JPEG gray", formatJPEG, encodeJPEG(t, gray, 90), "Gray"},
		{"JPEG YCbCr 4:2:0", formatJPEG, encodeJPEG(t, src, 90), "YCbCr"},
		{"JPEG YCbCr 4:4:4", formatJPEG, planarJPEG(t, planes(3), []byte{1, 2, 3}, jfif), "YCbCr"},
		{"JPEG RGB", formatJPEG, planarJPEG(t, planes(3), []byte("RGB")), "RGBA"},
		{"JPEG CMYK", formatJPEG, planarJPEG(t, planes(4), []byte{1, 2, 3, 4}, adobe(0)), "CMYK"},
		{"JPEG YCCK", formatJPEG, planarJPEG(t, planes(4), []byte{1, 2, 3, 4}, adobe(2)), "CMYK"},
		{"JPEG progressive gray", formatJPEG, progressiveJPEG(243, 211, 1, 2, flatDC), "Gray"},
		{"JPEG progressive YCbCr", formatJPEG, progressiveJPEG(243, 211, 3, 2, flatDC, jfif), "YCbCr"},
		{"JPEG progressive CMYK", formatJPEG, progressiveJPEG(243, 211, 4, 2, flatDC, adobe(0)), "CMYK"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			orig, err := c.f.decode(c.data)
			if err != nil {
				t.Fatal(err)
			}
			if typeName(orig) != c.wantType {
				t.Fatalf("test image decodes as %T, want %s", orig, c.wantType)
			}
			var upload []byte
			if c.f == formatPNG {
				early, late := pngMetadata()
				if c.name == "PNG paletted" {
					early = nil // ancillary chunks may not sit between PLTE and tRNS
				}
				upload = withChunks(c.data, early, late)
			} else {
				upload = withSegments(c.data, segment(0xE1, exifWithGPS()), segment(markerCOM, []byte("COMMENT-SECRET")))
			}
			res, err := Check(upload)
			if err != nil {
				t.Fatal(err)
			}
			assertNoSecrets(t, res.Data)
			assertSamePixels(t, c.f, c.data, res.Data)

			p, err := prepare(upload)
			if err != nil {
				t.Fatal(err)
			}
			got := allocated(func() { _, err = c.f.decode(upload) })
			if got > uint64(p.cost) {
				t.Errorf("decode allocated %d bytes, decodeCost said %d", got, p.cost)
			}
			t.Logf("decode allocated %d B, estimated %d B", got, p.cost)
		})
	}
}

// TestDecodeCostAtScale checks the estimate where it matters, on large
// images, including the progressive case that motivates MaxDecodeBytes.
func TestDecodeCostAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes a few large images")
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"progressive gray 4000×3000", progressiveJPEG(4000, 3000, 1, 1, flatDC)},
		{"progressive YCbCr 4:4:4 2400×2000", progressiveJPEG(2400, 2000, 3, 1, flatDC)},
		{"baseline 4:2:0 3000×2000", encodeJPEG(t, photo(3000, 2000, 9, 0), 75)},
		{"interlaced RGBA 2000×1500", adam7PNG(image.NewNRGBA(image.Rect(0, 0, 2000, 1500)))},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := prepare(c.data)
			if err != nil {
				t.Fatal(err)
			}
			got := allocated(func() { _, err = p.format.decode(c.data) })
			if err != nil {
				t.Fatal(err)
			}
			if got > uint64(p.cost) || uint64(p.cost) > got+got/10+decoderOverhead {
				t.Errorf("decode allocated %d bytes, decodeCost said %d", got, p.cost)
			}
			t.Logf("decode allocated %.1f MiB, estimated %.1f MiB", float64(got)/(1<<20), float64(p.cost)/(1<<20))
		})
	}
}

func TestScanLimit(t *testing.T) {
	if _, err := Check(progressiveJPEG(256, 256, 1, maxScans-1, flatDC)); err != nil {
		t.Fatalf("%d scans: %v", maxScans, err)
	}
	_, err := Check(progressiveJPEG(256, 256, 1, maxScans, flatDC))
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("%d scans: %v", maxScans+1, err)
	}
	// 8000×5000 grey is 625 000 blocks: 25 scans fit in maxBlockVisits, 26
	// do not, and are refused before anything is decoded.
	zero := func(c, bx, by int) int { return 0 }
	data := progressiveJPEG(8000, 5000, 1, 25, zero)
	if got := allocated(func() { _, err = Check(data) }); !errors.Is(err, ErrUnreadable) || got > 64<<10 {
		t.Fatalf("26 scans over 625 000 blocks: %v, %d bytes allocated", err, got)
	}
	if testing.Short() {
		return
	}
	start := time.Now()
	if _, err := Check(progressiveJPEG(8000, 5000, 1, 24, zero)); err != nil {
		t.Fatalf("25 scans over 625 000 blocks: %v", err)
	}
	t.Logf("the slowest accepted JPEG took %v", time.Since(start))
}

func TestPHash(t *testing.T) {
	a := photo(800, 600, 10, 6)
	b := photo(800, 600, 11, 6)
	hash := func(data []byte) uint64 {
		t.Helper()
		res, err := Check(data)
		if err != nil {
			t.Fatal(err)
		}
		return res.PHash
	}
	ha := hash(encodeJPEG(t, a, 92))
	decoded, _ := formatJPEG.decode(encodeJPEG(t, a, 92))
	half := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			half.Set(x, y, a.At(2*x, 2*y))
		}
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"re-encoded at quality 60", encodeJPEG(t, decoded, 60)},
		{"as PNG", encodePNG(t, a)},
		{"as greyscale JPEG", encodeJPEG(t, grayOf(a), 80)},
		{"at half size", encodeJPEG(t, half, 80)},
	} {
		if d := Hamming(ha, hash(c.data)); d > NearDuplicateDistance {
			t.Errorf("%s: distance %d, want at most %d", c.name, d, NearDuplicateDistance)
		} else {
			t.Logf("%s: distance %d", c.name, d)
		}
	}
	if d := Hamming(ha, hash(encodeJPEG(t, b, 92))); d <= 2*NearDuplicateDistance {
		t.Errorf("different picture: distance %d, want more than %d", d, 2*NearDuplicateDistance)
	} else {
		t.Logf("different picture: distance %d", d)
	}
}

func TestHamming(t *testing.T) {
	for _, c := range []struct {
		a, b uint64
		want int
	}{{0, 0, 0}, {0, 1, 1}, {0, ^uint64(0), 64}, {0xF0, 0x0F, 8}} {
		if got := Hamming(c.a, c.b); got != c.want {
			t.Errorf("Hamming(%#x, %#x) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// opaqueImage hides an image's concrete type, forcing the generic paths.
type opaqueImage struct{ image.Image }

// sampleImages returns one image of every type the decoders produce.
func sampleImages() []image.Image {
	src := photo(64, 48, 30, 20)
	r := src.Bounds()
	gray := grayOf(src)
	g16 := image.NewGray16(r)
	nrgba := image.NewNRGBA(r)
	rgba64 := image.NewRGBA64(r)
	nrgba64 := image.NewNRGBA64(r)
	cmyk := image.NewCMYK(r)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	pal := image.NewPaletted(r, palette.Plan9)
	for y := range r.Dy() {
		for x := range r.Dx() {
			c := src.RGBAAt(x, y)
			a := uint8(x * 4)
			g16.Set(x, y, c)
			nrgba.SetNRGBA(x, y, color.NRGBA{c.R, c.G, c.B, a})
			rgba64.Set(x, y, color.NRGBA{c.R, c.G, c.B, a})
			nrgba64.Set(x, y, color.NRGBA{c.R, c.G, c.B, a})
			cmyk.Set(x, y, c)
			pal.Set(x, y, c)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			ycc.Y[ycc.YOffset(x, y)], ycc.Cb[ycc.COffset(x, y)], ycc.Cr[ycc.COffset(x, y)] = yy, cb, cr
		}
	}
	sub := src.SubImage(image.Rect(3, 5, 60, 40)) // bounds not at the origin
	return []image.Image{src, gray, g16, nrgba, rgba64, nrgba64, cmyk, ycc, pal, sub}
}

// TestLumaRows: the fast per-type paths of dHash agree with the generic one.
func TestLumaRows(t *testing.T) {
	for _, img := range sampleImages() {
		b := img.Bounds()
		fast, slow := make([]uint8, b.Dx()), make([]uint8, b.Dx())
		readFast, readSlow := lumaRows(img, fast), lumaRows(opaqueImage{img}, slow)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			readFast(y)
			readSlow(y)
			for x := range fast {
				if d := int(fast[x]) - int(slow[x]); d < -2 || d > 2 {
					t.Fatalf("%s at (%d, %d): fast %d, generic %d", typeName(img), x, y, fast[x], slow[x])
				}
			}
		}
		// Luma may differ by ±2 between the paths, which can flip a bit where
		// neighbours are nearly equal; more than a couple of bits would eat
		// into the near-duplicate budget (NearDuplicateDistance).
		const maxBits = 2
		if d := Hamming(dHash(img), dHash(opaqueImage{img})); d > maxBits {
			t.Errorf("%s: dHash %d bits from the generic path, want at most %d", typeName(img), d, maxBits)
		} else if d != 0 {
			t.Logf("%s: dHash %d bits from the generic path", typeName(img), d)
		}
	}
}

// TestBandsPigeonhole: the bands are the hash cut into pieces (put back
// together they give it again), and two hashes at most
// NearDuplicateDistance apart always share a whole band, whichever bits
// differ, band boundaries included; hashes further apart need not.
func TestBandsPigeonhole(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 19))
	for range 200_000 {
		h := r.Uint64()
		var back uint64
		for i, b := range Bands(h) {
			shift, width := BandBits(i)
			if b < 0 || b >= 1<<width {
				t.Fatalf("band %d of %016x is %d", i, h, b)
			}
			back |= uint64(b) << shift
		}
		if back != h {
			t.Fatalf("bands of %016x give back %016x", h, back)
		}
		g := h
		for n := r.IntN(NearDuplicateDistance + 1); Hamming(g, h) < n; {
			if r.IntN(2) == 0 {
				// a bit at a band's edge
				shift, width := BandBits(r.IntN(PHashBands))
				g ^= 1 << (shift + uint(r.IntN(2))*(width-1))
			} else {
				g ^= 1 << r.IntN(64)
			}
		}
		if Hamming(g, h) > NearDuplicateDistance {
			continue
		}
		a, b := Bands(h), Bands(g)
		shared := false
		for i := range a {
			shared = shared || a[i] == b[i]
		}
		if !shared {
			t.Fatalf("%016x and %016x are %d apart and share no band", h, g, Hamming(g, h))
		}
	}
	// One bit in each band: 7 apart, no band shared; the exact check after
	// the lookup is what keeps such pairs out.
	h := r.Uint64()
	g := h
	for i := range PHashBands {
		shift, _ := BandBits(i)
		g ^= 1 << shift
	}
	if a, b := Bands(h), Bands(g); Hamming(g, h) != PHashBands || a[0] == b[0] {
		t.Fatal("flipping a bit in every band should leave no band shared")
	}
}
