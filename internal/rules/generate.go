package rules

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// DefaultPasswordLength is the length of GeneratePassword's passwords: long
// enough to be strong, short enough to type from an SMS.
const DefaultPasswordLength = 12

// The alphabet of generated passwords. People copy these from an SMS by hand,
// so look-alikes are left out: 0 O o, 1 l I, and symbols that are easy to
// misread or that break quoting (' " ` , . ; : | ~ \ / and space).
const (
	genUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	genLower  = "abcdefghijkmnpqrstuvwxyz"
	genDigits = "23456789"
	genSymbol = "!@#$%&*+-=?"
	genAll    = genUpper + genLower + genDigits + genSymbol
)

// ErrPasswordLength is returned by GeneratePasswordN for a length the policy
// would refuse (outside PasswordMinLen..PasswordMaxLen).
var ErrPasswordLength = errors.New("rules: generated password length must be 8-30")

// GeneratePassword returns a random password of DefaultPasswordLength
// characters that passes CheckPassword. It is what approved recoveries and
// `staff add` send out; use GeneratePasswordFor when the account is known.
func GeneratePassword() (string, error) {
	return generatePassword(DefaultPasswordLength, "")
}

// GeneratePasswordN is GeneratePassword with a chosen length n (8–30). Every
// character class appears at least once, the characters come from
// crypto/rand, and the rare draw that breaks the keyboard-run rule is drawn
// again, so the result always passes CheckPassword.
func GeneratePasswordN(n int) (string, error) {
	return generatePassword(n, "")
}

// GeneratePasswordFor is GeneratePassword for the account named username: it
// also redraws in the (astronomically rare) case that the password happens to
// contain the username, so CheckPassword(p, username) is always clean.
func GeneratePasswordFor(username string) (string, error) {
	return generatePassword(DefaultPasswordLength, username)
}

func generatePassword(n int, username string) (string, error) {
	if n < PasswordMinLen || n > PasswordMaxLen {
		return "", ErrPasswordLength
	}
	r := &byteSource{}
	buf := make([]byte, n)
	for attempt := 0; attempt < 100; attempt++ {
		classes := [...]string{genUpper, genLower, genDigits, genSymbol}
		for i := range buf {
			set := genAll
			if i < len(classes) {
				set = classes[i]
			}
			k, err := r.intn(len(set))
			if err != nil {
				return "", err
			}
			buf[i] = set[k]
		}
		// Fisher–Yates, so the guaranteed classes are not always in front.
		for i := len(buf) - 1; i > 0; i-- {
			j, err := r.intn(i + 1)
			if err != nil {
				return "", err
			}
			buf[i], buf[j] = buf[j], buf[i]
		}
		if CheckPassword(string(buf), username) == nil {
			return string(buf), nil
		}
	}
	// Only reachable when username is something like a single letter that
	// every draw contains.
	return "", errors.New("rules: could not generate a compliant password")
}

// byteSource hands out uniformly random small integers from crypto/rand,
// reading in blocks to keep the system calls few.
type byteSource struct {
	buf [64]byte
	pos int
	n   int
}

// intn returns a uniform integer in [0, max) for 0 < max <= 256, by rejection
// sampling so no value is favoured.
func (s *byteSource) intn(max int) (int, error) {
	limit := 256 - 256%max
	for {
		if s.pos == s.n {
			if _, err := io.ReadFull(rand.Reader, s.buf[:]); err != nil {
				return 0, fmt.Errorf("rules: reading randomness: %w", err)
			}
			s.pos, s.n = 0, len(s.buf)
		}
		b := int(s.buf[s.pos])
		s.pos++
		if b < limit {
			return b % max, nil
		}
	}
}
