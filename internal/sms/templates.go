package sms

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/vocab"
)

// Every message the product sends is a purpose (vocab.Purpose) with named
// parameters: a Content. This file is the one place where a purpose's
// Chinese text is written (Render, for the outbox and http drivers, which
// send text) and where its carrier parameters are declared (CarrierParams,
// for the aliyun and tencent drivers, which send an approved template's code
// and its parameters instead).
//
// Carriers bound a template variable (Aliyun and Tencent: at most 35
// characters for most variable types, 4–8 for a code), so long content — a
// rejection's reasons, a reviewer's 200-character message, the list of
// evidence to upload again — is never a carrier parameter: a carrier's
// template names the case and points to 查询申请进度, where the status page
// shows the decision in full (CONTRACT §7: decision.message, decision.reasons).

// The parameter names. A carrier template uses these names (Aliyun
// ${name}) or their order in CarrierParams (Tencent {1}, {2}, …).
const (
	ParamCode       = "code"
	ParamMinutes    = "minutes"
	ParamUsername   = "username"
	ParamPassword   = "password"
	ParamHours      = "hours"
	ParamCaseNumber = "case_number"
	ParamDueDate    = "due_date"
	ParamStatus     = "status"
	// The rest are only in the rendered text (too long for a carrier).
	ParamReasons = "reasons"
	ParamKinds   = "kinds"
	ParamMessage = "message"
	ParamHotline = "hotline"
)

// Content is one message as purpose and named parameters: what the courier
// stores (sealed, because a parameter can be a password) and what every
// driver is handed, so that a retry or a supervisor's resend sends the same
// parameters and the same text.
type Content struct {
	Purpose vocab.Purpose
	Params  map[string]string
}

// Param is one carrier parameter, in its template's order.
type Param struct {
	Name  string
	Value string
}

// carrierParam declares a parameter a carrier template receives and the
// most characters it may have.
type carrierParam struct {
	name string
	max  int
}

// MaxCarrierParamLen is the longest value of a carrier template variable
// the carriers accept for a text variable; MaxCodeParamLen is theirs for a
// verification code.
const (
	MaxCarrierParamLen = 35
	MaxCodeParamLen    = 6
)

// spec is a purpose's text and its carrier parameters.
type spec struct {
	carrier []carrierParam
	render  func(p map[string]string) string
}

var (
	codeParams   = []carrierParam{{ParamCode, MaxCodeParamLen}, {ParamMinutes, 2}}
	numberParams = []carrierParam{{ParamCaseNumber, MaxCarrierParamLen}}
)

// specs is every purpose the product sends. A test checks it covers
// vocab.Purposes, and config demands a carrier template for each.
var specs = map[vocab.Purpose]spec{
	vocab.PurposeRegisterCode: {codeParams, renderCode},
	vocab.PurposeRecoveryCode: {codeParams, renderCode},
	vocab.PurposeStatusCode:   {codeParams, renderCode},
	vocab.PurposeUsername: {[]carrierParam{{ParamUsername, MaxCarrierParamLen}}, func(p map[string]string) string {
		return fmt.Sprintf("【广东人社】您在广东人社统一认证系统注册的登录账号为：%s。如非本人操作，请忽略本短信。", p[ParamUsername])
	}},
	// The password is a parameter of its own: a template cannot take it
	// from anywhere else, and the queue erases it once sent.
	vocab.PurposePassword: {[]carrierParam{{ParamUsername, MaxCarrierParamLen}, {ParamPassword, MaxCarrierParamLen}, {ParamHours, 2}},
		func(p map[string]string) string {
			return fmt.Sprintf("【广东人社】您的账号%s密码找回申请已审核通过，新密码为：%s 。新密码将于收到本短信%s小时后生效，在此之前原密码仍可使用。请登录后及时修改密码。",
				p[ParamUsername], p[ParamPassword], p[ParamHours])
		}},
	vocab.PurposeSubmitted: {[]carrierParam{{ParamCaseNumber, MaxCarrierParamLen}, {ParamDueDate, MaxCarrierParamLen}}, func(p map[string]string) string {
		return fmt.Sprintf("【广东人社】您的密码找回申请已提交，申请编号%s，预计%s前完成审核，结果将短信通知。可凭申请编号在“查询申请进度”中查看。",
			p[ParamCaseNumber], p[ParamDueDate])
	}},
	vocab.PurposeRejected: {numberParams, func(p map[string]string) string {
		head, tail := rejectedFrame(p[ParamCaseNumber], p[ParamHotline])
		return fitText(head, p[ParamReasons], p[ParamMessage], tail)
	}},
	vocab.PurposeReturned: {numberParams, func(p map[string]string) string {
		head := fmt.Sprintf("【广东人社】您的密码找回申请%s需要补正，请重新上传：", p[ParamCaseNumber])
		tail := "。请在“查询申请进度”中重新上传后再次提交。"
		return fitText(head, p[ParamKinds], p[ParamMessage], tail)
	}},
	vocab.PurposeReopened: {numberParams, func(p map[string]string) string {
		return fmt.Sprintf("【广东人社】您的密码找回申请%s经复核将重新审核，审核结果将另行短信通知，请留意。", p[ParamCaseNumber])
	}},
	vocab.PurposePasswordCancelled: {numberParams, func(p map[string]string) string {
		return fmt.Sprintf("【广东人社】您的密码找回申请%s经复核需重新审核，此前短信发送的新密码已作废，请继续使用原密码登录。审核结果将另行短信通知。", p[ParamCaseNumber])
	}},
	// 忘记申请编号: the latest case's number and status. A carrier template
	// reads ${case_number} and ${status}; with no case they say 无 and
	// 未提交申请, while the rendered text says so in a sentence.
	vocab.PurposeCaseNumber: {[]carrierParam{{ParamCaseNumber, MaxCarrierParamLen}, {ParamStatus, MaxCarrierParamLen}},
		func(p map[string]string) string {
			if p[ParamCaseNumber] == noCase {
				return "【广东人社】您查询的账号没有已提交的密码找回申请。如需找回密码，请在“密码找回”中提交申请。如非本人操作，请忽略本短信。"
			}
			return fmt.Sprintf("【广东人社】您最近一次密码找回申请的申请编号为%s，当前状态：%s。可凭申请编号在“查询申请进度”中查看。如非本人操作，请忽略本短信。",
				p[ParamCaseNumber], p[ParamStatus])
		}},
}

// noCase is the case_number parameter of an account without a submitted case.
const noCase = "无"

// CaseNumber answers 忘记申请编号 with the latest case's number and its
// status label, or (caseNumber "") says there is none, so the answer on the
// page is the same either way and only the phone on record learns which.
func CaseNumber(caseNumber, statusLabel string) Content {
	if caseNumber == "" {
		caseNumber, statusLabel = noCase, "未提交申请"
	}
	return Content{vocab.PurposeCaseNumber, map[string]string{ParamCaseNumber: caseNumber, ParamStatus: statusLabel}}
}

func renderCode(p map[string]string) string {
	return fmt.Sprintf("【广东人社】您的验证码为%s，%s分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。", p[ParamCode], p[ParamMinutes])
}

// Code is a verification code message of purpose (register_code,
// recovery_code, status_code); ttl is the code's lifetime, which it names.
func Code(purpose vocab.Purpose, code string, ttl time.Duration) Content {
	return Content{purpose, map[string]string{ParamCode: code, ParamMinutes: strconv.Itoa(int(ttl / time.Minute))}}
}

// Username tells a person their username (账号找回).
func Username(username string) Content {
	return Content{vocab.PurposeUsername, map[string]string{ParamUsername: username}}
}

// Password carries a reset password. delay is how long after the SMS the
// password takes effect (accounts.PendingDelay), which the text names.
func Password(username, password string, delay time.Duration) Content {
	return Content{vocab.PurposePassword, map[string]string{ParamUsername: username, ParamPassword: password,
		ParamHours: strconv.Itoa(int(delay / time.Hour))}}
}

// Rejected tells the applicant a recovery was refused, why (the catalog
// texts of the reasons) and the reviewer's message, and where to ask.
func Rejected(caseNumber string, reasons []string, message, hotline string) Content {
	return Content{vocab.PurposeRejected, map[string]string{ParamCaseNumber: caseNumber,
		ParamReasons: strings.Join(reasons, "；"), ParamMessage: message, ParamHotline: hotline}}
}

// Returned asks the applicant to upload evidence again (补正): kinds are
// the labels of exactly the materials to replace, message the reviewer's
// words on what was wrong with them.
func Returned(caseNumber string, kinds []string, message string) Content {
	return Content{vocab.PurposeReturned, map[string]string{ParamCaseNumber: caseNumber,
		ParamKinds: strings.Join(kinds, "、"), ParamMessage: message}}
}

// Submitted confirms a submission: the case number the applicant needs on
// /recover/status and the date by which the review is due.
func Submitted(caseNumber string, dueBy time.Time) Content {
	return Content{vocab.PurposeSubmitted, map[string]string{ParamCaseNumber: caseNumber, ParamDueDate: dueBy.Format("2006年1月2日")}}
}

// Reopened tells the applicant that a decided application goes back to
// review after a supervisor's quality review.
func Reopened(caseNumber string) Content {
	return Content{vocab.PurposeReopened, map[string]string{ParamCaseNumber: caseNumber}}
}

// PasswordCancelled tells the applicant that a reset password sent earlier
// was withdrawn after a supervisor's review, before it took effect.
func PasswordCancelled(caseNumber string) Content {
	return Content{vocab.PurposePasswordCancelled, map[string]string{ParamCaseNumber: caseNumber}}
}

// Render is the text a person reads: what the outbox and http drivers send.
func Render(c Content) string {
	s, ok := specs[c.Purpose]
	if !ok {
		return ""
	}
	return s.render(c.Params)
}

// CarrierParams are the parameters a carrier template of c's purpose
// receives, in the template's order.
func CarrierParams(c Content) []Param {
	s := specs[c.Purpose]
	out := make([]Param, len(s.carrier))
	for i, p := range s.carrier {
		out[i] = Param{p.name, c.Params[p.name]}
	}
	return out
}

// CarrierParamNames lists, per purpose, the names of its carrier
// parameters in order: what an operator's template must use (README).
func CarrierParamNames(p vocab.Purpose) []string {
	var out []string
	for _, c := range specs[p].carrier {
		out = append(out, c.name)
	}
	return out
}

// Errors of a content the courier cannot queue.
var (
	// ErrTextTooLong refuses a text longer than MaxTextLen.
	ErrTextTooLong = apperr.New(apperr.Invalid, "sms_too_long", fmt.Sprintf("短信内容不能超过%d字", MaxTextLen))
	// ErrUnknownPurpose is a content of no purpose in specs.
	ErrUnknownPurpose = fmt.Errorf("sms: unknown purpose")
	// ErrParamTooLong is a carrier parameter over its carrier's bound: no
	// carrier would accept the message, so it is refused before it is queued.
	ErrParamTooLong = apperr.New(apperr.Invalid, "sms_param_too_long", "短信参数超过运营商长度限制")
)

// check refuses a content no driver could send: an unknown purpose, a
// carrier parameter missing or over its bound, a text over MaxTextLen.
func check(c Content) error {
	s, ok := specs[c.Purpose]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownPurpose, c.Purpose)
	}
	for _, p := range s.carrier {
		v, ok := c.Params[p.name]
		if !ok || v == "" {
			return fmt.Errorf("sms %s: parameter %s missing: %w", c.Purpose, p.name, ErrParamTooLong)
		}
		if utf8.RuneCountInString(v) > p.max {
			return fmt.Errorf("sms %s: parameter %s over %d characters: %w", c.Purpose, p.name, p.max, ErrParamTooLong)
		}
	}
	if utf8.RuneCountInString(Render(c)) > MaxTextLen {
		return ErrTextTooLong
	}
	return nil
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

// sealParams is the stored form of a content's parameters (sealed by the
// courier).
func sealParams(c Content) []byte {
	b, _ := json.Marshal(c.Params)
	return b
}
