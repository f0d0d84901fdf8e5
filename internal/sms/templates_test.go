package sms_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

func TestDecisionTextsNameTheReasonsTheMessageAndTheKindsWithinOneLongMessage(t *testing.T) {
	text := sms.Render(sms.Rejected("ZH20260420000001", []string{"其他原因，详见审核意见"}, "手持照片中证件被手指遮挡，请重新拍摄", "0750-3873738"))
	for _, want := range []string{"ZH20260420000001", "未通过审核", "其他原因，详见审核意见", "审核意见：手持照片中证件被手指遮挡，请重新拍摄", "重新提交申请", "0750-3873738"} {
		if !strings.Contains(text, want) {
			t.Errorf("rejection SMS %q lacks %q", text, want)
		}
	}
	text = sms.Render(sms.Returned("ZH20260420000001", []string{"身份证人像面", "单位授权函"}, "授权函未盖章"))
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
	for _, text := range []string{sms.Render(sms.Rejected("ZH20260420000001", long, message, "3873738")), sms.Render(sms.Returned("ZH20260420000001", long, message))} {
		if n := utf8.RuneCountInString(text); n > sms.MaxTextLen {
			t.Errorf("%d characters: %q", n, text)
		}
		if !strings.Contains(text, strings.Repeat("说", 150)) || !strings.Contains(text, "…") || !strings.HasPrefix(text, "【广东人社】") {
			t.Errorf("cut text %q", text)
		}
	}
	text = sms.Render(sms.Submitted("ZH20260420000001", time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC)))
	if !strings.Contains(text, "申请编号ZH20260420000001") || !strings.Contains(text, "2026年4月22日") {
		t.Errorf("submission SMS %q", text)
	}
}

// samples is one message of every purpose, with the text the product sent
// before messages were purposes with parameters: the outbox and the http
// gateway must still receive exactly that text.
var samples = []struct {
	content sms.Content
	text    string
}{
	{sms.Code(vocab.PurposeRegisterCode, "123456", 5*time.Minute), "【广东人社】您的验证码为123456，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。"},
	{sms.Code(vocab.PurposeRecoveryCode, "123456", 5*time.Minute), "【广东人社】您的验证码为123456，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。"},
	{sms.Code(vocab.PurposeStatusCode, "123456", 5*time.Minute), "【广东人社】您的验证码为123456，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。"},
	{sms.Username("zhang_san01"), "【广东人社】您在广东人社统一认证系统注册的登录账号为：zhang_san01。如非本人操作，请忽略本短信。"},
	{sms.Password("zhang_san01", "Abcd2345xy!", 4*time.Hour), "【广东人社】您的账号zhang_san01密码找回申请已审核通过，新密码为：Abcd2345xy! 。新密码将于收到本短信4小时后生效，在此之前原密码仍可使用。请登录后及时修改密码。"},
	{sms.Submitted("ZH20260420000001", time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC)), "【广东人社】您的密码找回申请已提交，申请编号ZH20260420000001，预计2026年4月22日前完成审核，结果将短信通知。可凭申请编号在“查询申请进度”中查看。"},
	{sms.Rejected("ZH20260420000001", []string{"证件照片模糊", "其他"}, "请重新拍摄", "0750-3873738"), "【广东人社】您的密码找回申请ZH20260420000001未通过审核，原因：证件照片模糊；其他。审核意见：请重新拍摄。如需找回密码，请重新提交申请。如有疑问请致电0750-3873738。"},
	{sms.Returned("ZH20260420000001", []string{"身份证人像面", "单位授权函"}, "授权函未盖章"), "【广东人社】您的密码找回申请ZH20260420000001需要补正，请重新上传：身份证人像面、单位授权函。审核意见：授权函未盖章。请在“查询申请进度”中重新上传后再次提交。"},
	{sms.Reopened("ZH20260420000001"), "【广东人社】您的密码找回申请ZH20260420000001经复核将重新审核，审核结果将另行短信通知，请留意。"},
	{sms.PasswordCancelled("ZH20260420000001"), "【广东人社】您的密码找回申请ZH20260420000001经复核需重新审核，此前短信发送的新密码已作废，请继续使用原密码登录。审核结果将另行短信通知。"},
	{sms.CaseNumber("ZH20260420000001", "审核中"), "【广东人社】您最近一次密码找回申请的申请编号为ZH20260420000001，当前状态：审核中。可凭申请编号在“查询申请进度”中查看。如非本人操作，请忽略本短信。"},
	{sms.CaseNumber("", ""), "【广东人社】您查询的账号没有已提交的密码找回申请。如需找回密码，请在“密码找回”中提交申请。如非本人操作，请忽略本短信。"},
}

func TestEveryPurposeRendersTheTextPeopleAlreadyGet(t *testing.T) {
	seen := map[vocab.Purpose]bool{}
	for _, s := range samples {
		seen[s.content.Purpose] = true
		if got := sms.Render(s.content); got != s.text {
			t.Errorf("%s renders\n%q\nwant\n%q", s.content.Purpose, got, s.text)
		}
		if len(sms.CarrierParamNames(s.content.Purpose)) == 0 {
			t.Errorf("%s has no carrier parameters", s.content.Purpose)
		}
	}
	for _, p := range vocab.Purposes {
		if !seen[p] {
			t.Errorf("purpose %s has no sample here (is it rendered?)", p)
		}
	}
}

// TestCarrierParametersStayWithinTheCarriersBounds builds every purpose from
// the longest inputs the product allows and checks what a carrier template
// receives: each value within the carriers' bound (35 characters; 6 for a
// code), the password a parameter of its own, and the long content (the
// reviewer's 200-character message, the reasons, the kinds) never a carrier
// parameter — it is in the rendered text and on the status page.
func TestCarrierParametersStayWithinTheCarriersBounds(t *testing.T) {
	message := strings.Repeat("说", 200)
	reasons := []string{strings.Repeat("因", 200), strings.Repeat("由", 200)}
	longest := []sms.Content{
		sms.Code(vocab.PurposeRecoveryCode, "999999", 5*time.Minute),
		sms.Username(strings.Repeat("u", 20)),
		sms.Password(strings.Repeat("u", 20), strings.Repeat("P", 30), 4*time.Hour),
		sms.Submitted("ZH20261231999999", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)),
		sms.Rejected("ZH20261231999999", reasons, message, "0750-3873738"),
		sms.Returned("ZH20261231999999", []string{"身份证人像面", "手持身份证照", "单位证件照", "单位授权函"}, message),
		sms.CaseNumber("ZH20261231999999", "待主管复核"),
		sms.CaseNumber("", ""),
	}
	for _, c := range longest {
		for _, p := range sms.CarrierParams(c) {
			bound := sms.MaxCarrierParamLen
			if p.Name == sms.ParamCode {
				bound = sms.MaxCodeParamLen
			}
			if n := utf8.RuneCountInString(p.Value); n == 0 || n > bound {
				t.Errorf("%s: carrier parameter %s has %d characters (bound %d)", c.Purpose, p.Name, n, bound)
			}
			if strings.Contains(p.Value, "说") || strings.Contains(p.Value, "因") || strings.Contains(p.Value, "授权函") {
				t.Errorf("%s: long content in carrier parameter %s", c.Purpose, p.Name)
			}
		}
		if utf8.RuneCountInString(sms.Render(c)) > sms.MaxTextLen {
			t.Errorf("%s: rendered text over %d characters", c.Purpose, sms.MaxTextLen)
		}
	}
	got := sms.CarrierParams(sms.Password("zhang_san01", "Abcd2345xy!", 4*time.Hour))
	want := []sms.Param{{Name: "username", Value: "zhang_san01"}, {Name: "password", Value: "Abcd2345xy!"}, {Name: "hours", Value: "4"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("password parameters %v, want %v", got, want)
	}
}
