package rules

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// idWeights are GB 11643's weights for the 17 body digits (2^(18-i) mod 11).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps Σ digit×weight mod 11 to the check character
// (ISO 7064 MOD 11-2).
// IDNumberLen is the length of a resident ID number (GB 11643).
const IDNumberLen = 18

const idCheckChars = "10X98765432"

// idEarliestBirthYear is the earliest birth year accepted: nobody alive was
// born before, so an older date is a typing mistake.
const idEarliestBirthYear = 1900

// ValidateIDNumber normalises and checks an 18-character 居民身份证号码
// (GB 11643): 17 digits and a check character (0–9 or X; a lower-case x is
// upper-cased), a known province code (digits 1–2), a real birth date
// (digits 7–14) from 1900 up to today, and the ISO 7064 MOD 11-2 check
// character, reported in that order. today is the application clock's
// current time; it is read as a date in Asia/Shanghai.
func ValidateIDNumber(s string, today time.Time) (string, error) {
	s = NormalizeCertNumber(s)
	if utf8.RuneCountInString(s) != IDNumberLen {
		return "", certErr(CodeCertLength, fmt.Sprintf("身份证号码应为%d位", IDNumberLen))
	}
	if len(s) != IDNumberLen || !allDigits(s[:17]) || (!isDigit(s[17]) && s[17] != 'X') {
		return "", certErr(CodeCertCharset, "身份证号码前17位应为数字，最后一位应为数字或X")
	}
	if !isProvinceCode(s[:2]) {
		return "", certErr(CodeCertProvince, "身份证号码前两位（省份代码）不正确")
	}
	if _, ok := idBirthDate(s, today); !ok {
		return "", certErr(CodeCertBirthDate, "身份证号码中的出生日期不正确")
	}
	if idCheckChar(s[:17]) != s[17] {
		return "", certErr(CodeCertCheckChar, "身份证号码校验位不正确，请核对")
	}
	return s, nil
}

// IDBirthDate returns the birth date encoded in a normalised, valid ID
// number (digits 7–14) as midnight in Asia/Shanghai, so forms can cross-check
// it without parsing the number again. ok is false when id is not 18
// characters or the date is not a real one from 1900 up to today.
func IDBirthDate(id string, today time.Time) (birth time.Time, ok bool) {
	if len(id) != 18 || !allDigits(id[6:14]) {
		return time.Time{}, false
	}
	return idBirthDate(id, today)
}

func idBirthDate(s string, today time.Time) (time.Time, bool) {
	y := atoi(s[6:10])
	m := atoi(s[10:12])
	d := atoi(s[12:14])
	if y < idEarliestBirthYear || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	birth := time.Date(y, time.Month(m), d, 0, 0, 0, 0, Shanghai)
	if birth.Day() != d { // 2月30日 and the like roll over into the next month
		return time.Time{}, false
	}
	ty, tm, td := today.In(Shanghai).Date()
	if birth.After(time.Date(ty, tm, td, 0, 0, 0, 0, Shanghai)) {
		return time.Time{}, false
	}
	return birth, true
}

// idCheckChar computes the 18th character for 17 digits.
func idCheckChar(body string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(body[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi parses a short run of ASCII digits the caller has already checked.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
