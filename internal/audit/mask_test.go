package audit_test

import (
	"testing"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/rules"
)

func TestMaskTextHidesPhonesIDNumbersAndCreditCodes(t *testing.T) {
	id := rules.CompleteIDNumber("44070319900101123")
	uscc := rules.CompleteUSCC("91440703MA4UKXXX0")
	for _, tc := range []struct{ in, want string }{
		{"13812345678", "138****5678"},
		{"staff:13812345678", "staff:138****5678"},
		{"phone=8613812345678", "phone=86138****5678"},
		{"+86 13812345678", "+86 138****5678"},
		{id, rules.MaskIDNumber(id)},
		{"44070319900101123x", "4407**********123x"},
		{"440703900101123", "4407*******1123"},
		{uscc, uscc[:4] + "**********" + uscc[14:]},
		{"cert=" + uscc + "; name=x", "cert=" + uscc[:4] + "**********" + uscc[14:] + "; name=x"},
		// Mistyped numbers are personal data too: no checksum is needed.
		{"440703199001011230", "4407**********1230"},
		// Already masked values and what only resembles a number stay.
		{"138****5678", "138****5678"},
		{"ZH20260315000123", "ZH20260315000123"},
		{"12345678901", "12345678901"},               // not a mobile prefix
		{"1381234567", "1381234567"},                 // 10 digits
		{"138123456789", "138123456789"},             // 12 digits
		{"gd_super", "gd_super"},                     // a username
		{"abcdefghjklmnpqrtu", "abcdefghjklmnpqrtu"}, // 18 letters, no region code
		{"3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c", "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"}, // a uuid
		{"until=\"2026-03-15T10:00:00+08:00\"", "until=\"2026-03-15T10:00:00+08:00\""},
		{"", ""},
		{"张三 13812345678 登记", "张三 138****5678 登记"},
	} {
		if got := audit.MaskText(tc.in); got != tc.want {
			t.Errorf("MaskText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
