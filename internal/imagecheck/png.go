package imagecheck

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// pngHeader is what image/png will allocate for: the IHDR fields and whether
// a tRNS chunk turns grey or truecolour pixels into NRGBA.
type pngHeader struct {
	width, height int64
	depth         byte
	colorType     byte
	interlaced    bool
	trns          bool
}

// keepPNGChunk says whether a chunk survives stripping: the critical chunks
// and the ancillary ones that change how pixels look (transparency, gamma,
// chromaticities, sRGB intent, ICC profile, significant bits, cICP with its
// HDR companions mDCV and cLLI) or how large a scan prints (pHYs). Dropped
// are text (tEXt, zTXt, iTXt: authors, software, comments, often XMP),
// eXIf (EXIF with GPS), tIME, bKGD, hIST, sPLT, APNG frames, private and
// unknown chunks.
func keepPNGChunk(typ string) bool {
	switch typ {
	case "IHDR", "PLTE", "IDAT", "IEND",
		"tRNS", "gAMA", "cHRM", "sRGB", "iCCP", "sBIT", "pHYs", "cICP", "mDCV", "cLLI":
		return true
	}
	return false
}

// walkPNG calls fn for every chunk up to and including IEND, with the
// chunk's type and its whole bytes (length, type, data, CRC). Every length is
// bounds-checked and every CRC verified; image/png verifies them too, so a
// valid upload never fails here.
func walkPNG(data []byte, fn func(typ string, chunk []byte) error) error {
	if !hasPrefix(data, pngSignature) {
		return errors.New("png: bad signature")
	}
	for p := len(pngSignature); ; {
		if len(data)-p < 12 {
			return errors.New("png: truncated before IEND")
		}
		n := binary.BigEndian.Uint32(data[p:])
		if n > 0x7FFFFFFF || uint64(n) > uint64(len(data)-p-12) {
			return fmt.Errorf("png: chunk length %d beyond the end of the file", n)
		}
		end := p + 12 + int(n)
		typ := string(data[p+4 : p+8])
		if crc32.ChecksumIEEE(data[p+4:end-4]) != binary.BigEndian.Uint32(data[end-4:]) {
			return fmt.Errorf("png: %q chunk has a bad CRC", typ)
		}
		if err := fn(typ, data[p:end:end]); err != nil {
			return err
		}
		if typ == "IEND" {
			return nil
		}
		p = end
	}
}

// scanPNG reads the IHDR fields and notes a tRNS chunk. It allocates
// nothing; on error, hdr holds what was seen before it.
func scanPNG(data []byte) (pngHeader, error) {
	var hdr pngHeader
	first := true
	err := walkPNG(data, func(typ string, chunk []byte) error {
		if first {
			first = false
			if typ != "IHDR" || len(chunk) != 12+13 {
				return errors.New("png: first chunk is not a valid IHDR")
			}
			body := chunk[8:]
			hdr.width = int64(binary.BigEndian.Uint32(body[0:]))
			hdr.height = int64(binary.BigEndian.Uint32(body[4:]))
			hdr.depth, hdr.colorType, hdr.interlaced = body[8], body[9], body[12] == 1
		}
		hdr.trns = hdr.trns || typ == "tRNS"
		return nil
	})
	return hdr, err
}

// stripPNG copies the kept chunks byte for byte and stops at IEND, dropping
// anything appended after it. Only the first run of consecutive IDAT chunks
// is kept: image/png decodes exactly that run and ignores IDAT chunks after
// another chunk, so anything hidden there goes too. Chunks image/png ignores
// do not change its output, so the cleaned file decodes to the same pixels;
// FuzzStrip verifies it.
func stripPNG(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data)) // the output is never longer than the input
	out = append(out, pngSignature...)
	const (
		beforeIDAT = iota
		inIDAT
		afterIDAT
	)
	idat := beforeIDAT
	err := walkPNG(data, func(typ string, chunk []byte) error {
		keep := keepPNGChunk(typ)
		switch {
		case typ != "IDAT":
			if idat == inIDAT {
				idat = afterIDAT
			}
		case idat == afterIDAT:
			keep = false
		default:
			idat = inIDAT
		}
		if keep {
			out = append(out, chunk...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeCost returns the bytes image/png allocates to decode this image
// (reader.go of Go 1.26): the output image, whose type follows the colour
// type, bit depth and tRNS (Gray 1, Gray16 2, RGBA or NRGBA 4, RGBA64 or
// NRGBA64 8 bytes per pixel, Paletted 1); for Adam7 interlacing, the seven
// pass images as well (together as large as the image); and two row buffers.
func (h pngHeader) decodeCost() int64 {
	var bpp int64
	wide := h.depth == 16
	switch h.colorType {
	case 0: // grey
		switch {
		case h.trns && wide:
			bpp = 8
		case h.trns:
			bpp = 4
		case wide:
			bpp = 2
		default:
			bpp = 1
		}
	case 3: // palette
		bpp = 1
	case 2, 4, 6: // truecolour, grey with alpha, truecolour with alpha
		bpp = 4
		if wide {
			bpp = 8
		}
	default: // image/png refuses it while reading IHDR
		return decoderOverhead
	}
	if h.width > MaxSide || h.height > MaxSide {
		return math.MaxInt64 // unreachable after the dimension check; avoids overflow
	}
	n := h.width * h.height * bpp
	if h.interlaced {
		n *= 2
	}
	n += 2 * (1 + 8*h.width) // current and previous row, at most 8 bytes per pixel
	return n + decoderOverhead
}
