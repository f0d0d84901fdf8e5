package recovery

import (
	"strings"

	"golang.org/x/text/width"
)

// Similarity scores how close what an applicant typed is to the record,
// from 0 (nothing alike, or nothing typed) to 100 (the same after ignoring
// case, spaces and full-/half-width differences). It is one minus the
// Levenshtein distance over the longer length, on runes.
func Similarity(typed, record string) int {
	a, b := []rune(normalise(typed)), []rune(normalise(record))
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	d := levenshtein(a, b)
	longer := max(len(a), len(b))
	return (100*(longer-d) + longer/2) / longer
}

func normalise(s string) string {
	s = strings.ToLower(width.Narrow.String(s))
	return strings.Join(strings.Fields(s), "")
}

// levenshtein is the edit distance with one row of memory. Inputs are bounded
// by the form fields' lengths.
func levenshtein(a, b []rune) int {
	if len(a) > 256 {
		a = a[:256]
	}
	if len(b) > 256 {
		b = b[:256]
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		prev := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cur := row[j]
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			row[j] = min(row[j]+1, row[j-1]+1, prev+cost)
			prev = cur
		}
	}
	return row[len(b)]
}
