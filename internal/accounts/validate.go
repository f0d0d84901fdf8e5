package accounts

import (
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/rules"
)

// fieldErrors collects every problem of a form, so it can show all at once.
type fieldErrors []apperr.FieldError

func (f *fieldErrors) add(field, code, message string) {
	*f = append(*f, apperr.FieldError{Field: field, Code: code, Message: message})
}

func (f fieldErrors) err() error { return apperr.FromFields(f) }

func (f *fieldErrors) username(field, u string) {
	for _, v := range rules.CheckUsername(u) {
		f.add(field, "invalid_username", v.Message)
	}
}

func (f *fieldErrors) password(field, pw, username string) {
	for _, v := range rules.CheckPassword(pw, username) {
		f.add(field, "weak_password", v.Message)
	}
}

func (f *fieldErrors) required(field, value, code, message string) bool {
	if strings.TrimSpace(value) == "" {
		f.add(field, code, message)
		return false
	}
	return true
}

// idNumber validates and normalises a resident ID number.
func (f *fieldErrors) idNumber(field, s string, today time.Time) string {
	if !f.required(field, s, "invalid_id_number", "请输入身份证号码") {
		return ""
	}
	n, err := rules.ValidateIDNumber(s, today)
	if err != nil {
		f.add(field, "invalid_id_number", rules.CertMessage(err, "身份证号码不正确"))
		return ""
	}
	return n
}

// certNumber validates and normalises a unit certificate number.
func (f *fieldErrors) certNumber(certField, numberField, certType, s string, today time.Time) string {
	t := rules.CertType(certType)
	if t != rules.CertUSCC && t != rules.CertOrgCode {
		f.add(certField, "invalid_cert_type", "请选择证件类型：统一社会信用代码或组织机构代码")
		return ""
	}
	if !f.required(numberField, s, "invalid_cert_number", "请输入证件号码（这里填执照上的号码）") {
		return ""
	}
	n, err := rules.ValidateCert(t, s, today)
	if err != nil {
		f.add(numberField, "invalid_cert_number", rules.CertMessage(err, "证件号码不正确"))
		return ""
	}
	return n
}

func (f *fieldErrors) phone(field, s string) string {
	p, err := NormalizePhone(s)
	if e, ok := apperr.As(err); ok {
		f.add(field, e.Code, e.Message)
	}
	return p
}

func (f *fieldErrors) personName(field, s string) string {
	s = strings.TrimSpace(s)
	if !f.required(field, s, "invalid_name", "请输入真实姓名") {
		return ""
	}
	if !ValidName(s) {
		f.add(field, "invalid_name", "请输入与身份证一致的真实姓名")
		return ""
	}
	return s
}

func (f *fieldErrors) unitName(field, s string) string {
	s = strings.TrimSpace(s)
	if !f.required(field, s, "invalid_unit_name", "请输入单位名称（这里填执照上的单位全称）") {
		return ""
	}
	if n := utf8.RuneCountInString(s); n < 2 || n > 100 {
		f.add(field, "invalid_unit_name", "单位名称应为2-100个字")
		return ""
	}
	return s
}

// region accepts a county-level code, or a city code for the cities that
// have no county-level divisions (东莞市, 中山市).
func (f *fieldErrors) region(field, code string) string {
	r, ok := rules.LookupRegion(code)
	if !ok || r.Level < 2 || (r.Level == 2 && len(rules.RegionChildren(r.Code)) > 0) {
		f.add(field, "invalid_region", "请选择单位所在地（省 / 市 / 区县）")
		return ""
	}
	return r.Code
}

// SameText compares names as people type them: ignoring surrounding and
// inner spaces and full-width/half-width differences.
func SameText(a, b string) bool { return normText(a) == normText(b) }

func normText(s string) string {
	s = width.Narrow.String(strings.TrimSpace(s))
	return strings.Join(strings.Fields(s), "")
}
