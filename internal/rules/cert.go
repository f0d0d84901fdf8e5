package rules

import (
	"errors"
	"recoverydesk/internal/vocab"
	"strings"
	"time"
	"unicode/utf8"
)

// CertType is the kind of certificate a person or unit identifies with. The
// word and its label are the vocabulary's (vocab.CertType); the checks of
// the numbers are here.
type CertType = vocab.CertType

// The certificate types (CONTRACT §3).
const (
	CertUSCC    = vocab.CertUSCC    // 统一社会信用代码 (GB 32100-2015), units
	CertOrgCode = vocab.CertOrgCode // 组织机构代码 (GB 11714), units
	CertIDCard  = vocab.CertIDCard  // 居民身份证号码 (GB 11643), persons
)

// Error codes of CertError. Each says what is wrong, so a form can point at it.
const (
	CodeCertLength      = "cert_length"       // wrong number of characters
	CodeCertCharset     = "cert_charset"      // a character that may not appear there
	CodeCertCheckChar   = "cert_check_char"   // the check character does not match
	CodeCertBirthDate   = "cert_birth_date"   // ID: not a real date, before 1900 or in the future
	CodeCertProvince    = "cert_province"     // ID: first two digits are no province
	CodeCertAuthority   = "cert_authority"    // USCC: unknown registration authority / category pair
	CodeCertDivision    = "cert_division"     // USCC: characters 3–8 are no division code
	CodeUnknownCertType = "unknown_cert_type" // ValidateCert with a type it does not know
)

// CertError is why a certificate number (or a mobile number) was refused:
// Code for programs, Message (Chinese) for the person who typed it. Handlers
// map it to a 422 with the field name; it never carries the number itself,
// so it is safe to log.
type CertError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error returns the Chinese message, prefixed with the code for logs.
func (e *CertError) Error() string { return e.Code + ": " + e.Message }

func certErr(code, msg string) *CertError { return &CertError{Code: code, Message: msg} }

// NormalizeCertNumber cleans up a certificate number the way people paste
// them: surrounding white space (also the ideographic space and zero-width
// characters) is dropped, full-width characters (０-９, Ａ-Ｚ, －) become
// their ASCII forms, typographic dashes become '-', and letters become
// upper-case (so an ID card's x is X). Inner characters are kept, so a wrong
// character is still reported rather than silently removed.
func NormalizeCertNumber(s string) string {
	s = strings.TrimFunc(s, isTrimmable)
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || (c >= 'a' && c <= 'z') {
			clean = false
			break
		}
	}
	if clean {
		return s // the common case: no allocation
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = foldWidth(r)
		if r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isTrimmable is white space plus the invisible characters that copying from
// web pages and PDFs leaves at the ends of a number.
func isTrimmable(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0, 0x3000, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// foldWidth maps full-width ASCII variants (U+FF01–U+FF5E) and the
// ideographic space to ASCII, and typographic dashes to '-'.
func foldWidth(r rune) rune {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E:
		return r - 0xFEE0
	case r == 0x3000:
		return ' '
	case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE63:
		return '-'
	}
	return r
}

// ValidateCert normalises and checks a certificate number of type t and
// returns the normalised form to store and compare. today is the
// application's current time (only ID cards use it, to refuse birth dates in
// the future); pass the adjustable clock's now, never time.Now directly.
func ValidateCert(t CertType, s string, today time.Time) (normalized string, err error) {
	switch t {
	case CertUSCC:
		return ValidateUSCC(s)
	case CertOrgCode:
		return ValidateOrgCode(s)
	case CertIDCard:
		return ValidateIDNumber(s, today)
	}
	return "", certErr(CodeUnknownCertType, "不支持的证件类型")
}

// usccAlphabet is GB 32100-2015's character set: digits and upper-case
// letters without I, O, S, V, Z. A character's value is its index.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// usccValue maps an ASCII byte to its value in usccAlphabet, or -1.
var usccValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(usccAlphabet); i++ {
		t[usccAlphabet[i]] = int8(i)
	}
	return t
}()

// usccWeights are 3^i mod 31 for positions 1–17 (GB 32100-2015, 5.3).
var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// usccCategories returns, for a registration authority (character 1), the
// institution categories (character 2) that GB 32100-2015 Appendix A and its
// amendments assign to it, or "" for an unknown authority:
//
//	1 机构编制: 1 机关, 2 事业单位, 3 中央编办直接管理机构编制的群众团体, 9 其他
//	2 外交: 1 外国常驻新闻机构, 9 其他
//	3 司法行政: 1 律师执业机构, 2 公证处, 3 基层法律服务所, 4 司法鉴定机构, 5 仲裁委员会, 9 其他
//	4 文化: 1 外国在华文化中心, 9 其他
//	5 民政: 1 社会团体, 2 民办非企业单位, 3 基金会, 9 其他
//	6 旅游: 1 外国旅游部门常驻代表机构, 2 港澳台地区旅游部门常驻内地（大陆）代表机构, 9 其他
//	7 宗教: 1 宗教活动场所, 2 宗教院校, 9 其他
//	8 工会: 1 基层工会, 9 其他
//	9 工商 (市场监管): 1 企业, 2 个体工商户, 3 农民专业合作社
//	A 中央军委改革和编制办公室: 1 军队事业单位, 9 其他
//	N 农业: 1 组级, 2 村级, 3 乡镇级集体经济组织, 9 其他
//	Y 其他: 1
func usccCategories(authority byte) string {
	switch authority {
	case '1', '5', 'N':
		return "1239"
	case '2', '4', '8', 'A':
		return "19"
	case '3':
		return "123459"
	case '6', '7':
		return "129"
	case '9':
		return "123"
	case 'Y':
		return "1"
	}
	return ""
}

// ValidateUSCC normalises and checks a 统一社会信用代码 (GB 32100-2015):
// 18 characters from the 31-character set, a known registration authority and
// category (characters 1–2), a division code (characters 3–8: six digits
// starting with a province code, or 100000 for national registrations) and the
// check character (18th), in that order of reporting.
func ValidateUSCC(s string) (string, error) {
	s = NormalizeCertNumber(s)
	if utf8.RuneCountInString(s) != 18 {
		return "", certErr(CodeCertLength, "统一社会信用代码应为18位")
	}
	for i := 0; i < len(s); i++ {
		if usccValue[s[i]] < 0 {
			return "", certErr(CodeCertCharset, "统一社会信用代码只能包含数字和大写字母（不含I、O、S、V、Z）")
		}
	}
	if strings.IndexByte(usccCategories(s[0]), s[1]) < 0 {
		return "", certErr(CodeCertAuthority, "统一社会信用代码第1-2位（登记管理部门和机构类别）不正确")
	}
	if !isDivisionCode(s[2:8]) {
		return "", certErr(CodeCertDivision, "统一社会信用代码第3-8位（登记管理机关行政区划码）不正确")
	}
	if usccCheckChar(s[:17]) != s[17] {
		return "", certErr(CodeCertCheckChar, "统一社会信用代码校验位不正确，请核对")
	}
	return s, nil
}

// usccCheckChar computes the 18th character for the first 17 (which must
// all be in usccAlphabet): 31 − (Σ value×weight mod 31), with 31 written 0.
func usccCheckChar(body string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(usccValue[body[i]]) * usccWeights[i]
	}
	return usccAlphabet[(31-sum%31)%31]
}

// isDivisionCode reports whether d is six digits that start with a province
// code of GB/T 2260, or "10", which national-level registrations use
// (100000). Finer checks would refuse old codes of merged counties that stay
// in issued numbers for life.
func isDivisionCode(d string) bool {
	if len(d) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	return d[:2] == "10" || isProvinceCode(d[:2])
}

// provinceCodes are the first two digits of GB/T 2260 codes: the 31
// mainland provinces, Taiwan (71), Hong Kong (81) and Macao (82) (the last two
// and 83 also appear in residence-permit numbers, which share the ID format).
const provinceCodes = "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83"

// isProvinceCode reports whether the two characters p are a province code.
func isProvinceCode(p string) bool {
	if len(p) != 2 || !isDigit(p[0]) || !isDigit(p[1]) {
		return false
	}
	for i := 0; i+1 < len(provinceCodes); i += 3 {
		if provinceCodes[i] == p[0] && provinceCodes[i+1] == p[1] {
			return true
		}
	}
	return false
}

// orgCodeWeights are GB 11714's weights for the 8 body characters.
var orgCodeWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// ValidateOrgCode normalises and checks a 组织机构代码 (GB 11714): 8 body
// characters (digits or upper-case letters) and a check character (0–9 or X).
// The form "12345678-9" printed on old certificates is accepted and the '-'
// dropped ("组织机构代码第九位'-'请省略"), so the stored form is always 9
// characters.
func ValidateOrgCode(s string) (string, error) {
	s = NormalizeCertNumber(s)
	if len(s) == 10 && s[8] == '-' {
		s = s[:8] + s[9:]
	}
	if utf8.RuneCountInString(s) != 9 {
		return "", certErr(CodeCertLength, "组织机构代码应为9位")
	}
	if len(s) != 9 { // 9 characters, but not all ASCII
		return "", certErr(CodeCertCharset, "组织机构代码只能包含数字和大写字母")
	}
	for i := 0; i < 8; i++ {
		if orgCodeValue(s[i]) < 0 {
			return "", certErr(CodeCertCharset, "组织机构代码只能包含数字和大写字母")
		}
	}
	if c := s[8]; !isDigit(c) && c != 'X' {
		return "", certErr(CodeCertCharset, "组织机构代码第九位（校验码）应为数字或X")
	}
	if orgCodeCheckChar(s[:8]) != s[8] {
		return "", certErr(CodeCertCheckChar, "组织机构代码校验位不正确，请核对")
	}
	return s, nil
}

// orgCodeValue is a body character's value: 0–9 for digits, 10–35 for A–Z.
func orgCodeValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

// orgCodeCheckChar computes the 9th character: 11 − (Σ value×weight mod 11),
// with 10 written X and 11 written 0.
func orgCodeCheckChar(body string) byte {
	sum := 0
	for i := 0; i < 8; i++ {
		sum += orgCodeValue(body[i]) * orgCodeWeights[i]
	}
	switch c := 11 - sum%11; c {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + c)
	}
}

// CertMessage is the Chinese message of a certificate or mobile-number
// refusal, or fallback for any other error.
func CertMessage(err error, fallback string) string {
	var ce *CertError
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return fallback
}
