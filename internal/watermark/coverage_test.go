package watermark

import (
	"fmt"
	"image"
	"testing"
)

// coverageWindow is the side of the square that the stamp may never cover
// whole: about a line of an ID card's fine print at the sizes reviewers see.
const coverageWindow = 100

// changedMask is where the stamp visibly changed a stamped image: out and
// control (the same decode and encode without the stamp) differ by at least
// 6 levels of luma.
func changedMask(out, control *image.Gray) [][]bool {
	b := out.Bounds()
	m := make([][]bool, b.Dy())
	for y := range m {
		m[y] = make([]bool, b.Dx())
		for x := range m[y] {
			m[y][x] = absDiff(out.GrayAt(x, y).Y, control.GrayAt(x, y).Y) >= 6
		}
	}
	return m
}

// windowShares is the share of changed pixels in every coverageWindow-square
// window at every position (a summed-area table), the largest share, and
// the share of the whole image.
func windowShares(m [][]bool) (worst, whole float64, at image.Point) {
	h, w := len(m), len(m[0])
	sum := make([][]int, h+1)
	for y := range sum {
		sum[y] = make([]int, w+1)
	}
	for y := range h {
		for x := range w {
			v := 0
			if m[y][x] {
				v = 1
			}
			sum[y+1][x+1] = v + sum[y][x+1] + sum[y+1][x] - sum[y][x]
		}
	}
	const n = coverageWindow
	for y := 0; y+n <= h; y++ {
		for x := 0; x+n <= w; x++ {
			s := float64(sum[y+n][x+n]-sum[y][x+n]-sum[y+n][x]+sum[y][x]) / (n * n)
			if s > worst {
				worst, at = s, image.Pt(x, y)
			}
		}
	}
	return worst, float64(sum[h][w]) / float64(h*w), at
}

// TestStampLeavesEveryWindowReadable measures the stamp on real stamped
// images (Apply's JPEG against the same image encoded without the stamp), on
// a mid-grey page where both the ink and the halo show, at the sizes the
// console serves: no 100×100 area is fully covered — under 40 % of any
// is touched, an eighth of the image overall — so an ID card's fine print
// stays readable between the lines, while the stamp still reaches every
// part of the image (TestApplyCoversWholeImage).
func TestStampLeavesEveryWindowReadable(t *testing.T) {
	for _, size := range []image.Point{{400, 300}, {1200, 900}, {3000, 2000}} {
		t.Run(fmt.Sprintf("%dx%d", size.X, size.Y), func(t *testing.T) {
			src := pngOf(t, uniform(size.X, size.Y, 128))
			out, _, err := Apply(src, stampText)
			if err != nil {
				t.Fatal(err)
			}
			worst, whole, at := windowShares(changedMask(lumaOf(t, out), control(t, src)))
			t.Logf("changed: %.1f %% of the image, %.1f %% of the worst 100×100 window (at %v)", 100*whole, 100*worst, at)
			if worst >= 0.4 {
				t.Errorf("the 100×100 window at %v is %.1f %% covered, want < 40 %%", at, 100*worst)
			}
			if whole > 0.12 {
				t.Errorf("%.1f %% of the image is covered, want ≤ 12 %%", 100*whole)
			}
		})
	}
}

// TestStampOpacity measures the ink's opacity on a stamped light page: the
// change under the ink is about 15 % of the way from the page to the ink's
// tone (light enough to read through, dark enough to read).
func TestStampOpacity(t *testing.T) {
	const w, h, page = 1200, 900, 230
	src := pngOf(t, uniform(w, h, page))
	out, _, err := Apply(src, stampText)
	if err != nil {
		t.Fatal(err)
	}
	got, want := lumaOf(t, out), control(t, src)
	mask := inkMask(stampText, w, h)
	sum, n := 0, 0
	for y := range h {
		for x := range w {
			if mask[y][x] == coverInk {
				sum += int(want.GrayAt(x, y).Y) - int(got.GrayAt(x, y).Y)
				n++
			}
		}
	}
	opacity := float64(sum) / float64(n) / float64(page-inkTone)
	t.Logf("measured ink opacity %.1f %%", 100*opacity)
	if opacity < 0.12 || opacity > 0.18 {
		t.Errorf("ink opacity %.1f %%, want about 15 %%", 100*opacity)
	}
}
