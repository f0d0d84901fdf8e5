package views

import (
	"fmt"
	"html/template"
	"strings"

	"recoverydesk/internal/rules"
)

// Field is one labelled input of a public form, as partials/field renders
// it: the label, the input with its limits and keyboard hints, the hint
// under it, and the field's error. The forms that share an input (the
// username, the new password, the ID number…) name it here once, so a
// limit or a hint is never written twice.
type Field struct {
	Name         string
	Label        string
	Type         string // "text", "password", "tel"
	Max          int    // maxlength
	Autocomplete string
	Caps         string // autocapitalize; set also turns spellcheck off
	Numeric      bool   // inputmode="numeric"
	Confirm      string // data-confirm: the field this one must repeat
	Mismatch     string // data-mismatch: what the script says when it does not
	Placeholder  string
	Hint         template.HTML
}

// PasswordMismatch refuses a confirmation that differs from the password
// it repeats: the form's script says it as soon as it differs, the handler
// after a post.
const PasswordMismatch = "两次输入的密码不一致"

// passwordHint is the password policy as the forms state it (CONTRACT §3).
var passwordHint = fmt.Sprintf("密码应为%d-%d位，大写字母、小写字母、数字、符号至少包含%d种，同时不能在键盘上连续超过%d个字符，不能包含用户名",
	rules.PasswordMinLen, rules.PasswordMaxLen, rules.PasswordMinClasses, rules.PasswordMaxKeyboardRun)

// usernameRule is the username policy as the forms state it (CONTRACT §3).
var usernameRule = fmt.Sprintf("%d-%d位，可以使用大小写字母、数字和下划线，且应该以字母开始", rules.UsernameMinLen, rules.UsernameMaxLen)

// lockHint warns that wrong passwords lock the account.
var lockHint = fmt.Sprintf("连续错误%d次后账号将被锁定%d小时", rules.DefaultLockout.MaxFailures, int(rules.DefaultLockout.Duration.Hours()))

// Maximum input lengths of the fields whose limit no rule names: a name as
// an ID card prints it, a certificate number with a separator, a unit's name.
const (
	nameMaxLen       = 40
	certNumberMaxLen = 20
	unitNameMaxLen   = 100
)

func usernameField(hint string) Field {
	return Field{Name: "username", Label: "用户名", Type: "text", Max: rules.UsernameMaxLen,
		Autocomplete: "username", Caps: "off", Hint: template.HTML(template.HTMLEscapeString(hint))}
}

func passwordField(name, label, autocomplete, hint string) Field {
	return Field{Name: name, Label: label, Type: "password", Max: rules.PasswordMaxLen,
		Autocomplete: autocomplete, Hint: template.HTML(template.HTMLEscapeString(hint))}
}

func confirmField(name, label, of, hint string) Field {
	f := passwordField(name, label, "new-password", hint)
	f.Confirm, f.Mismatch = of, PasswordMismatch
	return f
}

func withName(f Field, name string) Field {
	f.Name = name
	return f
}

func withPlaceholder(f Field, placeholder string) Field {
	f.Placeholder = placeholder
	return f
}

// fields are the shared inputs by the key a template asks for.
var fields = map[string]Field{
	"username":         usernameField("登录账号应为" + usernameRule),
	"unit_username":    usernameField("单位账号的登录账号：" + usernameRule),
	"account_username": withPlaceholder(usernameField(""), "请输入登录账号"),
	"operator_username": withPlaceholder(withName(usernameField("经办人本人已实名认证的个人账号"), "operator_username"),
		"请输入个人账号的登录账号"),
	"operator_password": withPlaceholder(passwordField("operator_password", "密码", "current-password",
		"密码"+strings.Replace(lockHint, "账号", "该个人账号", 1)), "请输入个人账号的密码"),
	"password":             passwordField("password", "密码", "new-password", passwordHint),
	"password_confirm":     confirmField("password_confirm", "确认密码", "password", "请再输入一次密码"),
	"old_password":         passwordField("old_password", "原密码", "current-password", "原密码"+lockHint),
	"new_password":         passwordField("new_password", "新密码", "new-password", passwordHint),
	"new_password_confirm": confirmField("new_password_confirm", "确认新密码", "new_password", "请再输入一次新密码"),
	"name": {Name: "name", Label: "真实姓名", Type: "text", Max: nameMaxLen, Autocomplete: "name",
		Hint: "与身份证上的姓名一致"},
	"id_number": {Name: "id_number", Label: "身份证号码", Type: "text", Max: rules.IDNumberLen, Autocomplete: "off",
		Caps: "characters", Hint: "18位居民身份证号码，末位X不区分大小写"},
	"phone": {Name: "phone", Label: "手机号码", Type: "tel", Max: rules.MobileLen, Autocomplete: "tel-national",
		Numeric: true, Hint: "本人的11位手机号码，用于接收验证码和找回密码"},
	"cert_number": {Name: "cert_number", Label: "证件号码", Type: "text", Max: certNumberMaxLen, Autocomplete: "off",
		Caps: "characters", Hint: `这里填执照上的号码<span class="hint-org-code">；组织机构代码第九位“-”请省略</span>`},
	"unit_name": {Name: "unit_name", Label: "单位名称", Type: "text", Max: unitNameMaxLen, Autocomplete: "organization",
		Hint: "这里填执照上的单位全称"},
}

// inputs is the template function inputs: the shared inputs named by keys,
// in order, for partials/fields.
func inputs(keys ...string) ([]Field, error) {
	out := make([]Field, len(keys))
	for i, k := range keys {
		f, err := field(k)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// field is the template function field: the shared input named key. An
// unknown key fails the render, so a typo shows in the tests.
func field(key string) (Field, error) {
	f, ok := fields[key]
	if !ok {
		return Field{}, fmt.Errorf("field: no field %q", key)
	}
	return f, nil
}
