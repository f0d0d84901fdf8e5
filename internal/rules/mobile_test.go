package rules_test

import (
	"testing"

	"recoverydesk/internal/rules"
)

func TestNormalizeMobile(t *testing.T) {
	tests := []struct {
		name, in, want, code string
	}{
		{"plain", "13812341234", "13812341234", ""},
		{"19x", "19912341234", "19912341234", ""},
		{"13x lowest second digit", "13012341234", "13012341234", ""},
		{"surrounding spaces", "  13812341234 ", "13812341234", ""},
		{"full-width digits", "１３８１２３４１２３４", "13812341234", ""},
		{"grouped with spaces", "138 1234 1234", "13812341234", ""},
		{"grouped with hyphens", "138-1234-1234", "13812341234", ""},
		{"+86", "+8613812341234", "13812341234", ""},
		{"+86 and space", "+86 138 1234 1234", "13812341234", ""},
		{"0086", "008613812341234", "13812341234", ""},
		{"bare 86 prefix", "8613812341234", "13812341234", ""},
		{"empty", "", "", rules.CodeMobileLength},
		{"10 digits", "1381234123", "", rules.CodeMobileLength},
		{"12 digits", "138123412345", "", rules.CodeMobileLength},
		{"letter", "1381234123a", "", rules.CodeMobileCharset},
		{"double space", "138  12341234", "", rules.CodeMobileCharset},
		{"trailing hyphen", "13812341234-", "", rules.CodeMobileCharset},
		{"leading hyphen", "-13812341234", "", rules.CodeMobileCharset},
		{"dot", "138.1234.1234", "", rules.CodeMobileCharset},
		{"other country", "+14155550100", "", rules.CodeMobilePrefix},
		{"second digit 2", "12812341234", "", rules.CodeMobilePrefix},
		{"second digit 0", "10012341234", "", rules.CodeMobilePrefix},
		{"landline", "07503873738", "", rules.CodeMobilePrefix},
		{"starts with 2", "23812341234", "", rules.CodeMobilePrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rules.NormalizeMobile(tt.in)
			if c := certCode(t, err); c != tt.code || got != tt.want {
				t.Errorf("NormalizeMobile(%q) = %q, %v; want %q, code %q", tt.in, got, err, tt.want, tt.code)
			}
			if verr := rules.ValidateMobile(tt.in); (verr == nil) != (tt.code == "") {
				t.Errorf("ValidateMobile(%q) = %v, disagrees with NormalizeMobile", tt.in, verr)
			}
		})
	}
}

func TestMasks(t *testing.T) {
	tests := []struct {
		name     string
		fn       func(string) string
		in, want string
	}{
		{"phone", rules.MaskPhone, "13812341234", "138****1234"},
		{"phone, short", rules.MaskPhone, "3873738", "*******"},
		{"phone, 8 digits keeps 3+4", rules.MaskPhone, "38737381", "387*7381"},
		{"phone, empty", rules.MaskPhone, "", ""},
		{"ID", rules.MaskIDNumber, "440703199001011234", "4407**********1234"},
		{"ID with X", rules.MaskIDNumber, "44070319900101005X", "4407**********005X"},
		{"ID, short", rules.MaskIDNumber, "12345678", "********"},
		{"USCC", rules.MaskCertNumber, "91440300708461136T", "9144**********136T"},
		{"org code", rules.MaskCertNumber, "708461136", "70*****36"},
		{"cert, short", rules.MaskCertNumber, "1234", "****"},
		{"name of 3", rules.MaskName, "张三丰", "张**"},
		{"name of 2", rules.MaskName, "张三", "张*"},
		{"name of 1", rules.MaskName, "张", "*"},
		{"compound surname", rules.MaskName, "欧阳修", "欧**"},
		{"padded name", rules.MaskName, " 李四 ", "李*"},
		{"latin name", rules.MaskName, "Tom", "T**"},
		{"empty name", rules.MaskName, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.in); got != tt.want {
				t.Errorf("mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
