package vocab

// Action is what an audit entry records.
type Action string

// The audit actions outside the case workflow; a case event's action is
// EventType.Action ("recovery." + the event type).
const (
	ActionAccountRegistered      Action = "account.registered"
	ActionAccountLocked          Action = "account.locked"
	ActionPasswordChanged        Action = "password.changed"
	ActionPasswordActivated      Action = "password.activated"
	ActionPasswordPendingCancel  Action = "password.pending_cancelled"
	ActionUsernameSent           Action = "username.sent"
	ActionCaseNumberSent         Action = "case_number.sent" // 忘记申请编号
	ActionSMSCodeSent            Action = "sms_code.sent"
	ActionEvidenceViewed         Action = "evidence.viewed"
	ActionEvidenceDestroyed      Action = "evidence.destroyed" // one per image the retention purge destroyed
	ActionCaseNote               Action = "case.note"
	ActionStaffCreated           Action = "staff.created"
	ActionStaffLoginSuccess      Action = "staff.login.success"
	ActionStaffLoginFailure      Action = "staff.login.failure"
	ActionStaffLoginLocked       Action = "staff.login.refused_locked"
	ActionStaffLoginDisabled     Action = "staff.login.refused_disabled"
	ActionStaffLocked            Action = "staff.locked"
	ActionStaffTOTPEnrolled      Action = "staff.totp_enrolled"
	ActionStaffDisabled          Action = "staff.disabled"
	ActionStaffEnabled           Action = "staff.enabled"
	ActionStaffPasswordReset     Action = "staff.password_reset"
	ActionStaffTOTPRequired      Action = "staff.totp_required"
	ActionStaffRoleGranted       Action = "staff.role_granted"
	ActionStaffRoleRevoked       Action = "staff.role_revoked"
	ActionStaffRoleRequested     Action = "staff.role_requested"
	ActionStaffRoleConfirmed     Action = "staff.role_confirmed"
	ActionStaffRoleWithdrawn     Action = "staff.role_request_withdrawn"
	ActionStaffPasswordChanged   Action = "staff.password_changed"
	ActionAuditExported          Action = "audit.exported"
	ActionAuditExportInterrupted Action = "audit.export_interrupted"
	ActionReasonAdded            Action = "reason.added"
	ActionReasonEdited           Action = "reason.edited"
	ActionReasonMoved            Action = "reason.moved"
	ActionReasonRetired          Action = "reason.retired"
	ActionReasonRestored         Action = "reason.restored"
)

// The audit actions of auto-assignment: a reviewer's own 暂停接单 toggle,
// and a supervisor's cap on what auto-assignment gives a reviewer.
const (
	ActionStaffPaused  Action = "staff.paused"
	ActionStaffResumed Action = "staff.resumed"
	ActionStaffCapSet  Action = "staff.assign_cap_set"
)

// AttemptPurpose is what a password check was for; an account's attempt is
// audited as <purpose>.<result>.
type AttemptPurpose string

// The purposes of a password check.
const (
	AttemptLogin          AttemptPurpose = "login"
	AttemptOperator       AttemptPurpose = "operator"
	AttemptPasswordChange AttemptPurpose = "password_change"
)

// AttemptPurposes lists the purposes of a password check.
var AttemptPurposes = []AttemptPurpose{AttemptLogin, AttemptOperator, AttemptPasswordChange}

// The results of a password check.
const (
	AttemptSuccess         = "success"
	AttemptFailure         = "failure"
	AttemptRefusedLocked   = "refused_locked"
	AttemptPendingNotReady = "pending_not_effective"
	// AttemptWrongTab is the right password of an account of the other
	// kind, on the login form's other tab: no login, and no failure either.
	AttemptWrongTab = "wrong_tab"
)

// Attempt is the audit action of a password check for purpose with result.
func Attempt(purpose AttemptPurpose, result string) Action {
	return Action(string(purpose) + "." + result)
}

// actionLabels are the Chinese names of the actions the product records.
var actionLabels = table[Action]{
	{ActionAccountRegistered, "注册账号"},
	{ActionAccountLocked, "账号锁定"},
	{Attempt(AttemptLogin, AttemptSuccess), "账号登录成功"},
	{Attempt(AttemptLogin, AttemptFailure), "账号登录失败"},
	{Attempt(AttemptLogin, AttemptRefusedLocked), "锁定期间尝试登录"},
	{Attempt(AttemptLogin, AttemptPendingNotReady), "使用未生效的新密码登录"},
	{Attempt(AttemptLogin, AttemptWrongTab), "在另一登录类型下登录"},
	{Attempt(AttemptOperator, AttemptSuccess), "经办人身份验证成功"},
	{Attempt(AttemptOperator, AttemptFailure), "经办人身份验证失败"},
	{Attempt(AttemptOperator, AttemptRefusedLocked), "经办人账号锁定期间验证"},
	{Attempt(AttemptOperator, AttemptPendingNotReady), "经办人使用未生效的新密码"},
	{Attempt(AttemptPasswordChange, AttemptSuccess), "修改密码时验证成功"},
	{Attempt(AttemptPasswordChange, AttemptFailure), "修改密码时验证失败"},
	{Attempt(AttemptPasswordChange, AttemptRefusedLocked), "锁定期间尝试修改密码"},
	{Attempt(AttemptPasswordChange, AttemptPendingNotReady), "修改密码时使用未生效的新密码"},
	{ActionPasswordChanged, "修改密码"},
	{ActionPasswordActivated, "新密码生效"},
	{ActionPasswordPendingCancel, "新密码作废"},
	{ActionUsernameSent, "短信发送用户名"},
	{ActionCaseNumberSent, "短信发送申请编号"},
	{ActionSMSCodeSent, "发送短信验证码"},
	{EventCreated.Action(), "发起密码找回"},
	{EventPhoneVerified.Action(), "验证预留手机"},
	{EventEvidenceUploaded.Action(), "上传证件照"},
	{EventSubmitted.Action(), "提交审核"},
	{EventStatusUnlocked.Action(), "查询审核进度"},
	{EventClaimed.Action(), "认领案件"},
	{EventClaimExpired.Action(), "认领超时释放"},
	{EventDecided.Action(), "作出审核决定"},
	{EventPasswordSMSSent.Action(), "发送新密码短信"},
	{EventReassigned.Action(), "改派案件"},
	{EventExpired.Action(), "草稿过期"},
	{EventFirstApproved.Action(), "初审通过，待主管复核"},
	{EventSecondApproved.Action(), "主管复核通过"},
	{EventSecondDeclined.Action(), "主管复核退回队列"},
	{EventQAReviewed.Action(), "质检"},
	{EventReopened.Action(), "案件重新审核"},
	{EventPasswordCancelled.Action(), "撤销未生效的新密码"},
	{EventSMSFailed.Action(), "短信发送失败"},
	{EventSMSResent.Action(), "重发失败的短信"},
	{EventHoldPlaced.Action(), "案件保全"},
	{EventHoldLifted.Action(), "解除案件保全"},
	{EventEvidenceDestroyed.Action(), "证件材料按保存期限销毁"},
	{EventAssigned.Action(), "自动分配案件"},
	{EventSLAMarked.Action(), "案件时限预警变化"},
	{EventReleased.Action(), "主管放回待审核"},
	{ActionEvidenceViewed, "查看证件照"},
	{ActionEvidenceDestroyed, "按保存期限销毁证件照"},
	{ActionCaseNote, "添加案件备注"},
	{ActionStaffCreated, "创建工作人员"},
	{ActionStaffLoginSuccess, "工作人员登录成功"},
	{ActionStaffLoginFailure, "工作人员登录失败"},
	{ActionStaffLoginLocked, "工作人员锁定期间登录"},
	{ActionStaffLoginDisabled, "停用的工作人员尝试登录"},
	{ActionStaffLocked, "工作人员账号锁定"},
	{ActionStaffTOTPEnrolled, "绑定动态口令"},
	{ActionStaffDisabled, "停用工作人员"},
	{ActionStaffEnabled, "启用工作人员"},
	{ActionStaffPasswordReset, "重置工作人员密码"},
	{ActionStaffTOTPRequired, "要求绑定动态口令"},
	{ActionStaffRoleGranted, "授予角色"},
	{ActionStaffRoleRevoked, "撤销角色"},
	{ActionStaffRoleRequested, "申请授予角色（待另一管理员确认）"},
	{ActionStaffRoleConfirmed, "确认授予角色"},
	{ActionStaffRoleWithdrawn, "撤回授予角色申请"},
	{ActionStaffPasswordChanged, "工作人员设置本人密码"},
	{ActionStaffPaused, "暂停接单"},
	{ActionStaffResumed, "恢复接单"},
	{ActionStaffCapSet, "设置接单上限"},
	{ActionAuditExported, "导出审计日志"},
	{ActionAuditExportInterrupted, "审计日志导出中断"},
	{ActionReasonAdded, "新增原因代码"},
	{ActionReasonEdited, "修改原因说明"},
	{ActionReasonMoved, "调整原因顺序"},
	{ActionReasonRetired, "停用原因代码"},
	{ActionReasonRestored, "恢复原因代码"},
}

// Actions lists every labelled action.
func Actions() []Action { return actionLabels.codes() }

// Label is the Chinese name of an action, or the action itself when it has
// none (an entry of a newer release still shows).
func (a Action) Label() string { return actionLabels.label(a) }

// DetailKey is a key of an audit entry's detail (for a case event: of its
// "after" map).
type DetailKey string

// The detail keys.
const (
	DetailStatus        DetailKey = "status"
	DetailOutcome       DetailKey = "outcome"
	DetailReasons       DetailKey = "reasons"
	DetailReturnKinds   DetailKey = "return_kinds"
	DetailClaimedBy     DetailKey = "claimed_by"
	DetailCaseNumber    DetailKey = "case_number"
	DetailDueBy         DetailKey = "due_by"
	DetailKind          DetailKey = "kind"
	DetailPhone         DetailKey = "phone"
	DetailEffectiveAt   DetailKey = "effective_at"
	DetailRiskFlags     DetailKey = "risk_flags"
	DetailVerdict       DetailKey = "verdict"
	DetailAction        DetailKey = "action"
	DetailReason        DetailKey = "reason"
	DetailCancelled     DetailKey = "cancelled"
	DetailSize          DetailKey = "size"
	DetailVersion       DetailKey = "version"
	DetailQAReview      DetailKey = "qa_review"
	DetailReopened      DetailKey = "reopened"
	DetailRole          DetailKey = "role"
	DetailRegion        DetailKey = "region"
	DetailIDNumber      DetailKey = "id_number"
	DetailCertType      DetailKey = "cert_type"
	DetailCertNumber    DetailKey = "cert_number"
	DetailFailures      DetailKey = "failures"
	DetailUntil         DetailKey = "until"
	DetailPurpose       DetailKey = "purpose"
	DetailSessionsEnded DetailKey = "sessions_ended"
	DetailText          DetailKey = "text"
	DetailPosition      DetailKey = "position"
	DetailBefore        DetailKey = "before"
	DetailAfter         DetailKey = "after"
	DetailFrom          DetailKey = "from"
	DetailTo            DetailKey = "to"
	DetailStaff         DetailKey = "staff"
	DetailCase          DetailKey = "case"
	DetailRows          DetailKey = "rows"
	DetailUpto          DetailKey = "upto"
	DetailWritten       DetailKey = "written"
	DetailMessageID     DetailKey = "message_id"
	DetailRequestedBy   DetailKey = "requested_by"
	DetailWasTemporary  DetailKey = "was_temporary"
	DetailSHA256        DetailKey = "sha256"
	DetailFinalAt       DetailKey = "final_at"
	DetailRetention     DetailKey = "retention"
	DetailKinds         DetailKey = "kinds"
	DetailHeld          DetailKey = "held"
	DetailSLA           DetailKey = "sla"
	DetailCap           DetailKey = "cap"
)

// DetailKeys lists the detail keys.
var DetailKeys = detailLabels.codes()

var detailLabels = table[DetailKey]{
	{DetailStatus, "状态"}, {DetailOutcome, "结果"}, {DetailReasons, "原因"}, {DetailReturnKinds, "补正材料"},
	{DetailClaimedBy, "认领人"}, {DetailCaseNumber, "案件编号"}, {DetailDueBy, "截止日期"}, {DetailKind, "材料"},
	{DetailPhone, "手机号"}, {DetailEffectiveAt, "新密码生效时间"}, {DetailRiskFlags, "风险提示"},
	{DetailVerdict, "质检结论"}, {DetailAction, "处理"}, {DetailReason, "原因"}, {DetailCancelled, "已撤销"},
	{DetailSize, "文件大小"}, {DetailVersion, "版本"}, {DetailQAReview, "质检记录"}, {DetailReopened, "重新审核"},
	{DetailRole, "角色"}, {DetailRegion, "地区"}, {DetailIDNumber, "身份证号码"}, {DetailCertType, "证件类型"},
	{DetailCertNumber, "证件号码"}, {DetailFailures, "连续失败次数"}, {DetailUntil, "锁定至"}, {DetailPurpose, "用途"},
	{DetailSessionsEnded, "结束的登录会话"}, {DetailText, "说明"}, {DetailPosition, "位置"}, {DetailBefore, "修改前"},
	{DetailAfter, "修改后"}, {DetailFrom, "开始日期"}, {DetailTo, "结束日期"}, {DetailStaff, "工作人员"},
	{DetailCase, "案件"}, {DetailRows, "条数"}, {DetailUpto, "截至"}, {DetailWritten, "已写出"},
	{DetailMessageID, "短信编号"}, {DetailRequestedBy, "申请人"}, {DetailWasTemporary, "替换管理员发放的临时密码"},
	{DetailSHA256, "SHA-256 摘要"}, {DetailFinalAt, "最终决定时间"}, {DetailRetention, "保存期限"},
	{DetailKinds, "材料"}, {DetailHeld, "保全"},
	{DetailSLA, "时限预警"}, {DetailCap, "接单上限"},
}

// detailLabelsByAction name a key whose meaning depends on the action.
var detailLabelsByAction = map[Action]map[DetailKey]string{
	EventCreated.Action():   {DetailKind: "申请类型"},
	ActionAccountRegistered: {DetailKind: "账号类型"},
	ActionReasonMoved:       {DetailFrom: "原位置", DetailTo: "新位置"},
	ActionAuditExported:     {DetailAction: "操作", DetailStaff: "工作人员", DetailCase: "案件"},
	ActionStaffLocked:       {DetailUntil: "锁定至"},
}

// DetailLabel is the Chinese name of key in an entry of action.
func DetailLabel(a Action, key DetailKey) string {
	if l, ok := detailLabelsByAction[a][key]; ok {
		return l
	}
	return detailLabels.label(key)
}

// Label is the key's Chinese name whatever the action.
func (k DetailKey) Label() string { return detailLabels.label(k) }
