package sms

import "fmt"

// The texts of the messages, in the live system's tone. Each purpose has one
// function here so that wording lives in one place.

// CodeText is the verification-code message.
func CodeText(code string) string {
	return fmt.Sprintf("【广东人社】您的验证码为%s，5分钟内有效，请勿泄露给他人。如非本人操作，请忽略本短信。", code)
}

// UsernameText tells a person their username (账号找回).
func UsernameText(username string) string {
	return fmt.Sprintf("【广东人社】您在广东人社统一认证系统注册的登录账号为：%s。如非本人操作，请忽略本短信。", username)
}
