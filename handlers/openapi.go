package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/verify"
	"recoverydesk/internal/vocab"
)

// apiPrefix is the versioned JSON API the OpenAPI document describes.
const apiPrefix = "/api/v1"

// apiOperation describes one /api/v1 route: what it takes, what it answers
// and every refusal it can give. The refusals are the error values
// themselves (the domain sentinels, the handlers' *APIError values), turned
// into status, code and message by toAPIError, the function that answers
// real requests: the document cannot name a code or status the server would
// not send for that value.
type apiOperation struct {
	summary     string
	description string
	params      []apiParam
	body        *apiBody
	replies     []apiReply
	refusals    []error
}

// apiParam is a path or query parameter.
type apiParam struct {
	name, in, description string
	required              bool
	schema                jsonSchema
}

// apiBody is a request body: the media types it may come as, one schema.
type apiBody struct {
	description string
	media       []string
	schema      jsonSchema
}

// apiReply is a success response; a nil schema is a response without body.
type apiReply struct {
	status      int
	description string
	schema      jsonSchema
	headers     map[string]string // name → description
}

// jsonSchema is a JSON Schema (2020-12, as OpenAPI 3.1 uses it).
type jsonSchema = map[string]any

func str(desc string) jsonSchema { return jsonSchema{"type": "string", "description": desc} }

func strFormat(format, desc string) jsonSchema {
	return jsonSchema{"type": "string", "format": format, "description": desc}
}

func strEnum[T ~string](desc string, values ...T) jsonSchema {
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = string(v)
	}
	return jsonSchema{"type": "string", "enum": vs, "description": desc}
}

func integer(desc string) jsonSchema { return jsonSchema{"type": "integer", "description": desc} }

func boolean(desc string) jsonSchema { return jsonSchema{"type": "boolean", "description": desc} }

func arrayOf(items jsonSchema, desc string) jsonSchema {
	return jsonSchema{"type": "array", "items": items, "description": desc}
}

// nullable lets s also be null.
func nullable(s jsonSchema) jsonSchema {
	out := make(jsonSchema, len(s))
	for k, v := range s {
		out[k] = v
	}
	out["type"] = []any{s["type"], "null"}
	return out
}

// object is a response object: exactly these members (additionalProperties
// false), so a member a handler adds without documenting it fails the
// conformance test.
func object(desc string, required []string, props map[string]jsonSchema) jsonSchema {
	s := closedObject(required, props)
	s["description"] = desc
	return s
}

func closedObject(required []string, props map[string]jsonSchema) jsonSchema {
	p := make(map[string]any, len(props))
	for k, v := range props {
		p[k] = v
	}
	s := jsonSchema{"type": "object", "properties": p, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// request is a request object: the members the handler reads; others are
// ignored, so it stays open. The generic error envelope is open too: its
// extras depend on the code.
func request(required []string, props map[string]jsonSchema) jsonSchema {
	s := closedObject(required, props)
	delete(s, "additionalProperties")
	return s
}

// fieldRefusal is a field problem reported with a code the validators build
// in place (accounts and recovery check several fields at once and report
// them together) rather than a sentinel. TestOpenAPIErrorCodesExist checks
// that every such code is one the source produces.
func fieldRefusal(code, message string) error { return apperr.New(apperr.Invalid, code, message) }

// The refusals any request can meet before routing; allRefusals adds them
// to every operation with the other implied ones (JSON body, rate limit,
// token, internal error).
var (
	// errBodyTooLarge is fasthttp refusing a body over the app's BodyLimit
	// before any handler runs (statusErrors names it).
	errBodyTooLarge = fiber.ErrRequestEntityTooLarge
	// errLengthAmbiguous is a request with conflicting Content-Length
	// headers, refused before routing (ownPreRoutingAnswers).
	errLengthAmbiguous = fiber.ErrBadRequest
)

// The field problems of the identity rules (CONTRACT §3).
var (
	refuseUsername   = fieldRefusal("invalid_username", "用户名为5-20位字母、数字或下划线，以字母开头")
	refusePassword   = fieldRefusal("weak_password", "密码不符合规则（8-30位，至少3类字符，不含连续键盘字符或用户名）")
	refuseName       = fieldRefusal("invalid_name", "请输入与身份证一致的真实姓名")
	refuseIDNumber   = fieldRefusal("invalid_id_number", "身份证号码不正确")
	refuseCertType   = fieldRefusal("invalid_cert_type", "请选择证件类型：统一社会信用代码或组织机构代码")
	refuseCertNumber = fieldRefusal("invalid_cert_number", "证件号码不正确")
	refuseUnitName   = fieldRefusal("invalid_unit_name", "请输入单位名称")
	refuseRegion     = fieldRefusal("invalid_region", "请选择单位所在地（省 / 市 / 区县）")
	refuseKind       = fieldRefusal("invalid_kind", "请选择个人或单位")
	refuseUnchanged  = fieldRefusal("password_unchanged", "新密码不能与原密码相同")
)

// errorExtras are the members a refusal carries beside code, message and
// field, by code. Each is set where the refusal is built (With).
var errorExtras = map[string]map[string]jsonSchema{
	"bad_credentials":        {"attempts_left": integer("锁定前还可尝试的次数（账号存在时）")},
	"wrong_account_kind":     {"kind": strEnum("该账号实际的类型：应在此类登录中登录", vocab.CaseKinds...)},
	"account_locked":         {"locked_until": strFormat("date-time", "锁定解除时间（RFC 3339）")},
	"password_not_effective": {"effective_at": nullable(strFormat("date-time", "新密码生效时间（RFC 3339）；短信尚未发出时为 null"))},
	"rate_limited":           {"retry_after": integer("多少秒后可重试（同 Retry-After 头）")},
	"busy":                   {"retry_after": integer("多少秒后可重试（同 Retry-After 头）")},
	"wrong_code":             {"attempts_left": integer("验证码失效前还可尝试的次数")},
	"cert_number_taken":      {"trace_id": strFormat("uuid", "追踪编号，与 message 中方括号内的相同")},
	"case_open":              {"case_number": str("正在办理的申请编号")},
	"draft_in_progress":      {"expires_at": strFormat("date-time", "该草稿失效时间（RFC 3339）")},
	"missing_evidence":       {"missing": arrayOf(evidenceKindSchema, "尚未上传的材料")},
	"evidence_unchanged":     {"kinds": arrayOf(evidenceKindSchema, "尚需重新上传的退回材料")},
}

// Shared schemas.
var (
	evidenceKindSchema = strEnum("证件照类型", vocab.EvidenceKinds...)
	accountKindSchema  = strEnum("账号类型：person 个人，unit 单位", vocab.CaseKinds...)
	unitCertType       = strEnum("单位证件类型", vocab.CertUSCC, vocab.CertOrgCode)
	resendAfter        = integer("多少秒后可再次发送")
	phoneMasked        = str("留存手机号（脱敏），如 138****1234")
	caseNumber         = str("申请编号：ZH + 提交日期 YYYYMMDD + 6 位数字")
	caseIDParam        = apiParam{name: "id", in: "path", required: true, description: "申请 id（发起时返回）", schema: strFormat("uuid", "申请 id")}
	codeRequest        = request([]string{"code"}, map[string]jsonSchema{"code": str("短信验证码（6 位数字）")})
	// recoveryLookup is the first step's identity of the account, which
	// both starting a recovery and asking for a forgotten case number send.
	recoveryLookup = request([]string{"kind"}, map[string]jsonSchema{
		"kind": accountKindSchema, "username": str("用户名（可为空或近似）"), "cert_type": unitCertType,
		"cert_number": str("单位证件号码（kind=unit）"), "unit_name": str("单位名称（kind=unit）"),
		"name": str("姓名（kind=person）"), "id_number": str("身份证号码（kind=person）"),
	})
	applicantSeen = applicantStatuses()
)

// applicantStatuses are the statuses an applicant can see (CONTRACT §4):
// the shown status of every one, less expired (its token opens nothing).
func applicantStatuses() []state.Status {
	var out []state.Status
	for _, s := range state.All {
		if recovery.ApplicantStatus(s) == s && s != state.Expired {
			out = append(out, s)
		}
	}
	return out
}

// applicantEvents are the event types the applicant's timeline shows.
func applicantEvents() []vocab.EventType {
	var out []vocab.EventType
	for _, e := range vocab.EventTypes {
		if _, ok := e.ApplicantLabel(); ok {
			out = append(out, e)
		}
	}
	return out
}

// apiOperations is the description of every /api/v1 route, keyed by the
// route table's method and path.
func apiOperations() map[string]apiOperation {
	jsonOnly := []string{fiber.MIMEApplicationJSON}
	authRefusals := []error{refuseKind, accounts.ErrBadCredentials, accounts.ErrLocked, accounts.ErrPasswordNotEffective, errBusy}
	return map[string]apiOperation{
		"POST /api/v1/sms/codes": {
			summary:     "发送注册短信验证码",
			description: "向所填手机号发送个人注册用的验证码。同一手机号 60 秒内只能发送一次，每天有上限。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"phone", "purpose"}, map[string]jsonSchema{
				"phone":   str("中国大陆 11 位手机号"),
				"purpose": strEnum("用途，只能为 register", accounts.PurposeRegister),
			})},
			replies:  []apiReply{{status: 202, description: "验证码已排队发送", schema: object("", []string{"resend_after"}, map[string]jsonSchema{"resend_after": resendAfter})}},
			refusals: []error{errInvalidPurpose, accounts.ErrPhoneInvalid, verify.ErrRateLimited},
		},
		"POST /api/v1/accounts/person": {
			summary:     "注册个人账号",
			description: "校验全部字段、短信验证码和实名，创建已实名认证的个人账号。多个字段有误时 fields 列出全部问题。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"username", "password", "name", "id_number", "phone", "sms_code"}, map[string]jsonSchema{
				"username":  str("用户名：5-20 位字母、数字或下划线，以字母开头"),
				"password":  str("密码（CONTRACT §3 的规则）"),
				"name":      str("真实姓名"),
				"id_number": str("居民身份证号码（18 位）"),
				"phone":     str("手机号"),
				"sms_code":  str("发送到该手机号的注册验证码"),
			})},
			replies: []apiReply{{status: 201, description: "已创建", schema: object("", []string{"username", "kind", "verified"}, map[string]jsonSchema{
				"username": str("用户名"), "kind": strEnum("账号类型", vocab.KindPerson), "verified": boolean("是否已实名认证"),
			})}},
			refusals: []error{refuseUsername, refusePassword, refuseName, refuseIDNumber, accounts.ErrPhoneInvalid,
				accounts.ErrRealNameMismatch, accounts.ErrCodeMissing, verify.ErrWrongCode, verify.ErrCodeExpired,
				accounts.ErrUsernameTaken, accounts.ErrIDNumberTaken, accounts.ErrPhoneTaken, errBusy},
		},
		"POST /api/v1/accounts/unit": {
			summary:     "注册单位账号",
			description: "经办人以已实名的个人账号密码验证身份后，创建单位账号（联系手机为经办人手机）。经办人密码错误计入其账号的锁定次数。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"operator_username", "operator_password", "cert_type", "cert_number", "unit_name", "region_code", "username", "password"}, map[string]jsonSchema{
				"operator_username": str("经办人个人账号用户名"),
				"operator_password": str("经办人个人账号密码"),
				"cert_type":         unitCertType,
				"cert_number":       str("单位证件号码"),
				"unit_name":         str("单位名称（2-100 字）"),
				"region_code":       str("单位所在地：区县级行政区划代码（东莞市、中山市为市级代码）"),
				"username":          str("单位账号用户名"),
				"password":          str("单位账号密码"),
			})},
			replies: []apiReply{{status: 201, description: "已创建", schema: object("", []string{"username", "kind"}, map[string]jsonSchema{
				"username": str("用户名"), "kind": strEnum("账号类型", vocab.KindUnit),
			})}},
			refusals: []error{refuseCertType, refuseCertNumber, refuseUnitName, refuseRegion, refuseUsername, refusePassword,
				accounts.ErrBadCredentials, accounts.ErrLocked, accounts.ErrPasswordNotEffective, accounts.ErrOperatorNotVerified,
				accounts.ErrCertNumberTaken, accounts.ErrUsernameTaken, errBusy},
		},
		"POST /api/v1/login": {
			summary:     "登录",
			description: "连续 5 次密码错误锁定账号 1 小时；锁定期间正确的密码也返回 423。成功后开始新的会话（Cookie rd_session）。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"kind", "username", "password"}, map[string]jsonSchema{
				"kind": accountKindSchema, "username": str("用户名（不区分大小写）"), "password": str("密码"),
			})},
			replies: []apiReply{{status: 200, description: "已登录", headers: map[string]string{"Set-Cookie": "会话 Cookie rd_session（HttpOnly，SameSite=Lax）"},
				schema: object("", []string{"username", "kind"}, map[string]jsonSchema{"username": str("用户名"), "kind": accountKindSchema})}},
			refusals: append(slices.Clone(authRefusals), accounts.ErrPersonAccount),
		},
		"POST /api/v1/logout": {
			summary:  "退出登录",
			replies:  []apiReply{{status: 204, description: "会话已结束"}},
			refusals: nil,
		},
		"POST /api/v1/password": {
			summary:     "修改密码",
			description: "原密码错误计入锁定次数，规则同登录。新密码生效后，尚未生效的审核发放密码作废。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"kind", "username", "old_password", "new_password"}, map[string]jsonSchema{
				"kind": accountKindSchema, "username": str("用户名"), "old_password": str("原密码"), "new_password": str("新密码（CONTRACT §3 的规则，不能与原密码相同）"),
			})},
			replies:  []apiReply{{status: 204, description: "密码已修改"}},
			refusals: append(slices.Clone(authRefusals), refusePassword, refuseUnchanged),
		},
		"POST /api/v1/account-recovery": {
			summary:     "账号找回（找回用户名）",
			description: "按单位证件或个人身份证找到账号，把用户名用短信发到留存手机号；响应只含脱敏的手机号。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"kind"}, map[string]jsonSchema{
				"kind": accountKindSchema, "cert_type": unitCertType, "cert_number": str("单位证件号码（kind=unit）"),
				"unit_name": str("单位名称（kind=unit）"), "name": str("姓名（kind=person）"), "id_number": str("身份证号码（kind=person）"),
			})},
			replies:  []apiReply{{status: 202, description: "用户名已排队用短信发送", schema: object("", []string{"phone_masked"}, map[string]jsonSchema{"phone_masked": phoneMasked})}},
			refusals: []error{refuseKind, refuseCertType, refuseCertNumber, refuseUnitName, refuseName, refuseIDNumber, accounts.ErrAccountNotFound, verify.ErrRateLimited},
		},
		"GET /api/v1/regions": {
			summary:     "行政区划（级联选择）",
			description: "不带 parent 返回广东省；带 parent 返回其下一级。",
			params:      []apiParam{{name: "parent", in: "query", description: "上级行政区划代码（GB/T 2260）", schema: str("行政区划代码")}},
			replies: []apiReply{{status: 200, description: "下一级行政区划", headers: map[string]string{"Cache-Control": "public, max-age=86400"},
				schema: object("", []string{"regions"}, map[string]jsonSchema{"regions": arrayOf(closedObject([]string{"code", "name", "level"}, map[string]jsonSchema{
					"code": str("行政区划代码"), "name": str("名称"), "level": integer("级别：1 省，2 地级市，3 区县"),
				}), "行政区划")})}},
			refusals: []error{errRegionNotFound},
		},
		"POST /api/v1/recoveries": {
			summary:     "发起密码找回",
			description: "按证件找到账号并创建草稿申请。返回的 token 以 Authorization: Bearer <token> 授权该申请后续的每个调用。username 可为空或近似。",
			body:        &apiBody{media: jsonOnly, schema: recoveryLookup},
			replies: []apiReply{{status: 201, description: "草稿已创建", schema: object("", []string{"id", "token", "phone_masked", "required_evidence"}, map[string]jsonSchema{
				"id": strFormat("uuid", "申请 id"), "token": str("该申请的授权令牌"), "phone_masked": phoneMasked,
				"required_evidence": arrayOf(evidenceKindSchema, "需上传的证件照类型"),
			})}},
			refusals: []error{refuseKind, refuseCertType, refuseCertNumber, refuseUnitName, refuseName, refuseIDNumber,
				recovery.ErrAccountNotFound, recovery.ErrCaseOpen, recovery.ErrDraftInProgress},
		},
		"POST /api/v1/recoveries/case-number": {
			summary:     "忘记申请编号：短信发送最近一次申请的编号",
			description: "按第一步的证件信息找到账号，把最近一次已提交申请的编号和状态（没有时说明没有）以短信发到账号的留存手机号；页面只得到打码的手机号，有无申请的回答相同。计入该手机号的短信频率限制。",
			body:        &apiBody{media: jsonOnly, schema: recoveryLookup},
			replies: []apiReply{{status: 202, description: "短信已排队发送", schema: object("", []string{"phone_masked"}, map[string]jsonSchema{
				"phone_masked": phoneMasked,
			})}},
			refusals: []error{refuseKind, refuseCertType, refuseCertNumber, refuseUnitName, refuseName, refuseIDNumber,
				recovery.ErrAccountNotFound, verify.ErrRateLimited},
		},
		"GET /api/v1/recoveries/:id/again": {
			summary:     "未通过后重新申请：取回第一步的填写内容",
			description: "仅对未通过（rejected）的申请：返回其第一步填写的内容，供新申请预先填好。",
			params:      []apiParam{caseIDParam},
			replies: []apiReply{{status: 200, description: "第一步的填写内容", schema: object("", []string{"kind", "username"}, map[string]jsonSchema{
				"kind": accountKindSchema, "username": str("用户名（可为空）"), "cert_type": unitCertType,
				"cert_number": str("单位证件号码（kind=unit）"), "unit_name": str("单位名称（kind=unit）"),
				"name": str("姓名（kind=person）"), "id_number": str("身份证号码（kind=person）"),
			})}},
			refusals: []error{recovery.ErrWrongStep},
		},
		"POST /api/v1/recoveries/lookup": {
			summary:     "按申请编号查询进度：发送验证码",
			description: "向申请编号对应账号的留存手机号发送验证码，用于在没有令牌的浏览器中查看进度。",
			body:        &apiBody{media: jsonOnly, schema: request([]string{"case_number"}, map[string]jsonSchema{"case_number": caseNumber})},
			replies: []apiReply{{status: 202, description: "验证码已排队发送", schema: object("", []string{"phone_masked", "resend_after"}, map[string]jsonSchema{
				"phone_masked": phoneMasked, "resend_after": resendAfter,
			})}},
			refusals: []error{recovery.ErrCaseNotFound, verify.ErrRateLimited},
		},
		"POST /api/v1/recoveries/lookup/verify": {
			summary:     "按申请编号查询进度：校验验证码",
			description: "验证码正确时返回申请 id 和新的令牌（旧令牌作废）。",
			body: &apiBody{media: jsonOnly, schema: request([]string{"case_number", "code"}, map[string]jsonSchema{
				"case_number": caseNumber, "code": str("短信验证码"),
			})},
			replies: []apiReply{{status: 200, description: "已验证", schema: object("", []string{"id", "token"}, map[string]jsonSchema{
				"id": strFormat("uuid", "申请 id"), "token": str("新的授权令牌"),
			})}},
			refusals: []error{recovery.ErrCaseNotFound, verify.ErrWrongCode, verify.ErrCodeExpired},
		},
		"POST /api/v1/recoveries/:id/sms": {
			summary:     "身份验证：发送验证码",
			description: "验证码只发到账号的留存手机号，从不发到请求中的号码。",
			params:      []apiParam{caseIDParam},
			replies:     []apiReply{{status: 202, description: "验证码已排队发送", schema: object("", []string{"resend_after"}, map[string]jsonSchema{"resend_after": resendAfter})}},
			refusals:    []error{recovery.ErrWrongStep, verify.ErrRateLimited},
		},
		"POST /api/v1/recoveries/:id/verify": {
			summary:  "身份验证：校验验证码",
			params:   []apiParam{caseIDParam},
			body:     &apiBody{media: jsonOnly, schema: codeRequest},
			replies:  []apiReply{{status: 200, description: "已验证，进入上传步骤", schema: object("", []string{"step"}, map[string]jsonSchema{"step": strEnum("下一步", "upload")})}},
			refusals: []error{recovery.ErrWrongStep, verify.ErrWrongCode, verify.ErrCodeExpired},
		},
		"PUT /api/v1/recoveries/:id/evidence/:kind": {
			summary:     "上传证件照",
			description: "图片作为原始请求体（image/png 或 image/jpeg），或 multipart 字段 file。类型由文件内容判断；不超过 2 MB。再次上传同类材料替换原图。",
			params: []apiParam{caseIDParam, {name: "kind", in: "path", required: true, description: "证件照类型：个人 id_front、id_handheld；单位另加 unit_license、authorization_letter",
				schema: evidenceKindSchema}},
			body: &apiBody{media: []string{"image/png", "image/jpeg", fiber.MIMEMultipartForm},
				schema: jsonSchema{"type": "string", "contentMediaType": "image/*", "description": "图片；multipart 时为字段 file"}},
			replies: []apiReply{{status: 201, description: "已保存", schema: object("", []string{"kind", "sha256", "size", "width", "height"}, map[string]jsonSchema{
				"kind": evidenceKindSchema, "sha256": str("去除元数据后所存图片的 SHA-256（十六进制）"), "size": integer("字节数"),
				"width": integer("宽（像素）"), "height": integer("高（像素）"),
			})}},
			refusals: []error{recovery.ErrUnknownKind, recovery.ErrWrongStep,
				recovery.ImageError(imagecheck.ErrTooLarge), recovery.ImageError(imagecheck.ErrUnsupportedType),
				recovery.ImageError(imagecheck.ErrUnreadable), recovery.ImageError(imagecheck.ErrDimensions),
				errNoFile, errStorageUnavailable},
		},
		"POST /api/v1/recoveries/:id/submit": {
			summary:     "提交审核",
			description: "草稿（或退回补正后重新上传的申请）进入审核队列；首次提交时生成申请编号，办结期限为提交日后第 2 个工作日，并发送含申请编号的短信。",
			params:      []apiParam{caseIDParam},
			replies: []apiReply{{status: 200, description: "已提交", schema: object("", []string{"case_number", "status", "submitted_at", "due_by"}, map[string]jsonSchema{
				"case_number": caseNumber, "status": strEnum("状态", state.Submitted),
				"submitted_at": strFormat("date-time", "提交时间"), "due_by": strFormat("date", "办结期限 YYYY-MM-DD"),
			})}},
			refusals: []error{recovery.ErrWrongStep, recovery.ErrMissingEvidence, recovery.ErrEvidenceUnchanged},
		},
		"GET /api/v1/recoveries/:id": {
			summary:     "查看申请进度",
			description: "申请人可见的状态、审核结果（原因及文字、给申请人的说明、需补正的材料）和进度时间线；不含证件照和留存的个人信息。",
			params:      []apiParam{caseIDParam},
			replies:     []apiReply{{status: 200, description: "申请进度", headers: map[string]string{"Cache-Control": "no-store"}, schema: statusSchema()}},
		},
		"GET /api/v1/openapi.json": {
			summary:     "本接口说明（OpenAPI 3.1）",
			description: "即本文档；供人阅读的版本在 /api/docs。",
			replies:     []apiReply{{status: 200, description: "OpenAPI 3.1 文档", schema: jsonSchema{"type": "object", "required": []string{"openapi", "info", "paths"}}}},
		},
	}
}

// statusSchema is recovery.StatusView as JSON.
func statusSchema() jsonSchema {
	reason := closedObject([]string{"code", "text"}, map[string]jsonSchema{"code": str("原因代码"), "text": str("原因说明（原因目录中的当前文字）")})
	decision := object("审核结果；未作出决定时为 null", []string{"outcome", "reasons", "message", "return_kinds", "decided_at"}, map[string]jsonSchema{
		"outcome":      strEnum("结果：approve 通过，reject 不通过，return 退回补正", vocab.Outcomes...),
		"reasons":      arrayOf(reason, "原因"),
		"message":      str("审核人员给申请人的说明（可为空）"),
		"return_kinds": arrayOf(evidenceKindSchema, "退回补正时需重新上传的材料"),
		"decided_at":   strFormat("date-time", "决定时间"),
	})
	decision["type"] = []any{"object", "null"}
	event := closedObject([]string{"type", "label", "at"}, map[string]jsonSchema{
		"type": strEnum("事件", applicantEvents()...), "label": str("事件的中文名称"), "at": strFormat("date-time", "时间"),
	})
	return object("", []string{"id", "kind", "case_number", "status", "status_label", "submitted_at", "due_by", "phone_verified",
		"required_evidence", "uploaded", "to_replace", "decision", "timeline"}, map[string]jsonSchema{
		"id":                    strFormat("uuid", "申请 id"),
		"kind":                  accountKindSchema,
		"case_number":           nullable(caseNumber),
		"status":                strEnum("申请人可见的状态", applicantSeen...),
		"status_label":          str("状态的中文名称"),
		"submitted_at":          nullable(strFormat("date-time", "提交时间")),
		"due_by":                nullable(strFormat("date", "办结期限 YYYY-MM-DD")),
		"phone_verified":        boolean("是否已通过短信验证"),
		"required_evidence":     arrayOf(evidenceKindSchema, "需上传的材料"),
		"uploaded":              nullable(arrayOf(evidenceKindSchema, "已上传的材料；一件也未上传时为 null")),
		"to_replace":            arrayOf(evidenceKindSchema, "退回补正后尚未重新上传的材料"),
		"decision":              decision,
		"password_effective_at": strFormat("date-time", "新密码生效时间：通过后新密码短信发出时起 4 小时；短信发出前没有此项"),
		"timeline":              arrayOf(event, "进度"),
	})
}

// apiDoc is the OpenAPI document in two forms: the JSON served at
// /api/v1/openapi.json and the view /api/docs renders, both built once from
// the route table and apiOperations.
type apiDoc struct {
	json []byte
	view apiDocsView
}

// apiDocsView is the data of the /api/docs page.
type apiDocsView struct {
	Operations []apiOperationView
	Errors     []apiErrorView // every refusal of the API, once
}

type apiOperationView struct {
	Method, Path, Summary, Description string
	Anchor                             string
	Token                              bool
	Params                             []apiFieldView
	BodyMedia                          string
	Body                               []apiFieldView
	Replies                            []apiReplyView
	Errors                             []apiErrorView
}

type apiReplyView struct {
	Status      int
	Description string
	Headers     []string
	Fields      []apiFieldView
}

type apiFieldView struct {
	Name, Type, Description string
	Required                bool
}

type apiErrorView struct {
	Status  int
	Code    string
	Message string
	Extras  string
}

// refusal is one documented error: what toAPIError makes of an error value.
type refusal struct {
	status        int
	code, message string
}

// refusalOf is the status, code and message the server answers err with.
func refusalOf(err error) refusal {
	ae := toAPIError(err)
	return refusal{status: ae.Status, code: ae.Code, message: ae.Message}
}

// openAPIPath turns a route path (:id) into an OpenAPI path ({id}).
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// buildAPIDoc builds the document from the /api/v1 rows of the route table.
// A row without a description, or a description without a row, is an error:
// the server does not start with a document that would lie.
func buildAPIDoc(rs []route) (*apiDoc, error) {
	ops := apiOperations()
	paths := map[string]map[string]any{}
	var view apiDocsView
	allErrors := map[refusal]bool{}
	seen := map[string]bool{}
	for _, r := range rs {
		if !strings.HasPrefix(r.path, apiPrefix+"/") {
			continue
		}
		key := r.method + " " + r.path
		op, ok := ops[key]
		if !ok {
			return nil, fmt.Errorf("openapi: route %s has no description in apiOperations", key)
		}
		seen[key] = true
		refusals := op.allRefusals(r)
		doc, opView := op.document(r, refusals)
		p := openAPIPath(r.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.method)] = doc
		view.Operations = append(view.Operations, opView)
		for _, rf := range refusals {
			if !allErrors[rf] {
				allErrors[rf] = true
				view.Errors = append(view.Errors, apiErrorView{Status: rf.status, Code: rf.code, Message: rf.message, Extras: extrasText(rf)})
			}
		}
	}
	for key := range ops {
		if !seen[key] {
			return nil, fmt.Errorf("openapi: %s is described but is no route", key)
		}
	}
	sort.Slice(view.Errors, func(i, j int) bool {
		a, b := view.Errors[i], view.Errors[j]
		if a.Status != b.Status {
			return a.Status < b.Status
		}
		return a.Code < b.Code || a.Code == b.Code && a.Message < b.Message
	})
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   "广东人社统一认证系统 接口（recoverydesk）",
			"version": "v1",
			"description": "账号注册、登录、改密、账号找回和密码找回（人工审核）的 JSON 接口。请求和响应均为 application/json（上传证件照除外）。" +
				"每个响应都带 X-Request-Id；错误响应的格式为 {\"error\":{\"code\",\"message\",\"field\",…}}，code 供程序判断，message 供人阅读；" +
				"5xx 错误带 trace_id（等于 X-Request-Id），不含内部细节。任何请求在路由之前也可能被拒绝：" +
				"请求体超过上限 413 file_too_large，Content-Length 冲突 400 bad_request，网址过长 414 uri_too_long，请求头过长 431 headers_too_large，" +
				"请求发送超时 408 request_timeout。未列出的路径 404 not_found，路径不支持的请求方式 405 method_not_allowed。",
		},
		"paths": paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"caseToken": map[string]any{"type": "http", "scheme": "bearer", "description": "发起密码找回（或按编号查询）时返回的 token"},
			},
			"schemas": errorComponents(),
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return &apiDoc{json: b, view: view}, nil
}

// allRefusals are the operation's own refusals plus those its route's place
// in the table implies: its rate limit, its bearer token, its JSON body,
// and an internal error.
func (op apiOperation) allRefusals(r route) []refusal {
	errs := slices.Clone(op.refusals)
	if op.body != nil && slices.Equal(op.body.media, []string{fiber.MIMEApplicationJSON}) {
		errs = append(errs, errNotJSON, errBadJSON)
	}
	if r.limit != nil {
		errs = append(errs, errPerIPLimit)
	}
	if r.access == accessToken {
		errs = append(errs, recovery.ErrCaseNotFound)
	}
	errs = append(errs, errBodyTooLarge, errLengthAmbiguous, errInternal)
	var out []refusal
	seen := map[[2]string]bool{}
	for _, e := range errs {
		rf := refusalOf(e)
		k := [2]string{strconv.Itoa(rf.status), rf.code}
		if !seen[k] {
			seen[k] = true
			out = append(out, rf)
		}
	}
	return out
}

// document is the OpenAPI operation object and its view.
func (op apiOperation) document(r route, refusals []refusal) (map[string]any, apiOperationView) {
	path := openAPIPath(r.path)
	v := apiOperationView{Method: r.method, Path: path, Summary: op.summary, Description: op.description,
		Anchor: strings.ToLower(r.method) + strings.NewReplacer("/", "-", "{", "", "}", "").Replace(path),
		Token:  r.access == accessToken}
	doc := map[string]any{"summary": op.summary, "operationId": v.Anchor}
	if op.description != "" {
		doc["description"] = op.description
	}
	if v.Token {
		doc["security"] = []any{map[string]any{"caseToken": []any{}}}
	}
	var params []any
	for _, p := range op.params {
		params = append(params, map[string]any{"name": p.name, "in": p.in, "required": p.required, "description": p.description, "schema": p.schema})
		v.Params = append(v.Params, apiFieldView{Name: p.name + "（" + p.in + "）", Type: typeText(p.schema), Description: p.description, Required: p.required})
	}
	if params != nil {
		doc["parameters"] = params
	}
	if op.body != nil {
		content := map[string]any{}
		for _, m := range op.body.media {
			content[m] = map[string]any{"schema": op.body.schema}
		}
		doc["requestBody"] = map[string]any{"required": true, "content": content}
		v.BodyMedia = strings.Join(op.body.media, "、")
		v.Body = fieldRows("", op.body.schema, nil)
	}
	responses := map[string]any{}
	for _, rp := range op.replies {
		resp := map[string]any{"description": rp.description}
		rv := apiReplyView{Status: rp.status, Description: rp.description}
		if rp.schema != nil {
			resp["content"] = map[string]any{fiber.MIMEApplicationJSON: map[string]any{"schema": rp.schema}}
			rv.Fields = fieldRows("", rp.schema, nil)
		}
		if len(rp.headers) > 0 {
			hs := map[string]any{}
			for name, desc := range rp.headers {
				hs[name] = map[string]any{"description": desc, "schema": map[string]any{"type": "string"}}
				rv.Headers = append(rv.Headers, name+"："+desc)
			}
			sort.Strings(rv.Headers)
			resp["headers"] = hs
		}
		responses[strconv.Itoa(rp.status)] = resp
		v.Replies = append(v.Replies, rv)
	}
	byStatus := map[int][]refusal{}
	for _, rf := range refusals {
		byStatus[rf.status] = append(byStatus[rf.status], rf)
		v.Errors = append(v.Errors, apiErrorView{Status: rf.status, Code: rf.code, Message: rf.message, Extras: extrasText(rf)})
	}
	sort.SliceStable(v.Errors, func(i, j int) bool { return v.Errors[i].Status < v.Errors[j].Status })
	for status, rfs := range byStatus {
		var lines []string
		for _, rf := range rfs {
			lines = append(lines, rf.code+"："+rf.message)
		}
		responses[strconv.Itoa(status)] = map[string]any{
			"description": http.StatusText(status) + "。" + strings.Join(lines, "；"),
			"content":     map[string]any{fiber.MIMEApplicationJSON: map[string]any{"schema": errorEnvelope(rfs)}},
		}
	}
	doc["responses"] = responses
	return doc, v
}

// errorEnvelope is the schema of the error envelope (CONTRACT §4). With
// refusals, the code is one of theirs and each carries its own extras; a
// 5xx carries trace_id. The members every refusal may have are shared
// components, so the document stays small.
func errorEnvelope(rfs []refusal) jsonSchema {
	ref := func(name string) jsonSchema { return jsonSchema{"$ref": "#/components/schemas/" + name} }
	base := map[string]jsonSchema{"message": ref("ErrorMessage"), "field": ref("ErrorField"), "fields": ref("FieldProblems")}
	var each []any
	codes := map[string]bool{}
	for _, rf := range rfs {
		if codes[rf.code] {
			continue
		}
		codes[rf.code] = true
		props := maps(base)
		props["code"] = jsonSchema{"const": rf.code, "description": rf.message}
		required := []string{"code", "message"}
		for name, s := range errorExtras[rf.code] {
			props[name] = s
		}
		if rf.status >= 500 {
			props["trace_id"] = str("追踪编号，等于 X-Request-Id")
			required = append(required, "trace_id")
		}
		each = append(each, closedObject(required, props))
	}
	var errSchema jsonSchema
	if len(each) == 1 {
		errSchema = each[0].(jsonSchema)
	} else {
		errSchema = jsonSchema{"oneOf": each}
	}
	return closedObject([]string{"error"}, map[string]jsonSchema{"error": errSchema})
}

// errorComponents are the shared parts of every error envelope, and the
// generic envelope itself (Error) for readers of the document.
func errorComponents() map[string]any {
	problem := closedObject([]string{"field", "code", "message"}, map[string]jsonSchema{
		"field": str("字段"), "code": str("错误代码"), "message": str("中文说明"),
	})
	generic := request([]string{"code", "message"}, map[string]jsonSchema{
		"code":     str("错误代码（供程序判断）"),
		"message":  str("中文说明（供人阅读）"),
		"field":    str("相关字段"),
		"fields":   jsonSchema{"$ref": "#/components/schemas/FieldProblems"},
		"trace_id": str("5xx 错误的追踪编号，等于 X-Request-Id"),
	})
	return map[string]any{
		"ErrorMessage":  str("中文说明（供人阅读）"),
		"ErrorField":    str("相关字段"),
		"FieldProblems": arrayOf(problem, "多个字段有误时的全部问题（第一项同 code、message、field）"),
		"Error": object("错误响应的通用格式；各接口的错误响应列出其 code 及附加字段", []string{"error"},
			map[string]jsonSchema{"error": generic}),
	}
}

func maps(m map[string]jsonSchema) map[string]jsonSchema {
	out := make(map[string]jsonSchema, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// extrasText names the extra members of a refusal for the docs page.
func extrasText(rf refusal) string {
	var names []string
	for name := range errorExtras[rf.code] {
		names = append(names, name)
	}
	if rf.status >= 500 {
		names = append(names, "trace_id")
	}
	sort.Strings(names)
	return strings.Join(names, "、")
}

// fieldRows flattens a schema into the rows of a field table: a member of
// an object is name, of an array's objects name[].member.
func fieldRows(prefix string, s jsonSchema, required []string) []apiFieldView {
	props, _ := s["properties"].(map[string]any)
	if props == nil {
		if prefix == "" && s["type"] != nil {
			return []apiFieldView{{Name: "（请求体）", Type: typeText(s), Description: desc(s), Required: true}}
		}
		return nil
	}
	req, _ := s["required"].([]string)
	names := make([]string, 0, len(props))
	for k := range props {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := slices.Contains(req, names[i]), slices.Contains(req, names[j])
		if ri != rj {
			return ri
		}
		return names[i] < names[j]
	})
	var rows []apiFieldView
	for _, name := range names {
		ps := props[name].(jsonSchema)
		full := prefix + name
		rows = append(rows, apiFieldView{Name: full, Type: typeText(ps), Description: desc(ps), Required: slices.Contains(req, name)})
		if _, ok := ps["properties"]; ok {
			rows = append(rows, fieldRows(full+".", ps, nil)...)
		}
		if items, ok := ps["items"].(jsonSchema); ok {
			if _, ok := items["properties"]; ok {
				rows = append(rows, fieldRows(full+"[].", items, nil)...)
			}
		}
	}
	return rows
}

func desc(s jsonSchema) string { d, _ := s["description"].(string); return d }

// typeText is a schema's type as the docs page shows it.
func typeText(s jsonSchema) string {
	var t string
	switch v := s["type"].(type) {
	case string:
		t = v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		t = strings.Join(parts, " | ")
	}
	if items, ok := s["items"].(jsonSchema); ok {
		t = "array of " + typeText(items)
	}
	if f, ok := s["format"].(string); ok {
		t += " (" + f + ")"
	}
	if e, ok := s["enum"].([]any); ok {
		vals := make([]string, len(e))
		for i, v := range e {
			vals[i] = fmt.Sprint(v)
		}
		t += "：" + strings.Join(vals, " / ")
	}
	return t
}

// openAPIJSON serves the document (GET /api/v1/openapi.json).
func (s *Server) openAPIJSON(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(s.apiDoc.json)
}

// apiDocsPage renders the document for people (GET /api/docs): plain HTML
// from the server, nothing loaded from elsewhere.
func (s *Server) apiDocsPage(c *fiber.Ctx) error {
	return render(c, fiber.StatusOK, "public/api_docs", layoutPublic, Page{Title: "接口说明", Data: s.apiDoc.view})
}
