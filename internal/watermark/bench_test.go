package watermark

import (
	"syscall"
	"testing"
	"time"

	"recoverydesk/internal/testenv/testimage"
)

// cpuTime is the CPU time this process has used, user and system, all
// threads (GC workers included).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loop runs f b.N times and reports, beside ns/op, cpu-ns/op: the CPU time
// an operation costs, which a busy machine (other tests, fuzzers) inflates
// far less than wall-clock time.
func loop(b *testing.B, f func()) {
	b.ReportAllocs()
	start := cpuTime(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
}

func benchmarkApply(b *testing.B, src []byte) {
	b.SetBytes(int64(len(src)))
	loop(b, func() {
		if _, _, err := Apply(src, stampText); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkApply3000x2000 is one console view of a phone photo: decode,
// stamp, encode. The budget is well under 300 ms on two cores.
func BenchmarkApply3000x2000(b *testing.B) {
	benchmarkApply(b, testimage.PhonePhoto(b))
}

// BenchmarkApplyPNG2480x3508 is an A4 scan at 300 dpi stored as PNG, the
// slowest common input: the PNG decodes to RGBA, which is copied once to
// flatten transparency before the stamp.
func BenchmarkApplyPNG2480x3508(b *testing.B) {
	benchmarkApply(b, pngOf(b, photo(2480, 3508, 43, 2)))
}

// BenchmarkStamp3000x2000 is the stamp alone, without decode and encode, to
// show what the watermark itself costs.
func BenchmarkStamp3000x2000(b *testing.B) {
	img, err := decode(testimage.PhonePhoto(b))
	if err != nil {
		b.Fatal(err)
	}
	c := canvasOf(img)
	t := sanitize(stampText)
	loop(b, func() {
		stamp(c, newPattern(t, c.w, c.h))
	})
}

// BenchmarkDecodeEncode3000x2000 is Apply's decode and encode without the
// stamp: the floor Apply cannot go below without a faster codec.
func BenchmarkDecodeEncode3000x2000(b *testing.B) {
	src := testimage.PhonePhoto(b)
	loop(b, func() {
		img, err := decode(src)
		if err != nil {
			b.Fatal(err)
		}
		jpegOf(b, canvasOf(img).img, Quality)
	})
}
