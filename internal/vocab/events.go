package vocab

// EventType is the type of a case event, the case's history.
type EventType string

// The case event types. A recovery.<type> audit action is recorded with each
// (except note, audited as case.note).
const (
	EventCreated           EventType = "created"
	EventPhoneVerified     EventType = "phone_verified"
	EventEvidenceUploaded  EventType = "evidence_uploaded"
	EventSubmitted         EventType = "submitted"
	EventStatusUnlocked    EventType = "status_unlocked"
	EventClaimed           EventType = "claimed"
	EventClaimExpired      EventType = "claim_expired"
	EventDecided           EventType = "decided"
	EventPasswordSMSSent   EventType = "password_sms_sent"
	EventReassigned        EventType = "reassigned"
	EventExpired           EventType = "expired"
	EventNote              EventType = "note"
	EventFirstApproved     EventType = "first_approved"
	EventSecondApproved    EventType = "second_approved"
	EventSecondDeclined    EventType = "second_declined"
	EventQAReviewed        EventType = "qa_reviewed"
	EventReopened          EventType = "reopened"
	EventPasswordCancelled EventType = "password_cancelled"
	EventSMSFailed         EventType = "sms_failed"
	EventSMSResent         EventType = "sms_resent"
	// A supervisor's legal hold (保全) keeps the case's evidence from the
	// retention purge until lifted.
	EventHoldPlaced EventType = "hold_placed"
	EventHoldLifted EventType = "hold_lifted"
	// EventEvidenceDestroyed: the retention purge destroyed the case's
	// images (each image is audited as ActionEvidenceDestroyed).
	EventEvidenceDestroyed EventType = "evidence_destroyed"
	// EventAssigned: auto-assignment (RD_ASSIGNMENT=auto) gave the case to
	// the least-loaded on-duty reviewer of its region, as a claim.
	EventAssigned EventType = "assigned"
	// EventSLAMarked: the escalation job changed the case's SLA mark
	// (临近超期, 已超期, or cleared).
	EventSLAMarked EventType = "sla_marked"
	// EventReleased: a supervisor put a claimed case back in 待审核.
	EventReleased EventType = "released"
)

// EventTypes lists the case event types.
var EventTypes = eventLabels.codes()

// eventLabels are the labels staff read in a case's history.
var eventLabels = table[EventType]{
	{EventCreated, "创建申请"},
	{EventPhoneVerified, "手机验证通过"},
	{EventEvidenceUploaded, "上传材料"},
	{EventSubmitted, "提交申请"},
	{EventStatusUnlocked, "申请人查询进度"},
	{EventClaimed, "认领"},
	{EventClaimExpired, "认领超时释放"},
	{EventDecided, "作出审核决定"},
	{EventPasswordSMSSent, "新密码短信已发送"},
	{EventReassigned, "改派"},
	{EventExpired, "申请过期"},
	{EventNote, "备注"},
	{EventFirstApproved, "初审通过，待主管复核"},
	{EventSecondApproved, "主管复核通过"},
	{EventSecondDeclined, "主管退回重审"},
	{EventQAReviewed, "质检"},
	{EventReopened, "重新打开审核"},
	{EventPasswordCancelled, "撤销新密码"},
	{EventSMSFailed, "短信发送失败，已停止重试"},
	{EventSMSResent, "重发短信"},
	{EventHoldPlaced, "案件保全"},
	{EventHoldLifted, "解除保全"},
	{EventEvidenceDestroyed, "证件材料按保存期限销毁"},
	{EventAssigned, "自动分配"},
	{EventSLAMarked, "时限预警变化"},
	{EventReleased, "主管放回待审核"},
}

// Label is the event's Chinese name in a case's history.
func (e EventType) Label() string { return eventLabels.label(e) }

// applicantEventLabels are the events an applicant's timeline shows, in the
// applicant's words; the others (staff work, QA) are not shown to them.
var applicantEventLabels = table[EventType]{
	{EventCreated, "提交查询信息"},
	{EventPhoneVerified, "短信验证通过"},
	{EventEvidenceUploaded, "上传证件照"},
	{EventSubmitted, "提交审核"},
	{EventClaimed, "审核人员开始审核"},
	{EventDecided, "审核完成"},
	{EventReopened, "复核后重新审核"},
}

// ApplicantLabel is the event as the applicant's timeline names it, and
// whether the applicant sees it at all.
func (e EventType) ApplicantLabel() (string, bool) {
	return applicantEventLabels.find(e)
}

// Action returns the audit action recorded with the event.
func (e EventType) Action() Action {
	if e == EventNote {
		return ActionCaseNote
	}
	return Action("recovery." + string(e))
}

// SLA is where a case stands against its due date.
type SLA string

// The SLA states. ok, due_today and overdue are computed from due_by as a
// page is shown; due_soon and overdue are also the marks the escalation job
// stores on undecided cases (recovery.EscalateSLA).
const (
	SLAOk       SLA = "ok"
	SLADueToday SLA = "due_today"
	// SLADueSoon (临近超期): due on the next working day, or today, and
	// still undecided.
	SLADueSoon SLA = "due_soon"
	SLAOverdue SLA = "overdue"
)

// SLAs lists the SLA states.
var SLAs = slaLabels.codes()

// SLAMarks are the escalation marks the job stores, in order of urgency.
var SLAMarks = []SLA{SLAOverdue, SLADueSoon}

var slaLabels = table[SLA]{{SLAOk, "正常"}, {SLADueToday, "今日到期"}, {SLADueSoon, "临近超期"}, {SLAOverdue, "已超期"}}

// Duty is whether auto-assignment gives a reviewer new cases.
type Duty string

// The duty states of a reviewer.
const (
	// DutyOn: signed in to the console within the last working day and
	// not paused; auto-assignment gives them cases up to their cap.
	DutyOn Duty = "on_duty"
	// DutyPaused: the reviewer marked themselves 暂停接单.
	DutyPaused Duty = "paused"
	// DutyAway: not signed in since the start of the last working day.
	DutyAway Duty = "away"
)

// Duties lists the duty states.
var Duties = dutyLabels.codes()

var dutyLabels = table[Duty]{{DutyOn, "接单中"}, {DutyPaused, "暂停接单"}, {DutyAway, "未在岗"}}

// Label is the duty state's Chinese name.
func (d Duty) Label() string { return dutyLabels.label(d) }

// Label is the SLA state's Chinese name.
func (s SLA) Label() string { return slaLabels.label(s) }
