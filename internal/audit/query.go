package audit

import (
	"context"
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
	"recoverydesk/internal/vocab"
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
	ID             int
	Seq            int64 // 0 before the entry had a place in the hash chain
	At             time.Time
	ActorKind      string
	ActorKindLabel string
	Actor          string // "" for an applicant or the system, who have no name
	Action         string
	ActionLabel    string
	ObjectType     string
	ObjectLabel    string
	ObjectID       string
	Details        []DetailItem // the detail, key by key, in Chinese
	Detail         string       // Details as one line ("键：值；…"), for the export
	IP             string
	RequestID      string
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
	reasons, err := loadReasonTexts(ctx, d.Ent)
	if err != nil {
		return Page{}, err
	}
	var p Page
	if len(events) > limit {
		events = events[:limit]
		p.Next = strconv.Itoa(events[len(events)-1].ID)
	}
	for _, e := range events {
		p.Rows = append(p.Rows, toRow(e, reasons))
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
		return Record(ctx, tx, Event{At: clk.Now(), ActorKind: ActorStaff, Actor: actor, Action: vocab.ActionAuditExported,
			ObjectType: string(vocab.ObjectAudit), Detail: detail})
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
		return Record(rctx, tx, Event{At: x.clock.Now(), ActorKind: ActorStaff, Actor: x.actor, Action: vocab.ActionAuditExportInterrupted,
			ObjectType: string(vocab.ObjectAudit), Detail: map[string]any{"rows": x.Rows, "written": written, "upto": x.Upto}})
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
		reasons, err := loadReasonTexts(ctx, x.d.Ent)
		if err != nil {
			return err
		}
		for _, e := range events {
			if err := fn(toRow(e, reasons)); err != nil {
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

// toRow is an entry as staff see it, every free-text part masked and every
// code labelled.
func toRow(e *ent.AuditEvent, reasons reasonTexts) Row {
	action := vocab.Action(e.Action)
	items := describe(action, e.Detail, reasons)
	r := Row{ID: e.ID, At: e.At, ActorKind: e.ActorKind, ActorKindLabel: vocab.ActorKind(e.ActorKind).Label(),
		Actor: MaskText(e.Actor), Action: e.Action, ActionLabel: action.Label(), ObjectType: e.ObjectType,
		ObjectLabel: vocab.ObjectType(e.ObjectType).Label(), ObjectID: MaskText(e.ObjectID),
		Details: items, Detail: detailText(items), IP: e.IP, RequestID: e.RequestID}
	switch {
	case r.Actor == r.ActorKind && r.ActorKind == string(vocab.ActorApplicant):
		r.Actor = "" // an applicant has no name here: the kind says it all
	case r.ActorKind == string(vocab.ActorSystem):
		r.Actor = vocab.SystemActor(e.Actor).Label()
	}
	if e.Seq != nil {
		r.Seq = *e.Seq
	}
	return r
}

// ActionLabel is the Chinese name of an action (vocab.Action) or of an
// action group of the filter ("recovery.*"), or the action itself when it has
// none yet (a new action still shows, just untranslated).
func ActionLabel(action string) string {
	for _, g := range actionGroups {
		if g.Value == action {
			return g.Label
		}
	}
	return vocab.Action(action).Label()
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
	for _, a := range vocab.Actions() {
		acts = append(acts, ActionChoice{string(a), a.Label()})
	}
	slices.SortFunc(acts, func(a, b ActionChoice) int { return strings.Compare(a.Value, b.Value) })
	return append(out, acts...)
}
