package accounts

import (
	"context"
	"unicode"
	"unicode/utf8"
)

// FormVerifier is the built-in real-name verifier: it accepts a name of
// plausible form (2–20 Chinese characters, optionally with the middle dot of
// minority names, or 2–40 Latin letters and spaces). The ID number's checksum
// and birth date are checked by the registration itself.
type FormVerifier struct{}

// Verify reports whether name has a plausible form.
func (FormVerifier) Verify(_ context.Context, name, _ string) (bool, error) {
	return ValidName(name), nil
}

// ValidName reports whether a person's name has a plausible form.
func ValidName(name string) bool {
	n := utf8.RuneCountInString(name)
	if n < 2 {
		return false
	}
	han, latin := true, true
	for i, r := range name {
		isDot := r == '·' || r == '•'
		if !(unicode.Is(unicode.Han, r) || (isDot && i > 0)) {
			han = false
		}
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == ' ' && i > 0) {
			latin = false
		}
	}
	return han && n <= 20 || latin && n <= 40
}
