package vocab

import (
	"fmt"

	"recoverydesk/internal/recovery/state"
)

// Link is what a linked case shares with the case on screen (关联案件).
type Link string

// The values two cases can share.
const (
	LinkSameAccount Link = "same_account"
	LinkIDNumber    Link = "id_number"
	LinkCreditCode  Link = "credit_code"
	LinkPhone       Link = "phone"
)

// Links lists them in the order the page names them.
var Links = linkLabels.codes()

var linkLabels = table[Link]{
	{LinkSameAccount, "同一账号"},
	{LinkIDNumber, "身份证号码相同"},
	{LinkCreditCode, "单位证件号码相同"},
	{LinkPhone, "注册手机相同"},
}

// Label names the shared value.
func (l Link) Label() string { return linkLabels.label(l) }

// decidedNotices confirm, on the page a reviewer lands on, the decision
// just made, by the status it left the case in (%s is the case number).
var decidedNotices = table[state.Status]{
	{state.Approved, "已通过 %s，新密码短信已排队"},
	{state.AwaitingSecond, "已初审通过 %s，已交主管复核"},
	{state.Rejected, "已决定不通过 %s，结果短信已排队"},
	{state.Returned, "已退回补正 %s，补正通知短信已排队"},
}

// DecidedNotice is the confirmation of a decision that left case number in
// status s; "" for a status no decision leads to.
func DecidedNotice(s state.Status, number string) string {
	text, ok := decidedNotices.find(s)
	if !ok {
		return ""
	}
	return fmt.Sprintf(text, number)
}

// bulkNotices confirm a supervisor's bulk action: how many cases it moved
// (%d) and, for a reassignment, to whom (%s).
var bulkNotices = table[BulkAction]{
	{BulkReassign, "已将 %d 件案件改派给 %s"},
	{BulkRelease, "已将 %d 件案件放回待审核%.0s"},
}

// BulkAction is a supervisor's action on the cases selected in the queue.
type BulkAction string

// The bulk actions.
const (
	BulkReassign BulkAction = "reassign"
	BulkRelease  BulkAction = "release"
)

// BulkActions lists the bulk actions.
var BulkActions = bulkActionLabels.codes()

var bulkActionLabels = table[BulkAction]{
	{BulkReassign, "改派给审核人员"},
	{BulkRelease, "放回待审核（取消认领）"},
}

// Label names the bulk action.
func (a BulkAction) Label() string { return bulkActionLabels.label(a) }

// BulkNotice confirms a bulk action on n cases (to: the reviewer's name).
func BulkNotice(a BulkAction, n int, to string) string {
	text, ok := bulkNotices.find(a)
	if !ok {
		return ""
	}
	return fmt.Sprintf(text, n, to)
}
