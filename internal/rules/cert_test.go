package rules_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/rules"
)

// today is the fixed "now" of the certificate tests.
var today = time.Date(2026, 3, 15, 10, 0, 0, 0, rules.Shanghai)

// certCode returns err's CertError code, "" for nil, and fails the test for
// any other error type.
func certCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ce *rules.CertError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *CertError", err, err)
	}
	if ce.Message == "" || !strings.ContainsFunc(ce.Message, func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
		t.Errorf("CertError %q has no Chinese message", ce.Code)
	}
	return ce.Code
}

func TestNormalizeCertNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"91440300708461136T", "91440300708461136T"},
		{"  91440300708461136t \t", "91440300708461136T"},
		{"\u3000９１４４０３００７０８４６１１３６Ｔ\u3000", "91440300708461136T"},
		{"\ufeff44070319900101005x\u200b", "44070319900101005X"},
		{"70846113－6", "70846113-6"},
		{"70846113—6", "70846113-6"},
		{"9144 0300", "9144 0300"}, // inner spaces are kept, to be reported
		{"", ""},
	}
	for _, tt := range tests {
		if got := rules.NormalizeCertNumber(tt.in); got != tt.want {
			t.Errorf("NormalizeCertNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// realUSCCs are unified social credit codes of well-known companies, as
// published in their filings; each was checked with an independent
// implementation of GB 32100 before being written here.
var realUSCCs = map[string]string{
	"91440300708461136T": "华为技术有限公司",
	"9144030071526726XG": "腾讯科技（深圳）有限公司",
	"91330100799655058B": "阿里巴巴（中国）有限公司",
	"91440300192317458F": "比亚迪股份有限公司",
	"91440606722473344C": "美的集团股份有限公司",
	"91440400192548256N": "珠海格力电器股份有限公司",
	"9144030027939873X7": "中兴通讯股份有限公司",
	"91440300100012316L": "中国平安保险（集团）股份有限公司",
	"91440000100017600N": "中国南方航空股份有限公司",
}

func TestValidateUSCCRealCompanies(t *testing.T) {
	for code, name := range realUSCCs {
		got, err := rules.ValidateUSCC(code)
		if err != nil || got != code {
			t.Errorf("%s (%s): got %q, %v", code, name, got, err)
		}
		// Lower-case and padded input normalises to the same code.
		got, err = rules.ValidateUSCC(" " + strings.ToLower(code) + " ")
		if err != nil || got != code {
			t.Errorf("%s (%s) in lower case: got %q, %v", code, name, got, err)
		}
	}
}

// TestValidateUSCCEachCheckChar covers all 31 possible check characters: for
// each body the right one passes and the next one in the alphabet fails.
func TestValidateUSCCEachCheckChar(t *testing.T) {
	const alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	// Computed with an independent implementation; one per check character,
	// in alphabet order.
	valid := strings.Fields(`914407033100000140 914407033100000241 914407033100000052 914407033100000153
		914407033100000254 914407033100000065 914407033100000166 914407033100000267 914407033100000078
		914407033100000179 91440703310000027A 91440703310000008B 91440703310000018C 91440703310000028D
		91440703310000009E 91440703310000019F 91440703310000029G 91440703310000039H 91440703310000000J
		91440703310000010K 91440703310000020L 91440703310000001M 91440703310000011N 91440703310000021P
		91440703310000002Q 91440703310000012R 91440703310000022T 91440703310000003U 91440703310000013W
		91440703310000023X 91440703310000004Y`)
	if len(valid) != 31 {
		t.Fatalf("table has %d codes, want 31", len(valid))
	}
	for i, code := range valid {
		if code[17] != alphabet[i] {
			t.Fatalf("table entry %d ends in %c, want %c", i, code[17], alphabet[i])
		}
		if _, err := rules.ValidateUSCC(code); err != nil {
			t.Errorf("ValidateUSCC(%s) = %v, want ok", code, err)
		}
		wrong := code[:17] + string(alphabet[(i+1)%31])
		if _, err := rules.ValidateUSCC(wrong); certCode(t, err) != rules.CodeCertCheckChar {
			t.Errorf("ValidateUSCC(%s) = %v, want %s", wrong, err, rules.CodeCertCheckChar)
		}
	}
}

func TestValidateUSCCRejects(t *testing.T) {
	const huawei = "91440300708461136T"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", rules.CodeCertLength},
		{"17 characters", huawei[:17], rules.CodeCertLength},
		{"19 characters", huawei + "0", rules.CodeCertLength},
		{"seed placeholder 12440", "12440", rules.CodeCertLength},
		{"inner space", "9144 0300708461136T", rules.CodeCertLength},
		{"letter I", "91440300708461I36T", rules.CodeCertCharset},
		{"letter O", "91440300708461O36T", rules.CodeCertCharset},
		{"letter S", "9144030070846113ST", rules.CodeCertCharset},
		{"letter V", "91440300708461136V", rules.CodeCertCharset},
		{"letter Z", "91440300708461136Z", rules.CodeCertCharset},
		{"Chinese character of right count", "91440300708461136中", rules.CodeCertCharset},
		{"unknown authority 0", "01440300708461136T", rules.CodeCertAuthority},
		{"unknown authority B", "B1440300708461136T", rules.CodeCertAuthority},
		{"工商 has no category 9", "99440300708461136T", rules.CodeCertAuthority},
		{"民政 has no category 4", "54440300708461136T", rules.CodeCertAuthority},
		{"division with a letter", "9144A300708461136T", rules.CodeCertDivision},
		{"division of no province", "91990300708461136T", rules.CodeCertDivision},
		{"seed placeholder 914400000000000000", "914400000000000000", rules.CodeCertCheckChar},
		{"one digit changed", "91440300708461137T", rules.CodeCertCheckChar},
		{"two digits swapped", "91440300708461163T", rules.CodeCertCheckChar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.ValidateUSCC(tt.in)
			if c := certCode(t, err); c != tt.want {
				t.Errorf("ValidateUSCC(%q) = %q, %v; want code %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidateUSCCAuthorities(t *testing.T) {
	// A body per authority/category pair, with the check character computed
	// by the validator itself being the only unknown: every listed pair must
	// reach the checksum stage (cert_check_char or ok), never cert_authority.
	pairs := []string{"11", "12", "13", "19", "21", "29", "31", "32", "33", "34", "35", "39", "41", "49",
		"51", "52", "53", "59", "61", "62", "69", "71", "72", "79", "81", "89", "91", "92", "93",
		"A1", "A9", "N1", "N2", "N3", "N9", "Y1"}
	for _, p := range pairs {
		code := p + "4407037084611360"
		if _, err := rules.ValidateUSCC(code); certCode(t, err) == rules.CodeCertAuthority {
			t.Errorf("pair %s refused as authority", p)
		}
	}
	// National registrations use division 100000.
	if _, err := rules.ValidateUSCC("111000000000000000"); certCode(t, err) == rules.CodeCertDivision {
		t.Errorf("division 100000 refused")
	}
}

func TestValidateOrgCode(t *testing.T) {
	// One code per check character 0-9 and X, computed independently.
	valid := []string{"000000000", "001900561", "000871092", "000079193", "000395954", "000158385",
		"000791906", "000237577", "001187858", "000316769", "00158380X"}
	for i, code := range valid {
		want := "0123456789X"[i]
		if code[8] != want {
			t.Fatalf("table entry %d ends in %c, want %c", i, code[8], want)
		}
		if got, err := rules.ValidateOrgCode(code); err != nil || got != code {
			t.Errorf("ValidateOrgCode(%s) = %q, %v", code, got, err)
		}
		wrong := code[:8] + string("0123456789X"[(i+1)%11])
		if _, err := rules.ValidateOrgCode(wrong); certCode(t, err) != rules.CodeCertCheckChar {
			t.Errorf("ValidateOrgCode(%s) = %v, want %s", wrong, err, rules.CodeCertCheckChar)
		}
	}

	tests := []struct {
		name, in, want, norm string
	}{
		{"Huawei's, from its USCC", "708461136", "", "708461136"},
		{"with the printed hyphen", "70846113-6", "", "708461136"},
		{"full-width hyphen", "70846113－6", "", "708461136"},
		{"lower-case x", "71526726-x", "", "71526726X"},
		{"letters in the body", "MA5ABCDE5", "", "MA5ABCDE5"},
		{"8 characters", "70846113", rules.CodeCertLength, ""},
		{"10 characters", "7084611360", rules.CodeCertLength, ""},
		{"hyphen in the wrong place", "7084611-36", rules.CodeCertLength, ""},
		{"two hyphens", "70846113--6", rules.CodeCertLength, ""},
		{"symbol in the body", "7084#1136", rules.CodeCertCharset, ""},
		{"check character a letter other than X", "70846113A", rules.CodeCertCharset, ""},
		{"wrong check digit", "708461137", rules.CodeCertCheckChar, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.ValidateOrgCode(tt.in)
			if c := certCode(t, err); c != tt.want || got != tt.norm {
				t.Errorf("ValidateOrgCode(%q) = %q, %v; want %q, code %q", tt.in, got, err, tt.norm, tt.want)
			}
		})
	}
}

func TestValidateIDNumberEachCheckChar(t *testing.T) {
	// One number per check character, computed independently
	// (ISO 7064 MOD 11-2), plus GB 11643's own example.
	valid := []string{"440703199001010180", "440703199001010041", "440703199001010092",
		"440703199001010033", "440703199001010084", "440703199001010025", "440703199001010076",
		"440703199001010017", "440703199001010068", "440703199001010009", "44070319900101005X"}
	for i, id := range valid {
		want := "0123456789X"[i]
		if id[17] != want {
			t.Fatalf("table entry %d ends in %c, want %c", i, id[17], want)
		}
		if got, err := rules.ValidateIDNumber(id, today); err != nil || got != id {
			t.Errorf("ValidateIDNumber(%s) = %q, %v", id, got, err)
		}
		wrong := id[:17] + string("0123456789X"[(i+1)%11])
		if _, err := rules.ValidateIDNumber(wrong, today); certCode(t, err) != rules.CodeCertCheckChar {
			t.Errorf("ValidateIDNumber(%s) = %v, want %s", wrong, err, rules.CodeCertCheckChar)
		}
	}
}

func TestValidateIDNumber(t *testing.T) {
	tests := []struct {
		name, in, want, norm string
	}{
		{"GB 11643's example", "11010519491231002X", "", "11010519491231002X"},
		{"lower-case x", "11010519491231002x", "", "11010519491231002X"},
		{"full-width and spaces", " １１０１０５１９４９１２３１００２ｘ ", "", "11010519491231002X"},
		{"17 characters", "11010519491231002", rules.CodeCertLength, ""},
		{"15-digit old number", "110105491231002", rules.CodeCertLength, ""},
		{"19 characters", "11010519491231002X0", rules.CodeCertLength, ""},
		{"X in the body", "1101051949123100X2", rules.CodeCertCharset, ""},
		{"letter check other than X", "11010519491231002A", rules.CodeCertCharset, ""},
		{"province 00", "00010519491231002X", rules.CodeCertProvince, ""},
		{"province 99", "99010519491231002X", rules.CodeCertProvince, ""},
		{"month 13", "440703199013010180", rules.CodeCertBirthDate, ""},
		{"day 00", "440703199001000180", rules.CodeCertBirthDate, ""},
		{"30 February", "440703199002300180", rules.CodeCertBirthDate, ""},
		{"29 February of a common year", "440703199002290180", rules.CodeCertBirthDate, ""},
		{"before 1900 (GB 11643's 1880 example)", "440524188001010014", rules.CodeCertBirthDate, ""},
		{"tomorrow", "440703202603160000", rules.CodeCertBirthDate, ""},
		{"Y as check character", "11010519491231002Y", rules.CodeCertCharset, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.ValidateIDNumber(tt.in, today)
			if c := certCode(t, err); c != tt.want || got != tt.norm {
				t.Errorf("ValidateIDNumber(%q) = %q, %v; want %q, code %q", tt.in, got, err, tt.norm, tt.want)
			}
		})
	}
}

func TestValidateIDNumberBirthDateBoundary(t *testing.T) {
	// Born "today" in Shanghai is fine, even when the instant given is still
	// yesterday in UTC; born tomorrow is not.
	withCheck := func(body string) string {
		w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
		sum := 0
		for i := range 17 {
			sum += int(body[i]-'0') * w[i]
		}
		return body + string("10X98765432"[sum%11])
	}
	now := time.Date(2026, 3, 14, 17, 0, 0, 0, time.UTC) // 2026-03-15 01:00 in Shanghai
	if _, err := rules.ValidateIDNumber(withCheck("44070320260315001"), now); err != nil {
		t.Errorf("born today: %v", err)
	}
	if _, err := rules.ValidateIDNumber(withCheck("44070320260316001"), now); certCode(t, err) != rules.CodeCertBirthDate {
		t.Errorf("born tomorrow: %v, want %s", err, rules.CodeCertBirthDate)
	}
	if _, err := rules.ValidateIDNumber(withCheck("44070320000229001"), now); err != nil {
		t.Errorf("29 February 2000 (a leap year): %v", err)
	}
	if _, err := rules.ValidateIDNumber(withCheck("44070319000101001"), now); err != nil {
		t.Errorf("1 January 1900: %v", err)
	}
	if _, err := rules.ValidateIDNumber(withCheck("44070318991231001"), now); certCode(t, err) != rules.CodeCertBirthDate {
		t.Errorf("31 December 1899: %v", err)
	}
}

func TestIDBirthDate(t *testing.T) {
	got, ok := rules.IDBirthDate("11010519491231002X", today)
	if !ok || !got.Equal(time.Date(1949, 12, 31, 0, 0, 0, 0, rules.Shanghai)) {
		t.Errorf("IDBirthDate = %v, %v", got, ok)
	}
	if _, ok := rules.IDBirthDate("1101051949", today); ok {
		t.Error("IDBirthDate of a short number: ok")
	}
}

func TestValidateCert(t *testing.T) {
	tests := []struct {
		typ       rules.CertType
		in, norm  string
		wantError string
	}{
		{rules.CertUSCC, "91440300708461136t", "91440300708461136T", ""},
		{rules.CertOrgCode, "70846113-6", "708461136", ""},
		{rules.CertIDCard, "11010519491231002x", "11010519491231002X", ""},
		{rules.CertUSCC, "708461136", "", rules.CodeCertLength},
		{rules.CertIDCard, "91440300708461136T", "", rules.CodeCertCharset},
		{"passport", "E12345678", "", rules.CodeUnknownCertType},
		{"", "91440300708461136T", "", rules.CodeUnknownCertType},
	}
	for _, tt := range tests {
		got, err := rules.ValidateCert(tt.typ, tt.in, today)
		if c := certCode(t, err); c != tt.wantError || got != tt.norm {
			t.Errorf("ValidateCert(%q, %q) = %q, %v; want %q, %q", tt.typ, tt.in, got, err, tt.norm, tt.wantError)
		}
	}
}

func TestCertTypeLabelAndValid(t *testing.T) {
	for typ, label := range map[rules.CertType]string{
		rules.CertUSCC: "统一社会信用代码", rules.CertOrgCode: "组织机构代码", rules.CertIDCard: "居民身份证",
	} {
		if !typ.Valid() || typ.Label() != label {
			t.Errorf("%s: Valid %v, Label %q", typ, typ.Valid(), typ.Label())
		}
	}
	if rules.CertType("USCC").Valid() || rules.CertType("x").Label() != "" {
		t.Error("unknown types must be invalid and unlabelled")
	}
}

func TestCertErrorIsAnError(t *testing.T) {
	_, err := rules.ValidateUSCC("1")
	if err == nil || !strings.Contains(err.Error(), rules.CodeCertLength) || !strings.Contains(err.Error(), "18位") {
		t.Errorf("Error() = %v", err)
	}
}
