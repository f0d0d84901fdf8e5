package watermark

import (
	"strings"
	"testing"
)

// TestGlyphTable checks the hand-drawn font: every printable ASCII character
// in its place, rows of five '#' or '.', at most nine, ink in every glyph but
// the space, and no two glyphs alike (a username must read one way only).
func TestGlyphTable(t *testing.T) {
	seen := map[[glyphH]uint8]byte{}
	for i, g := range glyphs {
		c := byte(firstGlyph + i)
		if len(g) < 2 || g[0] != c || g[1] != ' ' {
			t.Errorf("entry %d is %q, want it to start with %q", i, g, string(c)+" ")
			continue
		}
		rows := strings.Fields(g[2:])
		if len(rows) > glyphH {
			t.Errorf("%q has %d rows, at most %d", c, len(rows), glyphH)
		}
		for _, r := range rows {
			if len(r) != glyphW || strings.Trim(r, "#.") != "" {
				t.Errorf("%q has row %q, want %d of '#' or '.'", c, r, glyphW)
			}
		}
		bits := glyphRows(c)
		if bits == ([glyphH]uint8{}) != (c == ' ') {
			t.Errorf("%q: ink %v", c, bits)
		}
		if prev, dup := seen[bits]; dup {
			t.Errorf("%q looks like %q", c, prev)
		}
		seen[bits] = c
	}
}

// TestConfusablesDiffer checks the characters a username is most often
// misread by differ in more than one pixel.
func TestConfusablesDiffer(t *testing.T) {
	for _, pair := range []string{"0O", "0o", "1l", "1I", "lI", "l|", "5S", "2Z", "8B", "_-", "g9", "q9"} {
		a, b := glyphRows(pair[0]), glyphRows(pair[1])
		d := 0
		for r := range a {
			for x := a[r] ^ b[r]; x != 0; x &= x - 1 {
				d++
			}
		}
		if d < 3 {
			t.Errorf("%q and %q differ in %d pixels", pair[0], pair[1], d)
		}
	}
}
