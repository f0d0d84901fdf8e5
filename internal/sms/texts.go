package sms

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
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

// RejectedText tells the applicant a recovery was refused, why (the catalog
// texts of the reasons) and the reviewer's message, and where to ask.
func RejectedText(caseNumber string, reasons []string, message, hotline string) string {
	head, tail := rejectedFrame(caseNumber, hotline)
	return fitText(head, strings.Join(reasons, "；"), message, tail)
}

// RejectedReasonsFit says whether the reasons of a rejection fit in one
// message whole: the reviewer's message may be cut to fit, the reasons are
// what the applicant must read in full, so a set that does not fit is
// refused before the decision.
func RejectedReasonsFit(caseNumber string, reasons []string, hotline string) bool {
	head, tail := rejectedFrame(caseNumber, hotline)
	return runes(head)+runes(strings.Join(reasons, "；"))+runes(tail) <= MaxTextLen
}

// rejectedFrame is the fixed text around a rejection's reasons.
func rejectedFrame(caseNumber, hotline string) (head, tail string) {
	head = fmt.Sprintf("【广东人社】您的密码找回申请%s未通过审核，原因：", caseNumber)
	tail = "。如需找回密码，请重新提交申请。"
	if hotline != "" {
		tail += "如有疑问请致电" + hotline + "。"
	}
	return head, tail
}

// ReturnedText asks the applicant to upload evidence again (补正): kinds are
// the labels of exactly the materials to replace, message the reviewer's
// words on what was wrong with them.
func ReturnedText(caseNumber string, kinds []string, message string) string {
	head := fmt.Sprintf("【广东人社】您的密码找回申请%s需要补正，请重新上传：", caseNumber)
	tail := "。请在“查询申请进度”中重新上传后再次提交。"
	return fitText(head, strings.Join(kinds, "、"), message, tail)
}

// SubmittedText confirms a submission: the case number the applicant needs
// on /recover/status and the date by which the review is due.
func SubmittedText(caseNumber string, dueBy time.Time) string {
	return fmt.Sprintf("【广东人社】您的密码找回申请已提交，申请编号%s，预计%s前完成审核，结果将短信通知。可凭申请编号在“查询申请进度”中查看。",
		caseNumber, dueBy.Format("2006年1月2日"))
}

// CaseNumberText answers 忘记申请编号 with the latest case's number and its
// status, or says there is none, so the answer on the page is the same
// either way and only the phone on record learns which.
func CaseNumberText(caseNumber, statusLabel string) string {
	if caseNumber == "" {
		return "【广东人社】您查询的账号没有已提交的密码找回申请。如需找回密码，请在“密码找回”中提交申请。如非本人操作，请忽略本短信。"
	}
	return fmt.Sprintf("【广东人社】您最近一次密码找回申请的申请编号为%s，当前状态：%s。可凭申请编号在“查询申请进度”中查看。如非本人操作，请忽略本短信。",
		caseNumber, statusLabel)
}

// fitText joins head, body, "。审核意见：" + message (when there is one) and
// tail, cutting the message and then the body (with "…") so the whole stays
// within MaxTextLen characters.
func fitText(head, body, message, tail string) string {
	note := ""
	if message != "" {
		note = "。审核意见：" + message
	}
	room := MaxTextLen - runes(head) - runes(tail)
	if over := runes(body) + runes(note) - room; over > 0 {
		// The message comes from a 200-character field; cut it first only
		// down to half the room, then the body.
		keep := max(runes(note)-over, min(runes(note), room/2))
		note = cut(note, keep)
		body = cut(body, room-runes(note))
	}
	return head + body + note + tail
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// cut shortens s to n characters, the last one "…" when it had to cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	return string(r[:n-1]) + "…"
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
