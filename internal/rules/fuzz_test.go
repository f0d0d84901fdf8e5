package rules_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"recoverydesk/internal/rules"
)

// Fuzz targets for every function that parses untrusted input. Each checks
// properties that must hold for any input, not just "does not panic". The
// f.Add seeds run in every plain `go test`.

func FuzzCheckUsername(f *testing.F) {
	for _, s := range []string{"abcde", "Abc123", "1abcde", "张三丰李四", "a_b_c_d_e_f_g_h_i_j_k", "", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, u string) {
		vs := rules.CheckUsername(u)
		ok := len(vs) == 0
		if ok {
			if len(u) < 5 || len(u) > 20 || !isASCIILetter(u[0]) {
				t.Fatalf("accepted %q", u)
			}
			for _, c := range []byte(u) {
				if !isASCIILetter(c) && !(c >= '0' && c <= '9') && c != '_' {
					t.Fatalf("accepted %q with %q", u, c)
				}
			}
		}
		seen := map[string]bool{}
		for _, v := range vs {
			if seen[v.Code] || v.Message == "" {
				t.Fatalf("duplicate or empty violation %+v for %q", v, u)
			}
			seen[v.Code] = true
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	seeds := [][2]string{
		{"Abcd1234!", "zhangsan"}, {"Qwer7#Tyu", ""}, {"Xasdfg12!", ""}, {"Q12345zz", ""},
		{"Trewq9!z", ""}, {"Aa!@#$%1", ""}, {"Zhangsan9!", "zhangsan"}, {"", ""}, {"密码Abc123!", "abc"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pw, user string) {
		vs := rules.CheckPassword(pw, user)
		if len(vs) > 0 {
			return
		}
		if n := utf8.RuneCountInString(pw); n < 8 || n > 30 {
			t.Fatalf("accepted %q of %d characters", pw, n)
		}
		classes := 0
		for _, set := range []string{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"} {
			if strings.ContainsAny(pw, set) {
				classes++
			}
		}
		if strings.ContainsFunc(pw, func(r rune) bool {
			return r >= 0x20 && r <= 0x7e && !isASCIILetter(byte(r)) && !(r >= '0' && r <= '9')
		}) {
			classes++
		}
		if classes < 3 {
			t.Fatalf("accepted %q with %d classes", pw, classes)
		}
		for _, r := range pw {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("accepted %q containing %U", pw, r)
			}
		}
		if user != "" && isASCII(user) && strings.Contains(strings.ToLower(pw), strings.ToLower(user)) {
			t.Fatalf("accepted %q containing username %q", pw, user)
		}
		// An independent, slow check of the keyboard rule.
		lower := strings.ToLower(pw)
		for _, row := range []string{"1234567890", "!@#$%^&*()", "qwertyuiop", "asdfghjkl", "zxcvbnm"} {
			for i := 0; i+5 <= len(row); i++ {
				run := row[i : i+5]
				if strings.Contains(lower, run) || strings.Contains(lower, reverse(run)) {
					t.Fatalf("accepted %q containing keyboard run %q", pw, run)
				}
			}
		}
	})
}

func FuzzValidateUSCC(f *testing.F) {
	for _, s := range []string{"91440300708461136T", " 91440300708461136t ", "９１４４０３００７０８４６１１３６Ｔ",
		"914400000000000000", "12440", "91440300708461I36T", "Y1100000000000000X", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := rules.ValidateUSCC(s)
		if err != nil {
			if got != "" {
				t.Fatalf("error %v with a result %q", err, got)
			}
			return
		}
		if len(got) != 18 || strings.ContainsAny(got, "IOSVZ") || got != strings.ToUpper(got) {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := rules.ValidateUSCC(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
		// Changing the check character must break it.
		flipped := got[:17] + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[(strings.IndexByte("0123456789ABCDEFGHJKLMNPQRTUWXY", got[17])+1)%31])
		if _, err := rules.ValidateUSCC(flipped); err == nil {
			t.Fatalf("%q and %q both valid", got, flipped)
		}
	})
}

func FuzzValidateOrgCode(f *testing.F) {
	for _, s := range []string{"708461136", "70846113-6", "71526726-x", "７０８４６１１３－６", "00158380X", "7084611-36", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := rules.ValidateOrgCode(s)
		if err != nil {
			return
		}
		if len(got) != 9 || strings.Contains(got, "-") || !strings.ContainsAny(got[8:], "0123456789X") {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := rules.ValidateOrgCode(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

func FuzzValidateIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "11010519491231002x", "440524188001010014",
		"440703199002300180", " １１０１０５１９４９１２３１００２ｘ ", "110105491231002", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, rules.Shanghai)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := rules.ValidateIDNumber(s, now)
		if err != nil {
			return
		}
		if len(got) != 18 || strings.ContainsAny(got[:17], "Xx") {
			t.Fatalf("accepted %q as %q", s, got)
		}
		birth, ok := rules.IDBirthDate(got, now)
		if !ok || birth.After(now) || birth.Year() < 1900 {
			t.Fatalf("accepted %q with birth date %v, %v", got, birth, ok)
		}
		if again, err := rules.ValidateIDNumber(got, now); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
	})
}

func FuzzValidateCert(f *testing.F) {
	f.Add("uscc", "91440300708461136T")
	f.Add("org_code", "70846113-6")
	f.Add("id_card", "11010519491231002X")
	f.Add("passport", "E12345678")
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, rules.Shanghai)
	f.Fuzz(func(t *testing.T, typ, s string) {
		got, err := rules.ValidateCert(rules.CertType(typ), s, now)
		if !rules.CertType(typ).Valid() {
			if err == nil {
				t.Fatalf("type %q accepted", typ)
			}
			return
		}
		if err == nil && rules.MaskCertNumber(got) == got {
			t.Fatalf("mask of %q reveals it whole", got)
		}
	})
}

func FuzzNormalizeMobile(f *testing.F) {
	for _, s := range []string{"13812341234", "+86 138 1234 1234", "008613812341234", "8613812341234",
		"138-1234-1234", "１３８１２３４１２３４", "12812341234", "+14155550100", "", "--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := rules.NormalizeMobile(s)
		if err != nil {
			if got != "" {
				t.Fatalf("error with result %q", got)
			}
			return
		}
		if len(got) != 11 || got[0] != '1' || got[1] < '3' || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := rules.NormalizeMobile(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, got, again, err)
		}
		if m := rules.MaskPhone(got); len(m) != 11 || m[3:7] != "****" || m[:3] != got[:3] || m[7:] != got[7:] {
			t.Fatalf("MaskPhone(%q) = %q", got, m)
		}
	})
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{"13812341234", "440703199001011234", "张三丰", "", "a", "\xff\xfe\xfd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, mask := range map[string]func(string) string{
			"MaskPhone": rules.MaskPhone, "MaskIDNumber": rules.MaskIDNumber,
			"MaskCertNumber": rules.MaskCertNumber,
		} {
			m := mask(s)
			if utf8.RuneCountInString(m) != utf8.RuneCountInString(s) {
				t.Fatalf("%s(%q) = %q changes the length", name, s, m)
			}
			if s != "" && !strings.Contains(m, "*") {
				t.Fatalf("%s(%q) = %q hides nothing", name, s, m)
			}
			if shown := utf8.RuneCountInString(strings.ReplaceAll(m, "*", "")); shown > 8 {
				t.Fatalf("%s(%q) = %q shows %d characters", name, s, m, shown)
			}
		}
		if m := rules.MaskName(s); strings.TrimSpace(s) != "" && utf8.RuneCountInString(strings.TrimSpace(s)) > 1 &&
			!strings.HasSuffix(m, "*") {
			t.Fatalf("MaskName(%q) = %q", s, m)
		}
	})
}

func FuzzRegionCode(f *testing.F) {
	for _, s := range []string{"", "44", "440000", "4407", "440700", "440703", "4419", "45", "abc", " 4401 ", "4400"} {
		f.Add(s, "440703")
	}
	f.Fuzz(func(t *testing.T, code, other string) {
		r, ok := rules.LookupRegion(code)
		kids := rules.RegionChildren(code)
		name := rules.RegionFullName(code)
		if !ok {
			if name != "" || (kids != nil && strings.TrimSpace(code) != "") {
				t.Fatalf("unknown %q has name %q, children %v", code, name, kids)
			}
		} else {
			if !strings.HasPrefix(name, "广东省") || !strings.HasSuffix(name, r.Name) || kids == nil {
				t.Fatalf("%q: %+v, name %q, children %v", code, r, name, kids)
			}
			for _, k := range kids {
				if !rules.RegionCovers(r.Code, k.Code) || rules.RegionCovers(k.Code, r.Code) || k.Level != r.Level+1 {
					t.Fatalf("child %+v of %+v", k, r)
				}
			}
			if !rules.RegionCovers(rules.ProvinceCode, r.Code) || !rules.RegionCovers(code, code) {
				t.Fatalf("%q not covered by itself or the province", code)
			}
		}
		if rules.RegionCovers(code, other) {
			n, _ := rules.NormalizeRegionCode(other)
			if !ok || !strings.HasPrefix(n, r.Code) {
				t.Fatalf("RegionCovers(%q, %q) though %q is not under %+v", code, other, other, r)
			}
		}
	})
}

func FuzzParseDateList(f *testing.F) {
	for _, s := range []string{"2026-10-09, 2026-10-10", "", ";;", "2026-02-30", "2026-10-09\n2027-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := rules.ParseDateList(s)
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.Location() != rules.Shanghai || d.Hour() != 0 || d.Minute() != 0 || d.Second() != 0 {
				t.Fatalf("ParseDateList(%q) gave %v", s, d)
			}
			if !strings.Contains(s, d.Format(time.DateOnly)) {
				t.Fatalf("ParseDateList(%q) gave %v, which is not in the input", s, d)
			}
		}
	})
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
