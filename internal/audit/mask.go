package audit

import (
	"strings"

	"recoverydesk/internal/rules"
)

// MaskText hides whatever in s looks like personal data before an audit
// entry is shown or exported: mainland mobile numbers (11 digits starting
// with 1[3-9], also after an 86 country prefix), resident ID numbers (18
// characters, 17 digits and a digit or X; and the old 15-digit form) and
// unified social credit codes (18 characters of the USCC alphabet with the
// 6-digit region code in positions 3–8). Each is masked with the rules
// masks, so the audit page shows "138****5678" as every other list does.
//
// s is cut into runs of ASCII letters and digits and only a whole run is
// judged, so a number inside a longer token (a case number ZH2026…, a hash,
// a request id) is left alone and an already masked value stays as it is.
// Checksums are not required: a mistyped ID number is personal data too.
func MaskText(s string) string {
	var b strings.Builder
	changed := false
	start := -1
	flush := func(end int) {
		tok := s[start:end]
		if m := maskToken(tok); m != tok {
			changed = true
			tok = m
		}
		b.WriteString(tok)
		start = -1
	}
	for i := 0; i < len(s); i++ {
		if isAlnum(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			flush(i)
		}
		b.WriteByte(s[i])
	}
	if start >= 0 {
		flush(len(s))
	}
	if !changed {
		return s
	}
	return b.String()
}

// maskToken masks one run of letters and digits when it looks like a phone
// number, an ID number or a USCC, and returns it unchanged otherwise.
func maskToken(t string) string {
	switch {
	case looksLikePhone(t):
		return rules.MaskPhone(t)
	case len(t) == 13 && strings.HasPrefix(t, "86") && looksLikePhone(t[2:]):
		return "86" + rules.MaskPhone(t[2:])
	case looksLikeIDNumber(t):
		return rules.MaskIDNumber(t)
	case looksLikeUSCC(t):
		return rules.MaskCertNumber(t)
	}
	return t
}

func looksLikePhone(t string) bool {
	return len(t) == 11 && allDigits(t) && t[0] == '1' && t[1] >= '3'
}

func looksLikeIDNumber(t string) bool {
	switch len(t) {
	case 15:
		return allDigits(t) && t[0] != '0'
	case 18:
		last := t[17]
		return allDigits(t[:17]) && t[0] != '0' && (isDigit(last) || last == 'X' || last == 'x')
	}
	return false
}

// looksLikeUSCC: 18 characters of the GB 32100 alphabet (no I, O, S, V,
// Z), where characters 3–8 are the registration authority's region code.
func looksLikeUSCC(t string) bool {
	if len(t) != 18 || !allDigits(t[2:8]) {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if !isDigit(c) && (c < 'A' || c > 'Y' || strings.IndexByte("IOSVZ", c) >= 0) {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
