package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

// Refusals of the audit search, shown beside the field concerned.
var (
	// ErrBadDate is a from or to date that is not YYYY-MM-DD.
	ErrBadDate = apperr.New(apperr.Invalid, "invalid_date", "日期格式应为 年-月-日，如 2026-03-15")
	// ErrBadRange is a time range whose end comes before its start.
	ErrBadRange = apperr.New(apperr.Invalid, "invalid_date_range", "结束日期不能早于开始日期")
	// ErrBadCursor is a "next page" cursor that this server did not make.
	ErrBadCursor = apperr.New(apperr.BadRequest, "invalid_cursor", "翻页参数无效，请回到第一页")
)

// PageSize is how many entries one page of the audit page shows.
const PageSize = 50

// exportBatch is how many entries an export reads per query.
const exportBatch = 500

// Filter narrows the audit log. Every field is optional; the zero Filter is
// the whole log, newest first.
type Filter struct {
	// Staff is a staff user's username (any case). Staff actions are
	// recorded under the username, the username key or "staff:" + username
	// depending on where they happen; all of those match.
	Staff string
	// Action is an action ("recovery.decided") or a prefix ending in "*"
	// ("recovery.*").
	Action string
	// Case is a case number; the entries recorded under the case's uuid
	// (before it had a number, or by older code) match too. A draft's uuid
	// works as well.
	Case string
	// From and To are dates (YYYY-MM-DD) in Asia/Shanghai, both inclusive.
	From, To string
	// After is the keyset cursor from the previous page: entries older than it.
	After string
	// Limit is the page size; 0 means PageSize.
	Limit int
}

// Empty reports whether f selects the whole log.
func (f Filter) Empty() bool {
	return f.Staff == "" && f.Action == "" && f.Case == "" && f.From == "" && f.To == ""
}

// Detail is the filter as an audit detail (what an export was of).
func (f Filter) Detail() map[string]any {
	d := map[string]any{}
	for k, v := range map[string]string{"staff": f.Staff, "action": f.Action, "case": f.Case, "from": f.From, "to": f.To} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// Row is one audit entry as staff may see it: personal data masked, the
// action labelled, times as stored (the views show them in Asia/Shanghai).
type Row struct {
	ID          int
	Seq         int64 // 0 before the entry had a place in the hash chain
	At          time.Time
	ActorKind   string
	Actor       string
	Action      string
	ActionLabel string
	ObjectType  string
	ObjectID    string
	Detail      string
	IP          string
	RequestID   string
}

// Page is one page of the search, newest first, with the cursor of the next
// page ("" on the last).
type Page struct {
	Rows []Row
	Next string
}

// Search returns one page of the audit log matching f, newest first,
// keyset-paged by id (never OFFSET, so page 1000 costs what page 1 does and
// an entry appended meanwhile does not shift the pages).
func Search(ctx context.Context, d *db.DB, f Filter) (Page, error) {
	preds, err := predicates(ctx, d.Ent, f)
	if err != nil {
		return Page{}, err
	}
	if f.After != "" {
		id, err := decodeAuditCursor(f.After)
		if err != nil {
			return Page{}, err
		}
		preds = append(preds, auditevent.IDLT(id))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = PageSize
	}
	events, err := d.Ent.AuditEvent.Query().Where(preds...).Order(ent.Desc(auditevent.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return Page{}, fmt.Errorf("search audit log: %w", err)
	}
	var p Page
	if len(events) > limit {
		events = events[:limit]
		p.Next = strconv.Itoa(events[len(events)-1].ID)
	}
	for _, e := range events {
		p.Rows = append(p.Rows, toRow(e))
	}
	return p, nil
}

// Export is an export of the audit log that has been recorded and may now
// be streamed.
type Export struct {
	d     *db.DB
	clock clock.Clock
	preds []predicate.AuditEvent
	actor string
	// Upto is the newest entry the export contains: the log as it was when
	// the export was recorded. Entries are never changed or removed, so the
	// rows up to it are exactly the Rows counted.
	Upto int
	// Rows is how many entries the export contains.
	Rows int
}

// StartExport records that staff user actor exports the entries matching f
// (action audit.exported, with the filter and the row count) in a
// transaction of its own, committed before any row leaves, and returns the
// export to stream with Each.
//
// Why before, and on its own: an export hands personal data out of the
// system, so the record of it must exist whatever happens to the download.
// Committed first, a download that fails midway (a dropped connection, a
// crash) is still on record; recorded after the last row instead, exactly
// those partial downloads would go unrecorded. The row count is exact, not a
// guess, because the export is bounded to the log as it was at that moment
// (Upto, in the same transaction). A stream that does break is recorded too
// (audit.export_interrupted, with the rows written), again on its own.
func StartExport(ctx context.Context, d *db.DB, clk clock.Clock, f Filter, actor string) (*Export, error) {
	preds, err := predicates(ctx, d.Ent, f)
	if err != nil {
		return nil, err
	}
	x := &Export{d: d, clock: clk, preds: preds, actor: actor}
	err = d.InTx(ctx, func(tx *db.Tx) error {
		last, err := tx.Ent.AuditEvent.Query().Order(ent.Desc(auditevent.FieldID)).First(ctx)
		switch {
		case ent.IsNotFound(err): // an empty log: nothing to export
		case err != nil:
			return err
		default:
			x.Upto = last.ID
			if x.Rows, err = tx.Ent.AuditEvent.Query().Where(append(slices.Clone(preds), auditevent.IDLTE(x.Upto))...).Count(ctx); err != nil {
				return err
			}
		}
		detail := f.Detail()
		detail["rows"], detail["upto"] = x.Rows, x.Upto
		return Record(ctx, tx, Event{At: clk.Now(), ActorKind: ActorStaff, Actor: actor, Action: "audit.exported",
			ObjectType: "audit", Detail: detail})
	})
	if err != nil {
		return nil, fmt.Errorf("start audit export: %w", err)
	}
	return x, nil
}

// Each calls fn for every row of the export, newest first, reading the log a
// batch at a time so that no export is ever held in memory whole. When a
// query or fn fails, the interruption is recorded (audit.export_interrupted,
// with how many rows fn had taken) and the error returned.
func (x *Export) Each(ctx context.Context, fn func(Row) error) error {
	written := 0
	err := x.each(ctx, func(r Row) error {
		if err := fn(r); err != nil {
			return err
		}
		written++
		return nil
	})
	if err == nil {
		return nil
	}
	// The request's context may be what failed; the record must not.
	rctx := context.WithoutCancel(ctx)
	rerr := x.d.InTx(rctx, func(tx *db.Tx) error {
		return Record(rctx, tx, Event{At: x.clock.Now(), ActorKind: ActorStaff, Actor: x.actor, Action: "audit.export_interrupted",
			ObjectType: "audit", Detail: map[string]any{"rows": x.Rows, "written": written, "upto": x.Upto}})
	})
	return errors.Join(err, rerr)
}

func (x *Export) each(ctx context.Context, fn func(Row) error) error {
	if x.Upto == 0 {
		return nil
	}
	before := x.Upto + 1
	for {
		events, err := x.d.Ent.AuditEvent.Query().Where(append(slices.Clone(x.preds), auditevent.IDLT(before))...).
			Order(ent.Desc(auditevent.FieldID)).Limit(exportBatch).All(ctx)
		if err != nil {
			return fmt.Errorf("read audit export: %w", err)
		}
		for _, e := range events {
			if err := fn(toRow(e)); err != nil {
				return err
			}
		}
		if len(events) < exportBatch {
			return nil
		}
		before = events[len(events)-1].ID
	}
}

// predicates turns f into query predicates, resolving a staff username and
// a case number to every form they are recorded under.
func predicates(ctx context.Context, c *ent.Client, f Filter) ([]predicate.AuditEvent, error) {
	var preds []predicate.AuditEvent
	if s := strings.TrimSpace(f.Staff); s != "" {
		preds = append(preds, auditevent.ActorIn(staffActors(ctx, c, s)...))
	}
	if a := strings.TrimSpace(f.Action); a != "" {
		if prefix, ok := strings.CutSuffix(a, "*"); ok {
			preds = append(preds, auditevent.ActionHasPrefix(prefix))
		} else {
			preds = append(preds, auditevent.Action(a))
		}
	}
	if n := strings.TrimSpace(f.Case); n != "" {
		ids, err := caseObjectIDs(ctx, c, n)
		if err != nil {
			return nil, err
		}
		preds = append(preds, auditevent.ObjectType("case"), auditevent.ObjectIDIn(ids...))
	}
	from, err := parseDay(f.From, "from")
	if err != nil {
		return nil, err
	}
	to, err := parseDay(f.To, "to")
	if err != nil {
		return nil, err
	}
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return nil, ErrBadRange.WithField("to")
	}
	if !from.IsZero() {
		preds = append(preds, auditevent.AtGTE(from))
	}
	if !to.IsZero() {
		preds = append(preds, auditevent.AtLT(to.AddDate(0, 0, 1)))
	}
	return preds, nil
}

// staffActors lists the actor values a staff user's entries may carry.
func staffActors(ctx context.Context, c *ent.Client, username string) []string {
	key := rules.NormalizeUsername(username)
	names := []string{username, key}
	if u, err := c.StaffUser.Query().Where(staffuser.UsernameKey(key)).Only(ctx); err == nil {
		names = append(names, u.Username, u.UsernameKey)
	}
	var out []string
	for _, n := range names {
		for _, v := range []string{n, "staff:" + n} {
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// caseObjectIDs lists the object ids a case's entries may carry: its number
// and its uuid.
func caseObjectIDs(ctx context.Context, c *ent.Client, s string) ([]string, error) {
	var rc *ent.RecoveryCase
	var err error
	if id, perr := uuid.Parse(s); perr == nil {
		rc, err = c.RecoveryCase.Query().Where(recoverycase.ID(id)).Only(ctx)
	} else {
		s = strings.ToUpper(s)
		rc, err = c.RecoveryCase.Query().Where(recoverycase.CaseNumber(s)).Only(ctx)
	}
	if ent.IsNotFound(err) {
		return []string{s}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up case %q: %w", s, err)
	}
	ids := []string{rc.ID.String()}
	if rc.CaseNumber != nil {
		ids = append(ids, *rc.CaseNumber)
	}
	return ids, nil
}

// parseDay reads a date in Asia/Shanghai: the start of that day.
func parseDay(s, field string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, rules.Shanghai)
	if err != nil {
		return time.Time{}, ErrBadDate.WithField(field)
	}
	return t, nil
}

func decodeAuditCursor(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 {
		return 0, ErrBadCursor
	}
	return id, nil
}

// toRow is an entry as staff see it, every free-text part masked.
func toRow(e *ent.AuditEvent) Row {
	r := Row{ID: e.ID, At: e.At, ActorKind: e.ActorKind, Actor: MaskText(e.Actor), Action: e.Action,
		ActionLabel: ActionLabel(e.Action), ObjectType: e.ObjectType, ObjectID: MaskText(e.ObjectID),
		Detail: MaskText(detailText(e.Detail)), IP: e.IP, RequestID: e.RequestID}
	if e.Seq != nil {
		r.Seq = *e.Seq
	}
	return r
}

// detailText renders a detail map as "key=value" pairs in key order.
func detailText(d map[string]any) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		var v string
		switch x := d[k].(type) {
		case string:
			v = x
		case nil:
			v = ""
		default:
			b, err := json.Marshal(x)
			if err != nil {
				v = fmt.Sprint(x)
			} else {
				v = string(b)
			}
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, "; ")
}

// actionLabels are the Chinese names of the actions the product records.
var actionLabels = map[string]string{
	"account.registered":             "注册账号",
	"account.locked":                 "账号锁定",
	"login.success":                  "账号登录成功",
	"login.failure":                  "账号登录失败",
	"login.refused_locked":           "锁定期间尝试登录",
	"login.pending_not_effective":    "使用未生效的新密码登录",
	"operator.success":               "经办人身份验证成功",
	"operator.failure":               "经办人身份验证失败",
	"operator.refused_locked":        "经办人账号锁定期间验证",
	"password_change.success":        "修改密码时验证成功",
	"password_change.failure":        "修改密码时验证失败",
	"password_change.refused_locked": "锁定期间尝试修改密码",
	"password.changed":               "修改密码",
	"password.activated":             "新密码生效",
	"username.sent":                  "短信发送用户名",
	"sms_code.sent":                  "发送短信验证码",
	"recovery.created":               "发起密码找回",
	"recovery.phone_verified":        "验证预留手机",
	"recovery.evidence_uploaded":     "上传证件照",
	"recovery.submitted":             "提交审核",
	"recovery.status_unlocked":       "查询审核进度",
	"recovery.claimed":               "认领案件",
	"recovery.claim_expired":         "认领超时释放",
	"recovery.decided":               "作出审核决定",
	"recovery.password_sms_sent":     "发送新密码短信",
	"recovery.reassigned":            "改派案件",
	"recovery.expired":               "草稿过期",
	"recovery.hold_placed":           "案件保全",
	"recovery.hold_lifted":           "解除案件保全",
	"evidence.destroyed":             "按保存期限销毁证件材料",
	"evidence.viewed":                "查看证件照",
	"case.note":                      "添加案件备注",
	"staff.created":                  "创建工作人员",
	"staff.login.success":            "工作人员登录成功",
	"staff.login.failure":            "工作人员登录失败",
	"staff.login.refused_locked":     "工作人员锁定期间登录",
	"staff.login.refused_disabled":   "停用的工作人员尝试登录",
	"staff.locked":                   "工作人员账号锁定",
	"staff.totp_enrolled":            "绑定动态口令",
	"audit.exported":                 "导出审计日志",
	"audit.export_interrupted":       "审计日志导出中断",
	"recovery.first_approved":        "初审通过，待主管复核",
	"recovery.second_approved":       "主管复核通过",
	"recovery.second_declined":       "主管复核退回队列",
	"recovery.qa_reviewed":           "质检",
	"recovery.reopened":              "案件重新审核",
	"recovery.password_cancelled":    "撤销未生效的新密码",
	"password.pending_cancelled":     "新密码作废",
	"staff.disabled":                 "停用工作人员",
	"staff.enabled":                  "启用工作人员",
	"staff.password_reset":           "重置工作人员密码",
	"staff.totp_required":            "要求绑定动态口令",
	"staff.role_granted":             "授予角色",
	"staff.role_revoked":             "撤销角色",
	"reason.added":                   "新增原因代码",
	"reason.edited":                  "修改原因说明",
	"reason.moved":                   "调整原因顺序",
	"reason.retired":                 "停用原因代码",
	"reason.restored":                "恢复原因代码",
}

// ActionLabel is the Chinese name of an action, or the action itself when
// it has none yet (a new action still shows, just untranslated).
func ActionLabel(action string) string {
	if l, ok := actionLabels[action]; ok {
		return l
	}
	return action
}

// ActionChoice is one option of the action filter.
type ActionChoice struct {
	Value, Label string
}

// actionGroups are the prefix choices of the action filter.
var actionGroups = []ActionChoice{
	{"recovery.*", "密码找回流程（全部）"},
	{"staff.*", "工作人员账号（全部）"},
	{"login.*", "账号登录（全部）"},
	{"audit.*", "审计日志（全部）"},
	{"reason.*", "原因代码（全部）"},
}

// ActionChoices are the options of the action filter: the prefix groups,
// then every labelled action in label order.
func ActionChoices() []ActionChoice {
	out := slices.Clone(actionGroups)
	var acts []ActionChoice
	for a, l := range actionLabels {
		acts = append(acts, ActionChoice{a, l})
	}
	slices.SortFunc(acts, func(a, b ActionChoice) int { return strings.Compare(a.Value, b.Value) })
	return append(out, acts...)
}
