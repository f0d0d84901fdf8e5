package rules

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Violation is one broken rule of a form field. Checks return all of them at
// once, so a form can show every problem together instead of one per submit.
// Code is for programs (snake_case, stable); Message is what a person reads.
type Violation struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Username limits (CONTRACT §3); exported so forms can render maxlength and hints.
const (
	UsernameMinLen = 5
	UsernameMaxLen = 20
)

// Password limits (CONTRACT §3); exported so forms can render maxlength and hints.
const (
	PasswordMinLen = 8
	PasswordMaxLen = 30
	// PasswordMinClasses is how many of the four character classes (upper-case,
	// lower-case, digit, symbol) a password must mix.
	PasswordMinClasses = 3
	// PasswordMaxKeyboardRun is the longest run of keyboard-neighbouring keys a
	// password may contain ("不能在键盘上连续超过4个字符").
	PasswordMaxKeyboardRun = 4
)

// Violation codes of CheckUsername and CheckPassword. Handlers switch on them;
// the messages are the live system's wording.
const (
	CodeUsernameLength           = "username_length"
	CodeUsernameCharset          = "username_charset"
	CodeUsernameFirstChar        = "username_first_char"
	CodePasswordLength           = "password_length"
	CodePasswordCharset          = "password_charset"
	CodePasswordClasses          = "password_classes"
	CodePasswordKeyboardRun      = "password_keyboard_run"
	CodePasswordContainsUsername = "password_contains_username"
)

var (
	violUsernameLength    = Violation{CodeUsernameLength, fmt.Sprintf("登录账号应为%d-%d位", UsernameMinLen, UsernameMaxLen)}
	violUsernameCharset   = Violation{CodeUsernameCharset, "登录账号只能使用大小写字母、数字和下划线"}
	violUsernameFirstChar = Violation{CodeUsernameFirstChar, "登录账号应该以字母开始"}

	violPasswordLength      = Violation{CodePasswordLength, fmt.Sprintf("密码应为%d-%d位", PasswordMinLen, PasswordMaxLen)}
	violPasswordCharset     = Violation{CodePasswordCharset, "密码只能使用英文字母、数字和英文符号"}
	violPasswordClasses     = Violation{CodePasswordClasses, fmt.Sprintf("密码必须包含大写字母、小写字母、数字、符号中的至少%d种", PasswordMinClasses)}
	violPasswordKeyboardRun = Violation{CodePasswordKeyboardRun, fmt.Sprintf("密码不能在键盘上连续超过%d个字符", PasswordMaxKeyboardRun)}
	violPasswordUsername    = Violation{CodePasswordContainsUsername, "密码不能包含用户名"}
)

// CheckUsername reports every rule of CONTRACT §3 that the username u breaks:
// 5–20 characters, only ASCII letters, digits and '_', a letter first. It does
// not trim: what the person typed is what is checked. A nil result means u is
// acceptable (uniqueness is the database's business, see NormalizeUsername).
func CheckUsername(u string) []Violation {
	var out []Violation
	if n := utf8.RuneCountInString(u); n < UsernameMinLen || n > UsernameMaxLen {
		out = append(out, violUsernameLength)
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !isASCIILetter(c) && !isDigit(c) && c != '_' {
			out = append(out, violUsernameCharset)
			break
		}
	}
	if u != "" && !isASCIILetter(u[0]) {
		out = append(out, violUsernameFirstChar)
	}
	return out
}

// NormalizeUsername returns the key under which usernames are unique: the
// contract makes them unique case-insensitively, so "Abc12" and "aBC12" are
// the same account. Store and look up this form; show the one typed.
func NormalizeUsername(u string) string {
	return strings.ToLower(u)
}

// CheckPassword reports every rule of CONTRACT §3 that password breaks, given
// the username of the account it is for (empty when unknown): 8–30 printable
// ASCII characters mixing at least 3 of upper-case, lower-case, digit and
// symbol, no run of more than 4 keyboard-neighbouring keys, and not
// containing the username (case-insensitive). A nil result means acceptable.
//
// The space (0x20) is printable ASCII and counts as a symbol.
func CheckPassword(password, username string) []Violation {
	var out []Violation
	if n := utf8.RuneCountInString(password); n < PasswordMinLen || n > PasswordMaxLen {
		out = append(out, violPasswordLength)
	}
	var upper, lower, digit, symbol bool
	charsetOK := true
	for i := 0; i < len(password); i++ {
		c := password[i]
		switch {
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= 'a' && c <= 'z':
			lower = true
		case isDigit(c):
			digit = true
		case c >= 0x20 && c <= 0x7e:
			symbol = true
		default:
			charsetOK = false
		}
	}
	if !charsetOK {
		out = append(out, violPasswordCharset)
	}
	if countTrue(upper, lower, digit, symbol) < PasswordMinClasses {
		out = append(out, violPasswordClasses)
	}
	if hasKeyboardRun(password, PasswordMaxKeyboardRun+1) {
		out = append(out, violPasswordKeyboardRun)
	}
	if username != "" && containsFold(password, username) {
		out = append(out, violPasswordUsername)
	}
	return out
}

// keyboardRows are the rows of a US keyboard along which a run counts
// (CONTRACT §3). Letters are matched case-insensitively.
var keyboardRows = [...]string{"1234567890", "!@#$%^&*()", "qwertyuiop", "asdfghjkl", "zxcvbnm"}

// keyPos is where an ASCII character sits on keyboardRows: row is 1-based
// (0 = on no row) and col its index in the row.
type keyPos struct{ row, col int8 }

// keyTable maps each ASCII byte to its keyPos; built once from keyboardRows.
var keyTable = func() (t [128]keyPos) {
	for r, row := range keyboardRows {
		for c := 0; c < len(row); c++ {
			p := keyPos{int8(r + 1), int8(c)}
			t[row[c]] = p
			if up := row[c]; up >= 'a' && up <= 'z' {
				t[up-'a'+'A'] = p
			}
		}
	}
	return t
}()

// hasKeyboardRun reports whether s holds limit or more characters that are
// consecutive keys of one keyboard row, forwards ("asdfg") or backwards
// ("trewq"). Rows do not wrap around.
func hasKeyboardRun(s string, limit int) bool {
	fwd, bwd := 1, 1
	var prev keyPos
	for i := 0; i < len(s); i++ {
		var cur keyPos
		if c := s[i]; c < 128 {
			cur = keyTable[c]
		}
		if cur.row != 0 && cur.row == prev.row && cur.col == prev.col+1 {
			fwd++
		} else {
			fwd = 1
		}
		if cur.row != 0 && cur.row == prev.row && cur.col == prev.col-1 {
			bwd++
		} else {
			bwd = 1
		}
		if fwd >= limit || bwd >= limit {
			return true
		}
		prev = cur
	}
	return false
}

// containsFold reports whether sub occurs in s, ignoring ASCII case
// (usernames are ASCII; other bytes must match exactly). Short inputs, the
// only ones a form sends, are compared in place without allocating; long ones
// go through strings.Contains, so a megabyte of input cannot make the check
// quadratic.
func containsFold(s, sub string) bool {
	if len(sub) > len(s) {
		return false
	}
	if len(s) > 128 {
		return strings.Contains(lowerASCIIString(s), lowerASCIIString(sub))
	}
outer:
	for i := 0; i+len(sub) <= len(s); i++ {
		for j := 0; j < len(sub); j++ {
			if lowerASCII(s[i+j]) != lowerASCII(sub[j]) {
				continue outer
			}
		}
		return true
	}
	return false
}

// lowerASCIIString lower-cases the ASCII letters of s and leaves every other
// byte alone (unlike strings.ToLower, which also folds e.g. the Kelvin sign).
func lowerASCIIString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII(c)
	}
	return string(b)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
