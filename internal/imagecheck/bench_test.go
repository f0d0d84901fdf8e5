package imagecheck

import (
	"testing"

	"recoverydesk/internal/testenv/testimage"
)

func benchmarkCheck(b *testing.B, data []byte) {
	if _, err := Check(data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Check(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckJPEG1_5MB is the common case: a phone photo carrying EXIF
// with GPS, XMP and an ICC profile, so stripping changes the bytes (one
// decode all the same: FuzzStrip proves the strip lossless).
func BenchmarkCheckJPEG1_5MB(b *testing.B) {
	benchmarkCheck(b, withSegments(testimage.PhonePhoto(b), metadataJPEGSegments()...))
}

// BenchmarkCheckJPEG1_5MBNoMetadata is the same photo without metadata:
// nothing is stripped.
func BenchmarkCheckJPEG1_5MBNoMetadata(b *testing.B) {
	benchmarkCheck(b, testimage.PhonePhoto(b))
}

// BenchmarkCheckPNGScan is a 2480×3508 (A4 at 300 dpi) greyscale scan with
// text chunks.
func BenchmarkCheckPNGScan(b *testing.B) {
	early, late := pngMetadata()
	benchmarkCheck(b, withChunks(encodePNG(b, grayOf(photo(2480, 3508, 43, 0))), early, late))
}

// BenchmarkCheckWorstCaseProgressive is the slowest kind of file Check
// accepts: 8000×5000 progressive greyscale (200 MiB to decode, under
// MaxDecodeBytes) with as many scans as maxBlockVisits allows (25 passes over
// 625 000 blocks, each a few bytes of end-of-band runs), and metadata.
func BenchmarkCheckWorstCaseProgressive(b *testing.B) {
	zero := func(c, bx, by int) int { return 0 }
	benchmarkCheck(b, progressiveJPEG(8000, 5000, 1, maxBlockVisits/625_000-1, zero, segment(markerCOM, []byte("x"))))
}

// BenchmarkPrepareJPEG1_5MB is what an upload does before its decode can
// start: the cheap checks, the structure walk, the strip and the SHA-256.
func BenchmarkPrepareJPEG1_5MB(b *testing.B) {
	data := withSegments(testimage.PhonePhoto(b), metadataJPEGSegments()...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Prepare(data); err != nil {
			b.Fatal(err)
		}
	}
}
