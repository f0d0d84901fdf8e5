package sms

import (
	"fmt"
	"time"
)

// The texts of the messages, in the live system's tone. Each purpose has one
// function here so that wording lives in one place.

// CodeText is the verification-code message; ttl is the code's lifetime
// (verify.CodeTTL), which the text names.
func CodeText(code string, ttl time.Duration) string {
	return fmt.Sprintf("【广东人社】您的验证码为%s，%d分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。", code, int(ttl/time.Minute))
}

// UsernameText tells a person their username (账号找回).
func UsernameText(username string) string {
	return fmt.Sprintf("【广东人社】您在广东人社统一认证系统注册的登录账号为：%s。如非本人操作，请忽略本短信。", username)
}

// PasswordText carries a reset password. It is sealed in the queue and
// erased there once sent. delay is how long after the SMS the password
// takes effect (accounts.PendingDelay), which the text names.
func PasswordText(username, password string, delay time.Duration) string {
	return fmt.Sprintf("【广东人社】您的账号%s密码找回申请已审核通过，新密码为：%s 。新密码将于收到本短信%d小时后生效，在此之前原密码仍可使用。请登录后及时修改密码。", username, password, int(delay/time.Hour))
}

// RejectedText tells the applicant a recovery was refused and why.
func RejectedText(caseNumber, reasons string) string {
	return fmt.Sprintf("【广东人社】您的密码找回申请%s未通过审核，原因：%s。如有疑问请致电3873738。", caseNumber, reasons)
}

// ReturnedText asks the applicant to upload evidence again (补正).
func ReturnedText(caseNumber, kinds string) string {
	return fmt.Sprintf("【广东人社】您的密码找回申请%s需要补正材料：%s。请在“查询申请进度”中重新上传后提交。", caseNumber, kinds)
}

// ReopenedText tells the applicant that a decided application goes back to
// review after a supervisor's quality review.
func ReopenedText(caseNumber string) string {
	return fmt.Sprintf("【广东人社】您的密码找回申请%s经复核将重新审核，审核结果将另行短信通知，请留意。", caseNumber)
}

// PasswordCancelledText tells the applicant that a reset password sent
// earlier was withdrawn after a supervisor's review, before it took effect.
func PasswordCancelledText(caseNumber string) string {
	return fmt.Sprintf("【广东人社】您的密码找回申请%s经复核需重新审核，此前短信发送的新密码已作废，请继续使用原密码登录。审核结果将另行短信通知。", caseNumber)
}
