package recovery

// Reason is one entry of the rejection catalog: a stable code and the text
// the applicant reads in the SMS and on the status page.
type Reason struct {
	Code string
	Text string
}

// Reasons is the catalog of rejection reasons. (The supervision issue moves
// it into the database for administrators to edit; the codes stay.)
var Reasons = []Reason{
	{"unclear_image", "清晰度不足，请重新拍摄清晰、完整的照片"},
	{"handheld_mismatch", "手持证件照与证件不符"},
	{"license_no_seal", "单位证件未加盖公章"},
	{"letter_irregular", "授权函不规范，请使用授权函模板并签字盖章"},
	{"info_mismatch", "填写信息与注册信息不符"},
	{"other", "其他原因，详见审核意见"},
}

// ReasonText is the applicant's text for a reason code ("" when unknown).
func ReasonText(code string) string {
	for _, r := range Reasons {
		if r.Code == code {
			return r.Text
		}
	}
	return ""
}
