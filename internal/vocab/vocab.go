// Package vocab is the product's one vocabulary: every domain word that is
// stored or sent as a code (event type, outcome, verdict, risk flag, role,
// certificate type, evidence kind, audit action, actor kind, …) is a typed
// constant here, with the Chinese label people read. Each label is written
// once, in this package, so that the case page, the audit log, the
// applicant's status page and the scripts (which read the labels from data-
// attributes the server renders) cannot drift apart; a test fails on a
// constant without a label.
//
// It is a leaf: it imports only internal/recovery/state (itself a leaf), whose
// statuses it labels, so that every package — the ent hooks included — may
// import it.
package vocab

import (
	"fmt"

	"recoverydesk/internal/recovery/state"
)

// word is what every vocabulary type is: a string code.
type word interface{ ~string }

// entry is one code with its label.
type entry[T word] struct {
	code  T
	label string
}

// table is a vocabulary: its codes in order, each with its label, so that a
// code is written once beside its label (a test checks that every constant
// of this package is in its table).
type table[T word] []entry[T]

// find returns the label of v and whether v has one.
func (t table[T]) find(v T) (string, bool) {
	for _, e := range t {
		if e.code == v {
			return e.label, true
		}
	}
	return "", false
}

// label is the label of v, or v itself when it has none: a code the
// product does not know (an old row, a newer release) still shows.
func (t table[T]) label(v T) string {
	if l, ok := t.find(v); ok {
		return l
	}
	return string(v)
}

// codes lists the table's codes in order.
func (t table[T]) codes() []T {
	out := make([]T, len(t))
	for i, e := range t {
		out[i] = e.code
	}
	return out
}

// StatusLabel is the Chinese name of a case status as applicants and staff
// see it.
func StatusLabel(s state.Status) string { return statusLabels.label(s) }

var statusLabels = table[state.Status]{
	{state.Draft, "草稿"},
	{state.Submitted, "待审核"},
	{state.InReview, "审核中"},
	{state.AwaitingSecond, "待主管复核"},
	{state.Returned, "已退回补正"},
	{state.Approved, "已通过"},
	{state.Rejected, "未通过"},
	{state.Expired, "已过期"},
}

// CaseKind is whose account a case or an account is: a person's or a unit's.
type CaseKind string

// The account kinds.
const (
	KindPerson CaseKind = "person"
	KindUnit   CaseKind = "unit"
)

// CaseKinds lists the account kinds, in the order the queue filter offers them.
var CaseKinds = caseKindLabels.codes()

var caseKindLabels = table[CaseKind]{{KindUnit, "单位"}, {KindPerson, "个人"}}

// Label is the kind's Chinese name: 个人 or 单位.
func (k CaseKind) Label() string { return caseKindLabels.label(k) }

// Outcome is a reviewer's decision on a case.
type Outcome string

// The outcomes of a decision (CONTRACT §5: the decision form's outcome field).
const (
	OutcomeApprove Outcome = "approve"
	OutcomeReject  Outcome = "reject"
	OutcomeReturn  Outcome = "return" // 补正
)

// Outcomes lists the outcomes in the order the decision form offers them.
var Outcomes = outcomeLabels.codes()

var outcomeLabels = table[Outcome]{{OutcomeApprove, "通过"}, {OutcomeReject, "不通过"}, {OutcomeReturn, "退回补正"}}

// Label is the outcome's Chinese name.
func (o Outcome) Label() string { return outcomeLabels.label(o) }

// SecondVerdict is a supervisor's answer to a flagged approval (四眼复核).
type SecondVerdict string

// The second-approval verdicts.
const (
	SecondApprove SecondVerdict = "approve" // co-sign: the password is issued
	SecondDecline SecondVerdict = "decline" // back to the queue for a new review
)

// SecondVerdicts lists the second-approval verdicts.
var SecondVerdicts = secondVerdictLabels.codes()

var secondVerdictLabels = table[SecondVerdict]{{SecondApprove, "复核通过，发放新密码"}, {SecondDecline, "退回重审"}}

// Label is the verdict's Chinese name.
func (v SecondVerdict) Label() string { return secondVerdictLabels.label(v) }

// Verdict is a supervisor's quality review (质检) of a decision.
type Verdict string

// The QA verdicts.
const (
	VerdictAgree    Verdict = "agree"
	VerdictDisagree Verdict = "disagree"
)

// Verdicts lists the QA verdicts.
var Verdicts = verdictLabels.codes()

var verdictLabels = table[Verdict]{{VerdictAgree, "同意"}, {VerdictDisagree, "不同意"}}

// Label is the verdict's Chinese name.
func (v Verdict) Label() string { return verdictLabels.label(v) }

// QAAction is what a disagreeing QA review did to the case.
type QAAction string

// The QA actions.
const (
	QANone           QAAction = "none"
	QACancelPassword QAAction = "cancel_password"
	QAReopen         QAAction = "reopen"
)

// QAActions lists the QA actions.
var QAActions = qaActionLabels.codes()

var qaActionLabels = table[QAAction]{{QANone, "无"}, {QACancelPassword, "撤销新密码并重新审核"}, {QAReopen, "重新审核"}}

// Label is the action's Chinese name.
func (a QAAction) Label() string { return qaActionLabels.label(a) }

// QAWhy is why a decision is in the QA list.
type QAWhy string

// Why a decision is up for QA.
const (
	QASampled QAWhy = "sampled"
	QAFlagged QAWhy = "flagged"
)

// QAWhys lists the reasons a decision is up for QA.
var QAWhys = qaWhyLabels.codes()

var qaWhyLabels = table[QAWhy]{{QASampled, "随机抽样"}, {QAFlagged, "风险提示"}}

// Label is the reason's Chinese name.
func (w QAWhy) Label() string { return qaWhyLabels.label(w) }

// Flag is a risk flag: any of them holds a reviewer's approval for a
// supervisor's second approval (四眼复核). The thresholds the labels name
// are internal/recovery's (a test there checks the labels say them).
type Flag string

// The risk flags.
const (
	FlagDuplicateEvidence Flag = "duplicate_evidence"
	FlagLowSimilarity     Flag = "low_similarity"
	FlagRecentlyLocked    Flag = "recently_locked"
	FlagRecentlyRejected  Flag = "recently_rejected"
)

// Flags lists the risk flags.
var Flags = flagLabels.codes()

var flagLabels = table[Flag]{
	{FlagDuplicateEvidence, "证件材料与其他账号的申请相同或相似"},
	{FlagLowSimilarity, "填写的用户名或单位名称/姓名与注册信息相似度低于50%"},
	{FlagRecentlyLocked, "该账号近7天内曾因密码连续错误被锁定"},
	{FlagRecentlyRejected, "该账号近30天内有未通过的密码找回申请"},
}

// Label explains the flag in Chinese.
func (f Flag) Label() string { return flagLabels.label(f) }

// Role is a staff role (CONTRACT §1: staff add --role).
type Role string

// The staff roles.
const (
	RoleReviewer   Role = "reviewer"
	RoleSupervisor Role = "supervisor"
	RoleAdmin      Role = "admin"
)

// Roles lists the staff roles.
var Roles = roleLabels.codes()

var roleLabels = table[Role]{{RoleReviewer, "审核员"}, {RoleSupervisor, "审核主管"}, {RoleAdmin, "系统管理员"}}

// Label is the role's Chinese name.
func (r Role) Label() string { return roleLabels.label(r) }

// CertType is the type of a certificate number (CONTRACT §3).
type CertType string

// The certificate types.
const (
	CertUSCC    CertType = "uscc"     // 统一社会信用代码 (GB 32100-2015), units
	CertOrgCode CertType = "org_code" // 组织机构代码 (GB 11714), units
	CertIDCard  CertType = "id_card"  // 居民身份证号码 (GB 11643), persons
)

// CertTypes lists the certificate types.
var CertTypes = certTypeLabels.codes()

// UnitCertTypes are the certificate types a unit registers with, in the
// order the forms offer them.
var UnitCertTypes = []CertType{CertUSCC, CertOrgCode}

var certTypeLabels = table[CertType]{{CertUSCC, "统一社会信用代码"}, {CertOrgCode, "组织机构代码"}, {CertIDCard, "居民身份证"}}

// Valid reports whether t is one of the known certificate types, so a handler
// can refuse an unknown `cert_type` before looking at the number.
func (t CertType) Valid() bool {
	_, ok := certTypeLabels.find(t)
	return ok
}

// Label is the Chinese name of the certificate type as forms show it
// ("统一社会信用代码"); empty for an unknown type.
func (t CertType) Label() string {
	l, _ := certTypeLabels.find(t)
	return l
}

// EvidenceKind is a kind of evidence image (CONTRACT §4).
type EvidenceKind string

// The evidence kinds.
const (
	EvidenceIDFront       EvidenceKind = "id_front"
	EvidenceIDHandheld    EvidenceKind = "id_handheld"
	EvidenceUnitLicense   EvidenceKind = "unit_license"
	EvidenceAuthorization EvidenceKind = "authorization_letter"
)

// EvidenceKinds lists the evidence kinds in the order a unit uploads them.
var EvidenceKinds = evidenceLabels.codes()

var evidenceLabels = table[EvidenceKind]{
	{EvidenceIDFront, "个人身份证正面照"},
	{EvidenceIDHandheld, "手持个人身份证正面照"},
	{EvidenceUnitLicense, "加盖单位公章的单位证件照"},
	{EvidenceAuthorization, "单位授权函"},
}

// Label is the Chinese name of the evidence kind, as on the live page.
func (k EvidenceKind) Label() string { return evidenceLabels.label(k) }

// ActorKind is who did something, as the audit log records it.
type ActorKind string

// The actor kinds.
const (
	ActorStaff     ActorKind = "staff"
	ActorAccount   ActorKind = "account"
	ActorApplicant ActorKind = "applicant"
	ActorSystem    ActorKind = "system"
)

// ActorKinds lists the actor kinds.
var ActorKinds = actorKindLabels.codes()

var actorKindLabels = table[ActorKind]{
	{ActorStaff, "工作人员"}, {ActorAccount, "账号用户"}, {ActorApplicant, "申请人"}, {ActorSystem, "系统"},
}

// Label is the actor kind's Chinese name.
func (k ActorKind) Label() string { return actorKindLabels.label(k) }

// SystemActor names the part of the product that acted for an entry whose
// actor kind is system.
type SystemActor string

// The system actors.
const (
	SystemJobs SystemActor = "system" // the background jobs and the workflow's timers
	SystemSeed SystemActor = "seed"   // recoverydesk seed --demo
	SystemCLI  SystemActor = "cli"    // recoverydesk staff add
)

var systemActorLabels = table[SystemActor]{{SystemJobs, "后台任务"}, {SystemSeed, "演示数据生成"}, {SystemCLI, "命令行"}}

// Label is the system actor's Chinese name.
func (a SystemActor) Label() string { return systemActorLabels.label(a) }

// ObjectType is what an audit entry is about.
type ObjectType string

// The audited object types.
const (
	ObjectCase    ObjectType = "case"
	ObjectAccount ObjectType = "account"
	ObjectPhone   ObjectType = "phone"
	ObjectStaff   ObjectType = "staff"
	ObjectAudit   ObjectType = "audit"
	ObjectReason  ObjectType = "reason"
)

// ObjectTypes lists the audited object types.
var ObjectTypes = objectTypeLabels.codes()

var objectTypeLabels = table[ObjectType]{
	{ObjectCase, "案件"}, {ObjectAccount, "账号"}, {ObjectPhone, "手机号码"}, {ObjectStaff, "工作人员"},
	{ObjectAudit, "审计日志"}, {ObjectReason, "原因代码"},
}

// Label is the object type's Chinese name.
func (t ObjectType) Label() string { return objectTypeLabels.label(t) }

// Purpose is what an SMS is for. Each purpose is one text with named
// parameters (internal/sms renders it) and one template approved at a
// carrier (RD_SMS_TEMPLATE_<PURPOSE>), so the list is exactly the messages
// the product sends.
type Purpose string

// The SMS purposes.
const (
	PurposeRegisterCode Purpose = "register_code" // person registration's code
	PurposeRecoveryCode Purpose = "recovery_code" // a password recovery's code
	PurposeStatusCode   Purpose = "status_code"   // the code that opens a case's status in another browser
	PurposeUsername     Purpose = "username"      // 账号找回: the username
	PurposeSubmitted    Purpose = "submitted"     // a submission's case number and due date
	PurposePassword     Purpose = "password"      // the new password after approval
	PurposeRejected     Purpose = "rejected"      // a rejection
	PurposeReturned     Purpose = "returned"      // a return for 补正
	// PurposePasswordCancelled withdraws a password sent before a QA reopening.
	PurposePasswordCancelled Purpose = "password_cancelled"
	PurposeReopened          Purpose = "reopened" // a decided case goes back to review
	// PurposeCaseNumber answers 忘记申请编号: the latest case's number, sent
	// to the phone on record of the account step 1 identifies.
	PurposeCaseNumber Purpose = "case_number"
)

// Purposes lists the SMS purposes.
var Purposes = purposeLabels.codes()

var purposeLabels = table[Purpose]{
	{PurposeRegisterCode, "注册验证码"}, {PurposeRecoveryCode, "密码找回验证码"}, {PurposeStatusCode, "进度查询验证码"},
	{PurposeUsername, "用户名短信"}, {PurposeSubmitted, "申请提交短信"}, {PurposePassword, "新密码短信"},
	{PurposeRejected, "审核未通过短信"}, {PurposeReturned, "补正通知短信"}, {PurposePasswordCancelled, "新密码作废短信"},
	{PurposeReopened, "重新审核短信"}, {PurposeCaseNumber, "申请编号短信"},
}

// legacyPurposeLabels name the purposes of rows queued before each message
// had a purpose of its own ("code" was every code, "decision" every
// decision), so old case histories and audit entries still read.
var legacyPurposeLabels = map[Purpose]string{"code": "验证码短信", "decision": "审核结果短信", "register": "注册验证码"}

// Label is the purpose's Chinese name.
func (p Purpose) Label() string {
	if l, ok := legacyPurposeLabels[p]; ok {
		return l
	}
	return purposeLabels.label(p)
}

// SMSStatus is where a message is in its delivery (sms_messages.status).
type SMSStatus string

// The delivery states of a message.
const (
	SMSQueued SMSStatus = "queued" // waiting for its first or next try
	SMSSent   SMSStatus = "sent"   // accepted by the gateway
	SMSFailed SMSStatus = "failed" // refused, or not accepted within the retry window
)

// SMSStatuses lists the delivery states.
var SMSStatuses = smsStatusLabels.codes()

var smsStatusLabels = table[SMSStatus]{{SMSQueued, "等待发送"}, {SMSSent, "已发送"}, {SMSFailed, "发送失败"}}

// Label is the delivery state's Chinese name.
func (s SMSStatus) Label() string { return smsStatusLabels.label(s) }

// CloseReason is why a case was closed without a decision, or why an
// attempt failed: the "reason" of an expiry or a refused sign-in.
type CloseReason string

// The closing and failure reasons.
const (
	ReasonDraftTTL        CloseReason = "draft_ttl"
	ReasonReturnTTL       CloseReason = "return_ttl"
	ReasonReplaced        CloseReason = "replaced"
	ReasonUnknownUsername CloseReason = "unknown_username"
	ReasonWrongPassword   CloseReason = "wrong_password"
	ReasonDisabled        CloseReason = "disabled"
	ReasonWrongOTP        CloseReason = "wrong_otp"
	ReasonOTPReused       CloseReason = "otp_reused"
	ReasonWrongCurrent    CloseReason = "wrong_current_password"
)

// CloseReasons lists the closing and failure reasons.
var CloseReasons = closeReasonLabels.codes()

var closeReasonLabels = table[CloseReason]{
	{ReasonDraftTTL, "草稿超时未提交"}, {ReasonReturnTTL, "退回后超时未补正"}, {ReasonReplaced, "已被新的申请取代"},
	{ReasonUnknownUsername, "用户名不存在"}, {ReasonWrongPassword, "密码错误"}, {ReasonDisabled, "账号已停用"},
	{ReasonWrongOTP, "动态口令错误"}, {ReasonOTPReused, "动态口令已使用过"}, {ReasonWrongCurrent, "当前密码错误"},
}

// Label is the reason's Chinese name.
func (r CloseReason) Label() string { return closeReasonLabels.label(r) }

// Label is the template function `label`: {{label "event" .Type}} is the
// Chinese label of the code in the named vocabulary. An unknown vocabulary
// is an error, so a typo in a template fails its render (and the test that
// renders it) instead of showing a code.
func Label(vocabulary string, v any) (string, error) {
	s, ok := v.(string)
	if !ok && v != nil {
		s = fmt.Sprint(v) // typed codes, ent's enums (Stringers, pointers too)
	}
	voc, ok := vocabularies[vocabulary]
	if !ok {
		return "", fmt.Errorf("label: no vocabulary %q", vocabulary)
	}
	return voc.label(s), nil
}

// Codes lists the codes of a vocabulary in its order, for a template that
// offers them ({{range codes "sla"}}) or a script's table (Table).
func Codes(vocabulary string) ([]string, error) {
	voc, ok := vocabularies[vocabulary]
	if !ok || voc.list == nil {
		return nil, fmt.Errorf("codes: no list of %q", vocabulary)
	}
	return voc.list(), nil
}

func codesOf[T word](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// Table is a whole vocabulary, code → label, for a script that labels codes
// it receives (rendered into a data- attribute).
func Table(vocabulary string) (map[string]string, error) {
	codes, err := Codes(vocabulary)
	if err != nil {
		return nil, err
	}
	label := vocabularies[vocabulary].label
	out := make(map[string]string, len(codes))
	for _, k := range codes {
		out[k] = label(k)
	}
	return out, nil
}

// vocabulary is one vocabulary as templates and scripts name it: how a
// code of it is labelled and, for one a page offers as a list, its codes
// in order.
type vocabulary struct {
	label func(string) string
	list  func() []string // nil: not offered as a list
}

// named is the vocabulary of the type T: label is its Label method, list
// its codes when a page offers them (nil otherwise).
func named[T word](label func(T) string, list []T) vocabulary {
	v := vocabulary{label: func(s string) string { return label(T(s)) }}
	if list != nil {
		v.list = func() []string { return codesOf(list) }
	}
	return v
}

// vocabularies are the vocabularies the template functions and Table read,
// by name: one line each, so a name offers its labels and its list alike.
var vocabularies = map[string]vocabulary{
	"status":         named(StatusLabel, state.All),
	"kind":           named(CaseKind.Label, CaseKinds),
	"event":          named(EventType.Label, nil),
	"outcome":        named(Outcome.Label, Outcomes),
	"second_verdict": named(SecondVerdict.Label, nil),
	"verdict":        named(Verdict.Label, nil),
	"qa_action":      named(QAAction.Label, nil),
	"qa_why":         named(QAWhy.Label, nil),
	"flag":           named(Flag.Label, Flags),
	"role":           named(Role.Label, Roles),
	"cert":           named(CertType.Label, nil),
	"unit_cert":      named(CertType.Label, UnitCertTypes), // the unit forms' choice of certificate
	"evidence":       named(EvidenceKind.Label, EvidenceKinds),
	"action":         named(Action.Label, nil),
	"actor_kind":     named(ActorKind.Label, nil),
	"object":         named(ObjectType.Label, nil),
	"purpose":        named(Purpose.Label, nil),
	"sms_status":     named(SMSStatus.Label, nil),
	"close_reason":   named(CloseReason.Label, nil),
	"sla":            named(SLA.Label, SLAs),
	"detail":         named(DetailKey.Label, nil),
	"system_actor":   named(SystemActor.Label, nil),
	"duty":           named(Duty.Label, nil),
	"link":           named(Link.Label, nil),
	"bulk_action":    named(BulkAction.Label, BulkActions),
}
