package watermark

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"runtime"
	"sync"
)

// JPEG encoding is most of Apply's time (image/jpeg writes about 25 MP/s on
// one core of the 2.1 GHz test machine), and image/jpeg uses one core. encode
// spreads it over all of them without a codec of its own, using restart markers, which every JPEG
// decoder supports: a baseline scan may be cut into intervals of a fixed
// number of MCUs, each starting byte-aligned with its DC predictions reset,
// separated by RST0…RST7 markers and announced by a DRI segment. Those are
// exactly the bytes image/jpeg writes for a horizontal strip of the image
// encoded on its own. So the image is cut into strips a whole number of MCU
// rows high, each strip is encoded in parallel by image/jpeg, and the scans
// are spliced behind one header with a DRI segment. Chroma subsampling is
// computed inside each 16×16 MCU, so the decoded pixels are exactly those of
// a single-threaded encode (TestEncodeSplicedMatchesSingle).
//
// The splice relies on image/jpeg writing the same header (quantisation and
// the standard Huffman tables) for every strip. It checks that, and falls
// back to one plain encode if it ever stops being true.

// minStripRows is the height below which an image is encoded in one piece:
// the goroutines would cost more than they save.
const minStripRows = 256

// maxRestartInterval is the largest interval a DRI segment can announce.
const maxRestartInterval = 0xffff

// encode encodes img (an *image.YCbCr, *image.Gray or *image.RGBA, as
// canvasOf returns) at quality q, in parallel when the image is tall enough.
// sizeHint is the expected output size.
func encode(img image.Image, q int, sizeHint int) ([]byte, error) {
	workers := runtime.GOMAXPROCS(0)
	strips := min(2*workers, img.Bounds().Dy()/minStripRows) // two a worker evens out unequal strips
	return encodeStrips(img, q, sizeHint, strips, workers)
}

// encodeStrips is encode with at least the given number of strips (more if
// the restart interval would overflow), encoded by at most workers
// goroutines at a time. Fewer than two strips means one plain encode.
func encodeStrips(img image.Image, q, sizeHint, strips, workers int) ([]byte, error) {
	opts := &jpeg.Options{Quality: q}
	plain := func() ([]byte, error) {
		var buf bytes.Buffer
		buf.Grow(sizeHint)
		err := jpeg.Encode(&buf, img, opts)
		return buf.Bytes(), err
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	b := img.Bounds()
	if !ok || strips < 2 || workers < 1 {
		return plain()
	}

	// image/jpeg writes greyscale with 8×8 MCUs and colour as 4:2:0, 16×16.
	mcu := 16
	if _, gray := img.(*image.Gray); gray {
		mcu = 8
	}
	mcusPerRow := (b.Dx() + mcu - 1) / mcu
	mcuRows := (b.Dy() + mcu - 1) / mcu
	stripMCURows := (mcuRows + strips - 1) / strips
	if stripMCURows*mcusPerRow > maxRestartInterval {
		stripMCURows = maxRestartInterval / mcusPerRow
	}
	stripH := stripMCURows * mcu
	if stripH < 1 || stripH >= b.Dy() {
		return plain()
	}
	strips = (b.Dy() + stripH - 1) / stripH

	parts := make([][]byte, strips)
	errs := make([]error, strips)
	var wg sync.WaitGroup
	sem := make(chan struct{}, workers)
	for i := range strips {
		r := image.Rect(b.Min.X, b.Min.Y+i*stripH, b.Max.X, min(b.Min.Y+(i+1)*stripH, b.Max.Y))
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var buf bytes.Buffer
			buf.Grow(sizeHint/strips + 4096)
			errs[i] = jpeg.Encode(&buf, sub.SubImage(r), opts)
			parts[i] = buf.Bytes()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if out, ok := splice(parts, b.Dy(), stripMCURows*mcusPerRow); ok {
		return out, nil
	}
	return plain()
}

// splice joins the strips' scans behind the first strip's header, with its
// frame height set to h and a restart interval of interval MCUs. It reports
// false if any strip does not have the shape image/jpeg writes (SOI, tables,
// SOF0, SOS, scan, EOI) or a header different from the first's.
func splice(parts [][]byte, h, interval int) ([]byte, bool) {
	var header []byte // everything before SOS, height patched
	var sos []byte    // the SOS segment
	scans := make([][]byte, len(parts))
	total := 0
	for i, p := range parts {
		hd, s, scan, ok := split(p, h)
		if !ok {
			return nil, false
		}
		if i == 0 {
			header, sos = hd, s
		} else if !bytes.Equal(hd, header) || !bytes.Equal(s, sos) {
			return nil, false
		}
		scans[i] = scan
		total += len(scan) + 2
	}
	out := make([]byte, 0, len(header)+6+len(sos)+total+2)
	out = append(out, header...)
	out = append(out, 0xff, 0xdd, 0x00, 0x04) // DRI
	out = binary.BigEndian.AppendUint16(out, uint16(interval))
	out = append(out, sos...)
	for i, scan := range scans {
		if i > 0 {
			out = append(out, 0xff, 0xd0+byte((i-1)%8)) // RSTn
		}
		out = append(out, scan...)
	}
	return append(out, 0xff, 0xd9), true // EOI
}

// split cuts one image/jpeg output into its header (with the SOF0 height,
// which is the strip's, replaced by h), its SOS segment and its entropy-coded
// scan. image/jpeg writes no markers inside the scan (0xff is stuffed) and
// nothing after it but EOI.
func split(p []byte, h int) (header, sos, scan []byte, ok bool) {
	if len(p) < 4 || p[0] != 0xff || p[1] != 0xd8 || p[len(p)-2] != 0xff || p[len(p)-1] != 0xd9 {
		return nil, nil, nil, false
	}
	header = append([]byte(nil), p[:2]...)
	for i := 2; i+4 <= len(p); {
		if p[i] != 0xff {
			return nil, nil, nil, false
		}
		marker := p[i+1]
		end := i + 2 + int(binary.BigEndian.Uint16(p[i+2:]))
		if end > len(p)-2 {
			return nil, nil, nil, false
		}
		seg := p[i:end]
		switch marker {
		case 0xda: // SOS
			return header, seg, p[end : len(p)-2], true
		case 0xc0: // SOF0: FF C0, length, precision, height, width, …
			if len(seg) < 9 {
				return nil, nil, nil, false
			}
			start := len(header)
			header = append(header, seg...)
			binary.BigEndian.PutUint16(header[start+5:], uint16(h))
		case 0xdb, 0xc4: // DQT, DHT
			header = append(header, seg...)
		default:
			return nil, nil, nil, false
		}
		i = end
	}
	return nil, nil, nil, false
}
