package sms_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"recoverydesk/internal/sms"
)

func TestDecisionTextsNameTheReasonsTheMessageAndTheKindsWithinOneLongMessage(t *testing.T) {
	text := sms.RejectedText("ZH20260420000001", []string{"其他原因，详见审核意见"}, "手持照片中证件被手指遮挡，请重新拍摄", "0750-3873738")
	for _, want := range []string{"ZH20260420000001", "未通过审核", "其他原因，详见审核意见", "审核意见：手持照片中证件被手指遮挡，请重新拍摄", "重新提交申请", "0750-3873738"} {
		if !strings.Contains(text, want) {
			t.Errorf("rejection SMS %q lacks %q", text, want)
		}
	}
	text = sms.ReturnedText("ZH20260420000001", []string{"身份证人像面", "单位授权函"}, "授权函未盖章")
	if !strings.Contains(text, "重新上传：身份证人像面、单位授权函") || !strings.Contains(text, "审核意见：授权函未盖章") {
		t.Errorf("return SMS %q", text)
	}
	// Six reasons of 200 characters and a 200-character message do not fit:
	// the message keeps at least half the room and the text stays within 500.
	long := make([]string, 6)
	for i := range long {
		long[i] = strings.Repeat("因", 200)
	}
	message := strings.Repeat("说", 200)
	for _, text := range []string{sms.RejectedText("ZH20260420000001", long, message, "3873738"), sms.ReturnedText("ZH20260420000001", long, message)} {
		if n := utf8.RuneCountInString(text); n > sms.MaxTextLen {
			t.Errorf("%d characters: %q", n, text)
		}
		if !strings.Contains(text, strings.Repeat("说", 150)) || !strings.Contains(text, "…") || !strings.HasPrefix(text, "【广东人社】") {
			t.Errorf("cut text %q", text)
		}
	}
	text = sms.SubmittedText("ZH20260420000001", time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC))
	if !strings.Contains(text, "申请编号ZH20260420000001") || !strings.Contains(text, "2026年4月22日") {
		t.Errorf("submission SMS %q", text)
	}
}
