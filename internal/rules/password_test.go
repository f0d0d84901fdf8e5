package rules_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// codes lists the violation codes, in order, for compact comparisons.
func codes(vs []rules.Violation) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, v.Code)
	}
	return out
}

func TestCheckUsername(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"5 chars, the minimum", "abcde", nil},
		{"4 chars", "abcd", []string{rules.CodeUsernameLength}},
		{"20 chars, the maximum", "a" + strings.Repeat("b", 19), nil},
		{"21 chars", "a" + strings.Repeat("b", 20), []string{rules.CodeUsernameLength}},
		{"letters digits underscore", "Zhang_San2024", nil},
		{"the seed tutorial's example", "Abc123", nil},
		{"empty", "", []string{rules.CodeUsernameLength}},
		{"digit first", "1abcde", []string{rules.CodeUsernameFirstChar}},
		{"underscore first", "_abcde", []string{rules.CodeUsernameFirstChar}},
		{"hyphen", "abc-de", []string{rules.CodeUsernameCharset}},
		{"space", "abc de", []string{rules.CodeUsernameCharset}},
		{"dot", "zhang.san", []string{rules.CodeUsernameCharset}},
		{"Chinese, too short, wrong first char", "张三", []string{rules.CodeUsernameLength, rules.CodeUsernameCharset, rules.CodeUsernameFirstChar}},
		{"5 Chinese characters count as 5", "张三丰李四", []string{rules.CodeUsernameCharset, rules.CodeUsernameFirstChar}},
		{"full-width letters are not ASCII", "ａｂｃｄｅ", []string{rules.CodeUsernameCharset, rules.CodeUsernameFirstChar}},
		{"every rule at once", "9-ab", []string{rules.CodeUsernameLength, rules.CodeUsernameCharset, rules.CodeUsernameFirstChar}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rules.CheckUsername(tt.in)
			if !slices.Equal(codes(got), nonNil(tt.want)) {
				t.Errorf("CheckUsername(%q) = %v, want %v", tt.in, codes(got), tt.want)
			}
		})
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestCheckUsernameMessagesAreTheLiveWording(t *testing.T) {
	got := rules.CheckUsername("9-ab")
	want := []string{"登录账号应为5-20位", "登录账号只能使用大小写字母、数字和下划线", "登录账号应该以字母开始"}
	for i, v := range got {
		if v.Message != want[i] {
			t.Errorf("message %d = %q, want %q", i, v.Message, want[i])
		}
	}
}

func TestNormalizeUsername(t *testing.T) {
	if a, b := rules.NormalizeUsername("ZhangSan"), rules.NormalizeUsername("zHANGsAN"); a != b || a != "zhangsan" {
		t.Errorf("NormalizeUsername: %q vs %q, want both zhangsan", a, b)
	}
}

func TestCheckPasswordContractExamples(t *testing.T) {
	tests := []struct {
		pw   string
		want []string
	}{
		{"Abcd1234!", nil},
		{"Qwer7#Tyu", nil},
		{"Xasdfg12!", []string{rules.CodePasswordKeyboardRun}},
		{"Q12345zz", []string{rules.CodePasswordKeyboardRun}},
		{"Trewq9!z", []string{rules.CodePasswordKeyboardRun}},
		{"Aa!@#$%1", []string{rules.CodePasswordKeyboardRun}},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			if got := codes(rules.CheckPassword(tt.pw, "zhangsan")); !slices.Equal(got, nonNil(tt.want)) {
				t.Errorf("CheckPassword(%q) = %v, want %v", tt.pw, got, tt.want)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name     string
		pw, user string
		want     []string
	}{
		// Length: 7/8/30/31.
		{"7 chars", "Ab1!xyz", "", []string{rules.CodePasswordLength}},
		{"8 chars", "Ab1!xyzw", "", nil},
		{"30 chars", "Ab1!" + strings.Repeat("x", 26), "", nil},
		{"31 chars", "Ab1!" + strings.Repeat("x", 27), "", []string{rules.CodePasswordLength}},
		{"empty", "", "", []string{rules.CodePasswordLength, rules.CodePasswordClasses}},

		// Classes: 2 of 4 refused, each 3-of-4 combination accepted.
		{"lower+digit only", "abc97531x", "", []string{rules.CodePasswordClasses}},
		{"upper+lower only", "AbcXyzMnP", "", []string{rules.CodePasswordClasses}},
		{"digit+symbol only", "13579!?#2", "", []string{rules.CodePasswordClasses}},
		{"upper lower digit", "Abc97531x", "", nil},
		{"upper lower symbol", "Abc!xyz?m", "", nil},
		{"upper digit symbol", "ABC975!?M", "", nil},
		{"lower digit symbol", "abc975!?m", "", nil},
		{"space counts as a symbol", "abc 975 m", "", nil},

		// Charset: printable ASCII only.
		{"Chinese character", "Abc1234中文", "", []string{rules.CodePasswordCharset}},
		{"tab", "Abc1\t234x", "", []string{rules.CodePasswordCharset}},
		{"full-width digit", "Abcdef１2", "", []string{rules.CodePasswordCharset}},

		// Keyboard runs: exactly 4 is fine, 5 is refused, both directions, every row.
		{"4 digits forwards", "X1234ab!", "", nil},
		{"5 digits forwards", "X12345b!", "", []string{rules.CodePasswordKeyboardRun}},
		{"4 digits backwards", "X4321ab!", "", nil},
		{"5 digits backwards", "X54321b!", "", []string{rules.CodePasswordKeyboardRun}},
		{"digits to 0 backwards", "X09876b!", "", []string{rules.CodePasswordKeyboardRun}},
		{"digit row does not wrap", "X90123b!", "", nil},
		{"4 shifted digits forwards", "Xa!@#$7b", "", nil},
		{"5 shifted digits backwards", "Xa%$#@!7", "", []string{rules.CodePasswordKeyboardRun}},
		{"shifted row end", "Xa1^&*()", "", []string{rules.CodePasswordKeyboardRun}},
		{"4 top-row letters", "Qwer7#Tyu", "", nil},
		{"5 top-row letters backwards", "Z9!trewq", "", []string{rules.CodePasswordKeyboardRun}},
		{"end of top row", "X1!yuiop", "", []string{rules.CodePasswordKeyboardRun}},
		{"4 home-row backwards", "X1!gfdsM", "", nil},
		{"5 home-row backwards", "X1!hgfdsM", "", []string{rules.CodePasswordKeyboardRun}},
		{"5 home-row end", "X1!ghjkl", "", []string{rules.CodePasswordKeyboardRun}},
		{"4 bottom-row", "Y1!zxcvY", "", nil},
		{"5 bottom-row", "Y1!zxcvbY", "", []string{rules.CodePasswordKeyboardRun}},
		{"5 bottom-row backwards", "Y1!mnbvcY", "", []string{rules.CodePasswordKeyboardRun}},
		{"case-insensitive", "1!QwErTy", "", []string{rules.CodePasswordKeyboardRun}},
		{"rows do not join", "1!Aqwerasdf", "", nil},
		{"digit then shifted digit is no run", "A1234%^&*", "", nil},
		{"turning back restarts the run", "A1234321!", "", nil},

		// Username.
		{"contains username", "Zhangsan9!", "zhangsan", []string{rules.CodePasswordContainsUsername}},
		{"contains username, other case", "xZHANGSAN9!", "ZhangSan", []string{rules.CodePasswordContainsUsername}},
		{"part of username is fine", "Zhang9!san", "zhangsan", nil},
		{"no username given", "Zhangsan9!", "", nil},

		// All at once: a form shows every problem.
		{"every rule", "qwerty中", "qwer", []string{
			rules.CodePasswordLength, rules.CodePasswordCharset, rules.CodePasswordClasses,
			rules.CodePasswordKeyboardRun, rules.CodePasswordContainsUsername,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := codes(rules.CheckPassword(tt.pw, tt.user)); !slices.Equal(got, nonNil(tt.want)) {
				t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.pw, tt.user, got, tt.want)
			}
		})
	}
}

func TestCheckPasswordMessagesAreTheLiveWording(t *testing.T) {
	got := rules.CheckPassword("qwerty中", "qwer")
	want := map[string]string{
		rules.CodePasswordLength:           "密码应为8-30位",
		rules.CodePasswordKeyboardRun:      "密码不能在键盘上连续超过4个字符",
		rules.CodePasswordContainsUsername: "密码不能包含用户名",
	}
	for _, v := range got {
		if w, ok := want[v.Code]; ok && v.Message != w {
			t.Errorf("%s message = %q, want %q", v.Code, v.Message, w)
		}
		if !strings.HasPrefix(v.Message, "密码") {
			t.Errorf("%s message %q does not read as a password rule", v.Code, v.Message)
		}
	}
	if len(got) != 5 {
		t.Fatalf("got %d violations, want 5", len(got))
	}
}

func TestGeneratePasswordAlwaysPasses(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		pw, err := rules.GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != rules.DefaultPasswordLength {
			t.Fatalf("len(%q) = %d, want %d", pw, len(pw), rules.DefaultPasswordLength)
		}
		if v := rules.CheckPassword(pw, ""); v != nil {
			t.Fatalf("generated %q fails %v", pw, codes(v))
		}
		if strings.ContainsAny(pw, "0Oo1lI") {
			t.Fatalf("generated %q contains a look-alike character", pw)
		}
		if seen[pw] {
			t.Fatalf("generated %q twice", pw)
		}
		seen[pw] = true
	}
}

func TestGeneratePasswordN(t *testing.T) {
	for _, n := range []int{8, 12, 30} {
		pw, err := rules.GeneratePasswordN(n)
		if err != nil || len(pw) != n || rules.CheckPassword(pw, "") != nil {
			t.Errorf("GeneratePasswordN(%d) = %q, %v", n, pw, err)
		}
	}
	for _, n := range []int{-1, 0, 7, 31} {
		if pw, err := rules.GeneratePasswordN(n); err == nil {
			t.Errorf("GeneratePasswordN(%d) = %q, want an error", n, pw)
		}
	}
}

func TestGeneratePasswordFor(t *testing.T) {
	for i := 0; i < 1000; i++ {
		// "ab" would be contained by chance in about 1 of 20 draws; the
		// generator must redraw rather than return such a password.
		pw, err := rules.GeneratePasswordFor("ab")
		if err != nil {
			t.Fatal(err)
		}
		if v := rules.CheckPassword(pw, "ab"); v != nil {
			t.Fatalf("GeneratePasswordFor(ab) = %q fails %v", pw, codes(v))
		}
	}
}

func TestGeneratedPasswordsUseEveryClass(t *testing.T) {
	// Every class is forced in, so even the shortest password has each one.
	for i := 0; i < 2000; i++ {
		pw, _ := rules.GeneratePasswordN(8)
		if !strings.ContainsAny(pw, "ABCDEFGHJKLMNPQRSTUVWXYZ") || !strings.ContainsAny(pw, "abcdefghijkmnpqrstuvwxyz") ||
			!strings.ContainsAny(pw, "23456789") || !strings.ContainsAny(pw, "!@#$%&*+-=?") {
			t.Fatalf("%q lacks a character class", pw)
		}
	}
}

func TestCheckPasswordLongInputStaysLinear(t *testing.T) {
	// A hostile form: a megabyte password and a half-megabyte username.
	pw := strings.Repeat("a", 1<<20)
	user := strings.Repeat("a", 1<<19-1) + "B"
	start := time.Now()
	got := codes(rules.CheckPassword(pw, user))
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("CheckPassword took %v on long input", d)
	}
	if want := []string{rules.CodePasswordLength, rules.CodePasswordClasses}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := codes(rules.CheckPassword("X"+pw+"b!", strings.Repeat("A", 300))); !slices.Contains(got, rules.CodePasswordContainsUsername) {
		t.Errorf("long username inside long password not found: %v", got)
	}
}
