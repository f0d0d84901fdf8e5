// Package imagecheck is the gate every uploaded evidence image (ID photo,
// certificate, letter) passes before it is stored: size, type by content,
// dimensions, a full decode, and the removal of metadata the applicant did not
// mean to hand over (GPS position, camera serial, editing history, comments).
//
// It is pure: no network, no database, no files. The caller streams the
// request body through ReadLimited, hands the bytes to Check, stores
// Result.Data under Result.SHA256 and maps the sentinel errors to HTTP
// statuses (413, 415, 422). Names and declared content types are never
// consulted: a file is what its first bytes say it is.
//
// Every step is bounded before it runs. The byte limit comes first; the pixel
// dimensions are read from the header (cheaply, without decoding) and checked
// before any full decode; and the memory a full decode would allocate is
// computed from the header too (MaxDecodeBytes), so a two-kilobyte file that
// claims to be 8000×5000 progressive CMYK is refused before a single pixel
// buffer exists. That is what makes "no allocation beyond a fixed bound" true
// for any input, and it is what FuzzCheck asserts.
package imagecheck

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
)

// MaxBytes is the largest upload accepted, 2 MB (2 097 152 bytes): exactly
// MaxBytes is accepted, one byte more is refused with ErrTooLarge. The issue
// sets it; it keeps MinIO, the review console and mobile uploads fast.
const MaxBytes = 2 << 20

// The browser's downscaling of phone photos (views/static/js/recover.js reads
// these from the wizard's data- attributes): a picked image over MaxBytes, or
// whose longest side is over DownscaleAbove pixels, is redrawn on a canvas
// with its longest side at most DownscaleTo and re-encoded as JPEG at
// DownscaleQuality percent before it is sent. A typical 3–6 MB, 4000×3000
// phone photo becomes about 0.5–1.5 MB at 2400×1800, which a reviewer still
// reads comfortably; the server's checks above stay as they are.
const (
	DownscaleAbove   = 4000
	DownscaleTo      = 2400
	DownscaleQuality = 90
)

// MinSide and MaxSide bound each side of an image in pixels. Below 200 px a
// document is unreadable for the reviewer; above 8000 px the file is either
// not a photo or scan of a document, or a decompression bomb.
const (
	MinSide = 200
	MaxSide = 8000
)

// MaxPixels caps width×height at 40 megapixels. 8000×8000 passes MaxSide but
// would decode to 64 M pixels; 40 MP still admits an 8000×5000 phone photo
// and an A4 page scanned at 600 dpi (4960×7016 ≈ 34.8 MP), and no genuine
// photo of that size fits in MaxBytes anyway.
const MaxPixels = 40_000_000

// MaxDecodeBytes is the most memory one full decode may allocate, computed
// from the headers before decoding (decodeCost matches image/png's and
// image/jpeg's allocations to within a few hundred kilobytes). The pixel cap
// alone is not enough: image/jpeg keeps 4 bytes of coefficients per sample
// for a progressive JPEG and converts RGB and CMYK into a second buffer, so
// a 40 MP progressive CMYK file would need about 1 GB. 256 MiB admits
// greyscale and YCbCr baseline JPEG (1–3 bytes per pixel) and 8-bit PNG (1–4)
// up to MaxPixels, and the heavier variants up to a proportionally smaller
// size: RGB JPEG (7) 38 MP, progressive 4:2:0 JPEG (7.5) 35 MP, CMYK JPEG
// and 16-bit PNG (8) 33 MP, progressive 4:4:4 (15) 17 MP. Check decodes
// once, so its peak live heap is about one such decode; the caller should
// still bound how many Checks run at once.
const MaxDecodeBytes = 256 << 20

// maxScans and maxBlockVisits bound the work of decoding a JPEG, which its
// size does not: image/jpeg walks every 8×8 block of a scan's components
// once per scan, and a progressive AC scan can cover the whole image with a
// few bytes of end-of-band runs, so a 2 MB file could ask for 100 000 passes
// over a 40 MP image. Real encoders write 1–3 scans (baseline) or about 10
// (progressive: libjpeg's and mozjpeg's scripts visit each block 4–6 times),
// so a 35 MP progressive photo visits about 4.5 million blocks. With 16
// million, the slowest JPEG Check accepts (40 MP, 25 progressive scans)
// decodes in about 1.3 s here.
const (
	maxScans       = 64
	maxBlockVisits = 16_000_000
)

// NearDuplicateDistance is the largest Hamming distance between two PHash
// values that marks the images as the same picture (re-encoded, rescaled,
// slightly recompressed). Different pictures are typically 20–40 bits apart;
// re-encoding a JPEG at another quality moves 0–3 bits. The flag is a hint
// for the reviewer, not a refusal: two photos of the same kind of certificate
// can look alike at 9×8 pixels.
const NearDuplicateDistance = 6

// The refusals, one per HTTP status the caller maps them to. Check wraps them
// with detail for the log; compare with errors.Is and show Message(err).
var (
	// ErrTooLarge means more than MaxBytes were uploaded (413).
	ErrTooLarge = errors.New("imagecheck: file larger than 2 MB")
	// ErrUnsupportedType means the content is neither PNG nor JPEG, whatever
	// the file's name or declared type said (415).
	ErrUnsupportedType = errors.New("imagecheck: not a PNG or JPEG image")
	// ErrDimensions means a side is outside MinSide..MaxSide, or the image
	// has more pixels than can be decoded safely (422).
	ErrDimensions = errors.New("imagecheck: image dimensions out of range")
	// ErrTooManyPixels is the ErrDimensions case where each side is in range
	// but the whole (MaxPixels, MaxDecodeBytes) is not, so Message can tell
	// the user to reduce the resolution rather than quote side lengths.
	// errors.Is(err, ErrDimensions) holds for it too.
	ErrTooManyPixels = fmt.Errorf("%w: too many pixels", ErrDimensions)
	// ErrUnreadable means the file claims to be PNG or JPEG but does not
	// decode completely (truncated, corrupt, an unsupported JPEG variant), or
	// its metadata could not be removed without changing a pixel (422).
	ErrUnreadable = errors.New("imagecheck: image cannot be decoded")
)

// Message returns the Chinese text shown to the applicant for an error from
// this package, so every upload form words its refusals the same way. It
// returns "" for nil and for errors that are not ours (I/O errors while
// reading the body), which the caller reports as its own generic failure.
func Message(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooLarge):
		return fmt.Sprintf("文件大小不能超过%dM", MaxBytes>>20) + ShrinkAdvice
	case errors.Is(err, ErrUnsupportedType):
		return "仅支持 PNG、JPEG 格式的图片"
	case errors.Is(err, ErrTooManyPixels):
		return fmt.Sprintf("图片像素过多，请降低分辨率（不超过%d万像素）后重新上传", MaxPixels/10000)
	case errors.Is(err, ErrDimensions):
		return fmt.Sprintf("图片尺寸应在%d至%d像素之间", MinSide, MaxSide)
	case errors.Is(err, ErrUnreadable):
		return "图片文件已损坏或无法识别，请重新拍摄或扫描后上传"
	}
	return ""
}

// ShrinkAdvice tells a person whose photo is too large how to make it
// smaller without special software; it follows the size refusal wherever
// the browser could not shrink the photo itself (no JavaScript, an API
// client, a photo that stays too large).
const ShrinkAdvice = "。手机照片通常有3–6M，可以这样缩小：在相机设置中把照片尺寸（分辨率）调低后重新拍摄；" +
	"或用手机相册的“编辑”裁去证件以外的部分后保存；或通过微信把照片发给自己（不勾选“原图”），保存后再上传。"

// ReadLimited reads an upload into memory, refusing it with ErrTooLarge as
// soon as it exceeds MaxBytes. It never asks r for more than MaxBytes+1 bytes
// in total, so a client streaming an endless body costs us 2 MB, not the
// whole stream. Errors from r are returned wrapped.
func ReadLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("imagecheck: read upload: %w", err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxBytes)
	}
	return data, nil
}

// Cleaned is an upload with its metadata removed, as it is stored: what
// Prepare knows before the full decode, and what Result keeps after it.
type Cleaned struct {
	// Data is the image with its metadata removed: the bytes to store. It
	// is the upload minus whole metadata segments or chunks, every other
	// byte copied as it was (FuzzStrip), so it decodes to exactly the same
	// pixels as the upload.
	Data []byte
	// ContentType is "image/png" or "image/jpeg", from the content, so the
	// object in MinIO is served with the type it really has.
	ContentType string
	// Width and Height are the image's size in pixels, from its header
	// (Decode checks the pixels agree).
	Width, Height int
	// SHA256 is the lowercase hex SHA-256 of Data, recorded with the object
	// so storage can verify it and identical uploads are recognised.
	SHA256 string
}

// Result is an accepted image, ready to store.
type Result struct {
	Cleaned
	// PHash is a 64-bit perceptual hash (dHash) of the pixels; compare two
	// with Hamming and NearDuplicateDistance to flag re-submitted evidence.
	PHash uint64
}

// format is an image format recognised by its magic bytes.
type format int

const (
	formatUnknown format = iota
	formatPNG
	formatJPEG
)

// The magic bytes: PNG's signature, and JPEG's SOI marker followed by the
// first byte of the next marker.
const (
	pngSignature = "\x89PNG\r\n\x1a\n"
	jpegSOI      = "\xFF\xD8\xFF"
)

// hasPrefix is bytes.HasPrefix for a constant prefix; it does not allocate.
func hasPrefix(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix
}

// sniff recognises PNG and JPEG by their first bytes only.
func sniff(data []byte) format {
	switch {
	case hasPrefix(data, pngSignature):
		return formatPNG
	case hasPrefix(data, jpegSOI):
		return formatJPEG
	}
	return formatUnknown
}

func (f format) contentType() string {
	if f == formatPNG {
		return "image/png"
	}
	return "image/jpeg"
}

func (f format) decodeConfig(data []byte) (image.Config, error) {
	if f == formatPNG {
		return png.DecodeConfig(bytes.NewReader(data))
	}
	return jpeg.DecodeConfig(bytes.NewReader(data))
}

func (f format) decode(data []byte) (image.Image, error) {
	if f == formatPNG {
		return png.Decode(bytes.NewReader(data))
	}
	return jpeg.Decode(bytes.NewReader(data))
}

// Inspected is an upload that passed every check that bounds its full
// decode (steps 1–4 of Check short of the strip): the decode may start, and
// Strip makes the bytes to store meanwhile.
type Inspected struct {
	// ContentType is "image/png" or "image/jpeg", from the content.
	ContentType string
	// Width and Height are the image's size in pixels, from its header.
	Width, Height int

	format format
	data   []byte
	frame  jpegFrame // JPEG: what scanJPEG found, for stripJPEG
	cost   int64     // bytes one full decode allocates (decodeCost)
}

// Inspect runs the cheap checks in the order the issue gives: size, magic
// bytes, header dimensions; then it walks the segments or chunks (without
// allocating) to learn what a full decode would allocate, refuses above
// MaxDecodeBytes and refuses a malformed structure. It neither copies nor
// hashes the upload, so the one full decode (Decode) can start as soon as
// it returns; data must stay unchanged until Decode and Strip are done.
func Inspect(data []byte) (*Inspected, error) {
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	f := sniff(data)
	if f == formatUnknown {
		return nil, ErrUnsupportedType
	}
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrUnreadable, f.contentType(), err)
	}
	w, h := cfg.Width, cfg.Height
	if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("%w: %d×%d px", ErrDimensions, w, h)
	}
	if w*h > MaxPixels {
		return nil, fmt.Errorf("%w: %d×%d px is more than %d", ErrTooManyPixels, w, h, MaxPixels)
	}
	in := &Inspected{ContentType: f.contentType(), Width: w, Height: h, format: f, data: data}
	// The walk may fail part-way (a truncated file); what it saw of the
	// headers still prices the decode, so a bomb is named as such.
	var walkErr error
	if f == formatPNG {
		var hdr pngHeader
		hdr, walkErr = scanPNG(data)
		in.cost = hdr.decodeCost()
	} else {
		in.frame, walkErr = scanJPEG(data)
		in.cost = in.frame.decodeCost()
	}
	if in.cost > MaxDecodeBytes {
		return nil, fmt.Errorf("%w: %d×%d px needs %d MiB to decode", ErrTooManyPixels, w, h, in.cost>>20)
	}
	if walkErr != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, walkErr)
	}
	return in, nil
}

// Strip is step 4's metadata removal: it rewrites the byte stream without
// re-encoding and hashes the result (ErrUnreadable if the structure does
// not allow it).
func (in *Inspected) Strip() (*Prepared, error) {
	var clean []byte
	var err error
	if in.format == formatPNG {
		clean, err = stripPNG(in.data)
	} else {
		clean, err = stripJPEG(in.data, in.frame)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	sum := sha256.Sum256(clean)
	return &Prepared{Cleaned: Cleaned{Data: clean, ContentType: in.ContentType, Width: in.Width, Height: in.Height,
		SHA256: hex.EncodeToString(sum[:])}, in: in}, nil
}

// Decode is step 5 of Check: the one full decode of the upload
// (ErrUnreadable if it does not decode completely, or to another size than
// its header says), which also gives the perceptual hash.
//
// The stripped bytes are not decoded again: stripping removes whole APPn
// and COM segments or ancillary chunks and copies everything the decoder
// reads (tables, frame and scan headers, entropy-coded data, critical
// chunks) byte for byte, walking the file exactly as image/png and
// image/jpeg do, so the decoder sees the same input either way. FuzzStrip
// holds the strippers to that: the output is exactly the input minus the
// removed segments, and decodes to identical pixels whenever the input
// decodes.
func (in *Inspected) Decode() (phash uint64, err error) {
	img, err := in.format.decode(in.data)
	if err != nil {
		return 0, fmt.Errorf("%w: decode %s: %v", ErrUnreadable, in.ContentType, err)
	}
	if b := img.Bounds(); b.Dx() != in.Width || b.Dy() != in.Height {
		return 0, fmt.Errorf("%w: decoded %v, header said %d×%d", ErrUnreadable, b, in.Width, in.Height)
	}
	return dHash(img), nil
}

// Prepared is an upload that passed every check short of the full decode,
// with its metadata removed: the bytes to store, their digest and type are
// known, so the caller can start storing them while Decode runs (and must
// throw the stored copy away if Decode refuses the image).
type Prepared struct {
	Cleaned

	in *Inspected
}

// Result is the accepted image, once Decode has passed and given phash.
func (p *Prepared) Result(phash uint64) *Result {
	return &Result{Cleaned: p.Cleaned, PHash: phash}
}

// Prepare runs steps 1–4 of Check: size, type, header dimensions, the
// decode's memory bound, the structure walk and the metadata strip
// (Inspect, then Strip). It is cheap (no pixel is decoded) and does not
// retain data beyond Decode.
func Prepare(data []byte) (*Prepared, error) {
	in, err := Inspect(data)
	if err != nil {
		return nil, err
	}
	return in.Strip()
}

// Decode is Inspected.Decode: the one full decode, of the upload as it came.
func (p *Prepared) Decode() (phash uint64, err error) { return p.in.Decode() }

// Check validates one uploaded image and returns it cleaned, or the reason it
// is refused. The steps, each refusing before the next costs anything:
//
//  1. at most MaxBytes (ErrTooLarge);
//  2. PNG or JPEG by magic bytes (ErrUnsupportedType);
//  3. header dimensions within MinSide..MaxSide and MaxPixels
//     (ErrDimensions), read with image.DecodeConfig;
//  4. what a full decode will allocate, computed from the headers and
//     refused above MaxDecodeBytes (ErrTooManyPixels); then the structure
//     walked (ErrUnreadable) and the metadata removed by rewriting the byte
//     stream, without re-encoding;
//  5. one full decode with image/png or image/jpeg (ErrUnreadable).
//
// Check is Prepare then Decode, one after the other; an upload that is
// stored runs them concurrently with the PUT. Result.Data is a new slice.
func Check(data []byte) (*Result, error) {
	p, err := Prepare(data)
	if err != nil {
		return nil, err
	}
	phash, err := p.Decode()
	if err != nil {
		return nil, err
	}
	return p.Result(phash), nil
}
