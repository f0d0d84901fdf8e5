package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MobileLen is the length of a mainland mobile number.
const MobileLen = 11

// Error codes of NormalizeMobile (returned as *CertError, so handlers map
// every identity-number error the same way).
const (
	CodeMobileLength  = "mobile_length"
	CodeMobileCharset = "mobile_charset"
	CodeMobilePrefix  = "mobile_prefix"
)

// NormalizeMobile checks a mainland mobile number and returns its canonical
// 11-digit form (1[3-9] and nine more digits), the only form stored and
// compared. It forgives what people type: surrounding spaces, full-width
// digits, a +86 / 0086 / 86 country prefix, and single spaces or hyphens
// between digits ("138 1234 5678", "138-1234-5678").
func NormalizeMobile(s string) (string, error) {
	s = NormalizeCertNumber(s)
	switch {
	case strings.HasPrefix(s, "+86"):
		s = strings.TrimLeft(s[3:], " -")
	case strings.HasPrefix(s, "+"):
		return "", certErr(CodeMobilePrefix, "仅支持中国大陆手机号码")
	case strings.HasPrefix(s, "0086"):
		s = strings.TrimLeft(s[4:], " -")
	case strings.HasPrefix(s, "86") && countDigits(s) == 13:
		s = strings.TrimLeft(s[2:], " -")
	}
	var digits [MobileLen]byte
	n := 0
	afterDigit := false // a separator may only follow a digit
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
			if n < len(digits) {
				digits[n] = c
			}
			n++
			afterDigit = true
		case (c == ' ' || c == '-') && afterDigit && i+1 < len(s):
			afterDigit = false
		default:
			return "", certErr(CodeMobileCharset, "手机号码只能包含数字")
		}
	}
	if n != len(digits) {
		return "", certErr(CodeMobileLength, fmt.Sprintf("手机号码应为%d位数字", MobileLen))
	}
	if digits[0] != '1' || digits[1] < '3' {
		return "", certErr(CodeMobilePrefix, "请输入正确的中国大陆手机号码（1开头，第二位为3-9）")
	}
	return string(digits[:]), nil
}

// ValidateMobile reports whether s is a mainland mobile number as
// NormalizeMobile accepts it; nil means yes.
func ValidateMobile(s string) error {
	_, err := NormalizeMobile(s)
	return err
}

// countDigits counts the ASCII digits in s.
func countDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			n++
		}
	}
	return n
}

// MaskPhone hides the middle of a phone number as every list and API of
// CONTRACT §4 shows it: "13812341234" → "138****1234". Other lengths keep the
// first 3 and last 4 characters too; a value too short to hide anything that
// way is masked whole.
func MaskPhone(phone string) string {
	return maskMiddle(phone, 3, 4)
}

// MaskIDNumber hides the middle of an ID number in lists and logs, keeping
// the first 4 (province and city) and the last 4 characters:
// "440703199001011234" → "4407**********1234". Short values are masked whole.
func MaskIDNumber(id string) string {
	return maskMiddle(id, 4, 4)
}

// MaskCertNumber hides the middle of a unit certificate number: a USCC (or
// any value of 16 or more characters) keeps its first 4 and last 4
// characters, like MaskIDNumber; a shorter one such as a 9-character
// organisation code keeps 2 and 2, so more than one character stays hidden.
func MaskCertNumber(s string) string {
	if utf8.RuneCountInString(s) >= 16 {
		return maskMiddle(s, 4, 4)
	}
	return maskMiddle(s, 2, 2)
}

// MaskName hides a person's name but its first character (the family name
// in most Chinese names): "张三丰" → "张**", "张三" → "张*". A one-character
// name becomes "*".
func MaskName(name string) string {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	_, size := utf8.DecodeRuneInString(name)
	return name[:size] + strings.Repeat("*", n-1)
}

// maskMiddle keeps head runes at the front and tail at the back and replaces
// each rune between with '*'. When nothing would be hidden (n ≤ head+tail),
// all runes are masked: a short value is not safe to show in part.
func maskMiddle(s string, head, tail int) string {
	n := utf8.RuneCountInString(s)
	if n <= head+tail {
		return strings.Repeat("*", n)
	}
	var b strings.Builder
	b.Grow(len(s) + n)
	i := 0
	for _, r := range s {
		if i < head || i >= n-tail {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}
