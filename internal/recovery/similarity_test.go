package recovery

import "testing"

func TestSimilarity(t *testing.T) {
	cases := []struct {
		typed, record string
		min, max      int
	}{
		{"jm_talent", "jm_talent", 100, 100},
		{"JM_Talent", "jm_talent", 100, 100},
		{" 江门市人才 发展有限公司 ", "江门市人才发展有限公司", 100, 100},
		{"ｊｍ＿ｔａｌｅｎｔ", "jm_talent", 100, 100},
		{"jm_talnet", "jm_talent", 70, 85},
		{"江门市人才发展公司", "江门市人才发展有限公司", 75, 90},
		{"", "jm_talent", 0, 0},
		{"zzzz", "jm_talent", 0, 20},
	}
	for _, c := range cases {
		if got := Similarity(c.typed, c.record); got < c.min || got > c.max {
			t.Errorf("Similarity(%q, %q) = %d, want %d..%d", c.typed, c.record, got, c.min, c.max)
		}
	}
}

func FuzzSimilarity(f *testing.F) {
	f.Add("jm_talent", "jm_talnet")
	f.Add("江门市", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		s := Similarity(a, b)
		if s < 0 || s > 100 {
			t.Fatalf("out of range: %d", s)
		}
		if a != "" && normalise(a) != "" && Similarity(a, a) != 100 {
			t.Fatalf("a string is not fully like itself: %q", a)
		}
	})
}
