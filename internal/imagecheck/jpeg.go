package imagecheck

import (
	"bytes"
	"errors"
	"fmt"
)

// JPEG markers (ITU-T T.81 table B.1) that the walker treats specially.
const (
	markerSOF0  = 0xC0 // baseline
	markerSOF2  = 0xC2 // progressive; image/jpeg decodes SOF0–SOF2 only
	markerRST0  = 0xD0
	markerRST7  = 0xD7
	markerSOI   = 0xD8
	markerEOI   = 0xD9
	markerSOS   = 0xDA
	markerAPP0  = 0xE0 // JFIF (kept), JFXX thumbnails and others (dropped)
	markerAPP2  = 0xE2 // ICC_PROFILE (kept), FlashPix and MPF (dropped)
	markerAPP14 = 0xEE // Adobe (kept: it says whether the channels are RGB, YCbCr or CMYK)
	markerAPP15 = 0xEF
	markerCOM   = 0xFE
)

// How the APPn segments that are kept begin.
const (
	jfifPrefix  = "JFIF\x00"
	iccPrefix   = "ICC_PROFILE\x00"
	adobePrefix = "Adobe"
)

var errJPEGTruncated = errors.New("jpeg: truncated before EOI")

// jpegSegment is one marker segment as image/jpeg sees it.
type jpegSegment struct {
	marker  byte
	payload []byte // the bytes after the two length bytes
	entropy []byte // SOS only: the entropy-coded data up to the next marker, RSTn included
}

// walkJPEG calls fn for every marker segment up to and including EOI, finding
// them exactly as image/jpeg's decoder does (reader.go, func decode): bytes
// between segments that are not a marker are skipped, "FF 00" is skipped,
// a run of FF bytes is fill before a marker, a stray RSTn is skipped, and
// every other marker but EOI has a two-byte length. Mirroring the decoder
// matters: removing a segment must not change how it parses the rest.
func walkJPEG(data []byte, fn func(jpegSegment) error) error {
	if len(data) < 2 || data[0] != 0xFF || data[1] != markerSOI {
		return errors.New("jpeg: missing SOI marker")
	}
	p := 2
	for {
		if len(data)-p < 2 {
			return errJPEGTruncated
		}
		a, m := data[p], data[p+1]
		p += 2
		for a != 0xFF {
			if p == len(data) {
				return errJPEGTruncated
			}
			a, m = m, data[p]
			p++
		}
		if m == 0x00 {
			continue
		}
		for m == 0xFF {
			if p == len(data) {
				return errJPEGTruncated
			}
			m = data[p]
			p++
		}
		if m == markerEOI {
			return fn(jpegSegment{marker: m})
		}
		if markerRST0 <= m && m <= markerRST7 {
			continue
		}
		if len(data)-p < 2 {
			return errJPEGTruncated
		}
		n := int(data[p])<<8 | int(data[p+1])
		if n < 2 {
			return errors.New("jpeg: short segment length")
		}
		if len(data)-p < n {
			return errJPEGTruncated
		}
		s := jpegSegment{marker: m, payload: data[p+2 : p+n : p+n]}
		p += n
		if m == markerSOS {
			end := entropyEnd(data, p)
			s.entropy = data[p:end:end]
			p = end
		}
		if err := fn(s); err != nil {
			return err
		}
	}
}

// entropyEnd returns where the entropy-coded data starting at p ends: at the
// first FF (of a possible run of fill bytes) that introduces a marker other
// than a stuffed zero or a restart marker. image/jpeg never reads past that
// point while decoding a scan.
func entropyEnd(data []byte, p int) int {
	for {
		i := bytes.IndexByte(data[p:], 0xFF)
		if i < 0 {
			return len(data)
		}
		q := p + i
		j := q + 1
		for j < len(data) && data[j] == 0xFF {
			j++
		}
		if j == len(data) {
			return q
		}
		if m := data[j]; m != 0x00 && (m < markerRST0 || m > markerRST7) {
			return q
		}
		p = j + 1
	}
}

// jpegFrame is what image/jpeg will allocate for, gathered from the segments
// before any decode.
type jpegFrame struct {
	width, height int
	progressive   bool
	nComp         int // 0 when there is no SOF image/jpeg would accept
	comp          [4]struct {
		id   byte
		h, v int64
	}
	jfif           bool // the last APP0 image/jpeg reads says JFIF (it keeps only the last one)
	adobe          bool // an Adobe APP14 was seen
	adobeTransform byte // from the last Adobe APP14
	scans          int
	visits         int64 // blocks image/jpeg iterates over, summed over the scans
	sawSOF         bool
}

// scanJPEG gathers the frame information and the decoder's final JFIF and
// Adobe state, and refuses files whose scans exceed maxScans or
// maxBlockVisits. It allocates nothing; on error, fr holds what was seen
// before it.
func scanJPEG(data []byte) (jpegFrame, error) {
	var fr jpegFrame
	err := walkJPEG(data, func(s jpegSegment) error {
		switch m := s.marker; {
		case m == markerAPP0 && len(s.payload) >= len(jfifPrefix):
			// image/jpeg sets its JFIF flag from every APP0 of 5 bytes or more.
			fr.jfif = hasPrefix(s.payload, jfifPrefix)
		case m == markerAPP14 && len(s.payload) >= 12 && hasPrefix(s.payload, adobePrefix):
			fr.adobe, fr.adobeTransform = true, s.payload[11]
		case markerSOF0 <= m && m <= markerSOF2 && !fr.sawSOF:
			fr.sawSOF = true
			fr.parseSOF(m, s.payload)
		case m == markerSOS:
			fr.scans++
			if fr.scans > maxScans {
				return fmt.Errorf("jpeg: more than %d scans", maxScans)
			}
			fr.visits += fr.scanVisits(s.payload)
			if fr.visits > maxBlockVisits {
				return fmt.Errorf("jpeg: scans visit more than %d blocks", maxBlockVisits)
			}
		}
		return nil
	})
	return fr, err
}

// parseSOF records a frame header the way image/jpeg's processSOF reads it.
// A header processSOF refuses for its length or precision leaves nComp at 0
// (nothing will be allocated); sampling factors it refuses are clamped and
// priced as if accepted, which can only overestimate.
func (fr *jpegFrame) parseSOF(marker byte, p []byte) {
	if len(p) < 6 || p[0] != 8 {
		return
	}
	n := int(p[5])
	if (n != 1 && n != 3 && n != 4) || len(p) != 6+3*n {
		return
	}
	fr.progressive = marker == markerSOF2
	fr.height = int(p[1])<<8 | int(p[2])
	fr.width = int(p[3])<<8 | int(p[4])
	fr.nComp = n
	for i := range n {
		c := &fr.comp[i]
		c.id = p[6+3*i]
		c.h = min(max(int64(p[7+3*i]>>4), 1), 4)
		c.v = min(max(int64(p[7+3*i]&0x0F), 1), 4)
		if n == 1 {
			c.h, c.v = 1, 1 // image/jpeg treats a single component as 1×1
		}
	}
}

// mcus returns the number of MCU columns and rows image/jpeg iterates over.
func (fr *jpegFrame) mcus() (mxx, myy int64) {
	h0, v0 := fr.comp[0].h, fr.comp[0].v
	return (int64(fr.width) + 8*h0 - 1) / (8 * h0), (int64(fr.height) + 8*v0 - 1) / (8 * v0)
}

// scanVisits returns how many blocks image/jpeg's processSOS iterates over
// for a scan header: every MCU, times the blocks each of the scan's
// components has in an MCU (non-interleaved scans skip the padding blocks,
// but still iterate over them).
func (fr *jpegFrame) scanVisits(sos []byte) int64 {
	if fr.nComp == 0 || len(sos) == 0 || len(sos) < 1+2*int(sos[0]) {
		return 0 // image/jpeg refuses the scan before decoding anything
	}
	var hv int64
	for i := range int(sos[0]) {
		for _, c := range fr.comp[:fr.nComp] {
			if c.id == sos[1+2*i] {
				hv += c.h * c.v
			}
		}
	}
	mxx, myy := fr.mcus()
	return mxx * myy * hv
}

// isRGB mirrors image/jpeg's decision to convert three components to RGBA.
func (fr *jpegFrame) isRGB() bool {
	if fr.jfif {
		return false
	}
	if fr.adobe && fr.adobeTransform == 0 {
		return true
	}
	return fr.comp[0].id == 'R' && fr.comp[1].id == 'G' && fr.comp[2].id == 'B'
}

// decoderOverhead covers a decoder's fixed allocations (image/jpeg's Huffman
// and quantisation tables and read buffer; image/png's zlib window and row
// buffers are counted separately) with room to spare.
const decoderOverhead = 256 << 10

// decodeCost returns the bytes image/jpeg allocates to decode this frame
// (reader.go and scan.go of Go 1.26): the MCU-aligned planes (Gray or
// YCbCr, plus a K plane for four components), the RGBA or CMYK copy it
// converts to for RGB and four-component images, and, for progressive
// files, one 64-entry int32 block per 8×8 block of every component.
func (fr *jpegFrame) decodeCost() int64 {
	if fr.nComp == 0 {
		return decoderOverhead
	}
	w, h := int64(fr.width), int64(fr.height)
	h0, v0 := fr.comp[0].h, fr.comp[0].v
	mxx, myy := fr.mcus()
	planeW, planeH := 8*h0*mxx, 8*v0*myy
	n := planeW * planeH
	if fr.nComp > 1 {
		hr := max(h0/fr.comp[1].h, 1)
		vr := max(v0/fr.comp[1].v, 1)
		n += 2 * ((planeW + hr - 1) / hr) * ((planeH + vr - 1) / vr)
		switch {
		case fr.nComp == 4:
			n += planeW*planeH + 4*w*h
		case fr.isRGB():
			n += 4 * w * h
		}
	}
	if fr.progressive {
		const blockBytes = 64 * 4
		for i := range fr.nComp {
			n += mxx * myy * fr.comp[i].h * fr.comp[i].v * blockBytes
		}
	}
	return n + decoderOverhead
}

// keepJPEG says whether a segment survives stripping. Dropped: APP1 (EXIF,
// with GPS position, camera serial numbers and a thumbnail; XMP), APP13
// (IPTC, Photoshop), COM, every other APPn, JFXX and other non-JFIF APP0
// (thumbnails), non-ICC APP2 (FlashPix, MPF). Kept: JFIF APP0 (see
// stripJPEG), APP2 ICC_PROFILE (colour), APP14 Adobe (image/jpeg and libjpeg
// choose RGB, YCbCr or CMYK from it) and every non-APP segment byte for byte.
//
// Dropping EXIF also drops its Orientation tag, so a phone photo taken
// upright may now display rotated. That is accepted: the pixels are what the
// sensor recorded, and the reviewer can rotate in the console.
func keepJPEG(s jpegSegment, jfifFinal bool) bool {
	switch m := s.marker; {
	case m == markerAPP0:
		// image/jpeg keeps only the last APP0's verdict; keep JFIF segments
		// only when that verdict is JFIF, so the decoder ends in the same
		// state (dropping a trailing JFXX must not turn JFIF back on).
		return jfifFinal && hasPrefix(s.payload, jfifPrefix)
	case m == markerAPP2:
		return hasPrefix(s.payload, iccPrefix)
	case m == markerAPP14:
		return hasPrefix(s.payload, adobePrefix)
	case markerAPP0 <= m && m <= markerAPP15, m == markerCOM:
		return false
	}
	return true
}

// stripJPEG removes the metadata segments by copying the kept ones byte for
// byte (no re-encoding: quantisation tables, Huffman tables and the
// entropy-coded data are untouched) and stops at EOI, dropping anything
// appended after it. Extraneous bytes between segments, which image/jpeg
// skips, are not copied. A JFIF segment loses its embedded thumbnail (the
// decoder reads only its first five bytes). fr is scanJPEG's result.
func stripJPEG(data []byte, fr jpegFrame) ([]byte, error) {
	out := make([]byte, 0, len(data)) // the output is never longer than the input
	out = append(out, 0xFF, markerSOI)
	err := walkJPEG(data, func(s jpegSegment) error {
		if !keepJPEG(s, fr.jfif) {
			return nil
		}
		out = append(out, 0xFF, s.marker)
		if s.marker == markerEOI {
			return nil
		}
		p := s.payload
		if s.marker == markerAPP0 && len(p) >= 14 {
			// "JFIF\0", version, units, densities: 12 bytes; then the
			// thumbnail's width and height, set to 0, and its pixels, cut.
			out = append(out, 0, 16)
			out = append(out, p[:12]...)
			out = append(out, 0, 0)
			return nil
		}
		out = append(out, byte((len(p)+2)>>8), byte(len(p)+2))
		out = append(out, p...)
		out = append(out, s.entropy...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
