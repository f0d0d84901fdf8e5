package watermark

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"testing"
)

// TestEncodeSplicedMatchesSingle checks the parallel encoder against
// image/jpeg on its own: the spliced file decodes to exactly the pixels of a
// single-threaded encode, for every canvas type, for sizes that do and do
// not fill the last MCU, and for more than eight strips (RST0…RST7 wrap).
func TestEncodeSplicedMatchesSingle(t *testing.T) {
	for _, c := range encodeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			single := jpegOf(t, c.img, Quality)
			spliced, err := encodeStrips(c.img, Quality, 0, c.strips, 2)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(spliced, []byte{0xff, 0xdd, 0x00, 0x04}) {
				t.Fatal("no DRI segment: the parallel path was not taken")
			}
			a, err := jpeg.Decode(bytes.NewReader(single))
			if err != nil {
				t.Fatal(err)
			}
			b, err := jpeg.Decode(bytes.NewReader(spliced))
			if err != nil {
				t.Fatalf("spliced output does not decode: %v", err)
			}
			if !samePixels(a, b) {
				t.Error("spliced output decodes to other pixels than a single encode")
			}
			// Markers add 2 bytes a strip; restarting the DC predictions may
			// save or cost a few more.
			if d := len(spliced) - len(single); d < -64*c.strips || d > 64*c.strips {
				t.Errorf("spliced output is %d bytes, single %d", len(spliced), len(single))
			}
		})
	}
}

// TestEncodeSmallImageIsPlain checks that a short image is encoded in one
// piece, where goroutines would not pay.
func TestEncodeSmallImageIsPlain(t *testing.T) {
	img := photo(800, 2*minStripRows-1, 1, 2)
	out, err := encode(img, Quality, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, jpegOf(t, img, Quality)) {
		t.Error("small image not encoded as image/jpeg does")
	}
}

type encodeCase struct {
	name   string
	img    image.Image
	strips int
}

func encodeCases(t testing.TB) []encodeCase {
	rgba := photo(1001, 777, 4, 8)
	ycc420, err := jpeg.Decode(bytes.NewReader(jpegOf(t, rgba, 90)))
	if err != nil {
		t.Fatal(err)
	}
	ycc444 := image.NewYCbCr(rgba.Bounds(), image.YCbCrSubsampleRatio444)
	ycc422 := image.NewYCbCr(rgba.Bounds(), image.YCbCrSubsampleRatio422)
	for _, m := range []*image.YCbCr{ycc444, ycc422} {
		for y := range 777 {
			for x := range 1001 {
				c := ycc420.(*image.YCbCr).YCbCrAt(x, y)
				m.Y[m.YOffset(x, y)] = c.Y
				m.Cb[m.COffset(x, y)] = c.Cb
				m.Cr[m.COffset(x, y)] = c.Cr
			}
		}
	}
	var cases []encodeCase
	for _, strips := range []int{2, 3, 11} {
		for _, m := range []struct {
			name string
			img  image.Image
		}{
			{"rgba", rgba},
			{"ycbcr420", ycc420},
			{"ycbcr444", ycc444},
			{"ycbcr422", ycc422},
			{"gray", toLuma(rgba)},
			{"rgba-1024", photo(1024, 1024, 5, 8)},
			{"offset-subimage", rgba.SubImage(image.Rect(3, 5, 1000, 700))},
		} {
			cases = append(cases, encodeCase{fmt.Sprintf("%s/%d", m.name, strips), m.img, strips})
		}
	}
	// Wide enough that one row of 8×8 MCUs is 1000 of them: the restart
	// interval caps strips at 65 MCU rows, so two strips become five.
	cases = append(cases, encodeCase{"gray-8000x2200/2", toLuma(photo(8000, 2200, 6, 4)), 2})
	return cases
}

func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	switch a := a.(type) {
	case *image.YCbCr:
		b, ok := b.(*image.YCbCr)
		return ok && bytes.Equal(a.Y, b.Y) && bytes.Equal(a.Cb, b.Cb) && bytes.Equal(a.Cr, b.Cr)
	case *image.Gray:
		b, ok := b.(*image.Gray)
		return ok && bytes.Equal(a.Pix, b.Pix)
	}
	return false
}
