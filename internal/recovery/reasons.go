package recovery

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"recoverydesk/ent"
	"recoverydesk/ent/reasoncode"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/vocab"
)

// Reason is one entry of the rejection catalog: a stable code and the text
// the applicant reads in the SMS and on the status page. A retired reason
// (Active false) cannot be chosen for a new decision, but keeps its text for
// the decisions that named it.
type Reason struct {
	Code     string
	Text     string
	Active   bool
	Position int
	// Kind is the one kind of case the reason fits, or "" for both
	// (reasonKinds).
	Kind vocab.CaseKind
}

// reasonKinds are the reasons only one kind of case can have: a person's
// case has no unit licence to seal and no authorisation letter. The
// catalog's text is the administrators'; which kind a reason fits is a
// rule of the workflow, kept here with the codes it names. A code not
// listed (an administrator's new reason included) fits both kinds.
var reasonKinds = map[string]vocab.CaseKind{
	"license_no_seal":  vocab.KindUnit,
	"letter_irregular": vocab.KindUnit,
}

// AppliesTo says whether the reason may be given for a case of this kind.
func (r Reason) AppliesTo(kind vocab.CaseKind) bool { return r.Kind == "" || r.Kind == kind }

// ErrReasonKind is a reason that does not fit the case's kind (a unit-only
// reason on a person's case).
var ErrReasonKind = apperr.New(apperr.Invalid, "reason_not_applicable", "所选原因不适用于该类申请，请重新选择")

// checkReasonKinds refuses reasons that do not fit a case of kind.
func checkReasonKinds(kind vocab.CaseKind, codes []string) error {
	for _, code := range codes {
		if k, ok := reasonKinds[code]; ok && k != kind {
			return ErrReasonKind.WithField("reason")
		}
	}
	return nil
}

// defaultReasons are the catalog's first entries, inserted when the table is
// empty. Administrators change the catalog in the console afterwards.
var defaultReasons = []Reason{
	{Code: "unclear_image", Text: "清晰度不足，请重新拍摄清晰、完整的照片"},
	{Code: "handheld_mismatch", Text: "手持证件照与证件不符"},
	{Code: "license_no_seal", Text: "单位证件未加盖公章"},
	{Code: "letter_irregular", Text: "授权函不规范，请使用授权函模板并签字盖章"},
	{Code: "info_mismatch", Text: "填写信息与注册信息不符"},
	{Code: "other", Text: "其他原因，详见审核意见"},
}

// DefaultReasons returns the catalog an empty table starts with, active and
// numbered from 1 (a fresh copy).
func DefaultReasons() []Reason {
	out := make([]Reason, len(defaultReasons))
	for i, r := range defaultReasons {
		out[i] = Reason{Code: r.Code, Text: r.Text, Active: true, Position: i + 1, Kind: reasonKinds[r.Code]}
	}
	return out
}

// Limits of a reason, as the ReasonCode schema stores them.
const (
	ReasonCodeMaxLen = 40
	ReasonTextMaxLen = 200
)

// Errors of the reason catalog.
var (
	ErrReasonCode     = apperr.New(apperr.Invalid, "invalid_reason_code", "原因代码须以小写字母开头，只含小写字母、数字和下划线，不超过40个字符")
	ErrReasonText     = apperr.New(apperr.Invalid, "invalid_reason_text", "请填写1-200个字符的原因说明")
	ErrReasonTaken    = apperr.New(apperr.Conflict, "reason_code_taken", "该原因代码已存在（停用的代码也不能重复使用）")
	ErrReasonNotFound = apperr.New(apperr.NotFound, "reason_not_found", "未找到该原因代码")
	ErrReasonRetired  = apperr.New(apperr.Invalid, "reason_retired", "所选原因已停用，请刷新页面后重新选择")
	ErrUnknownReason  = apperr.New(apperr.Invalid, "invalid_reason", "未知的原因代码")
)

// Reasons returns the active reasons in catalog order: the choices of the
// decision form.
func (s *Service) Reasons(ctx context.Context) ([]Reason, error) {
	all, err := s.ReasonCatalog(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, r := range all {
		if r.Active {
			out = append(out, r)
		}
	}
	return out, nil
}

// ReasonCatalog returns every reason, active or retired, in catalog order.
func (s *Service) ReasonCatalog(ctx context.Context) ([]Reason, error) {
	return reasonCatalog(ctx, s.db.Ent)
}

// reasonCatalog reads the catalog through c (a transaction's client or the
// pool's), first filling an empty table with the defaults.
func reasonCatalog(ctx context.Context, c *ent.Client) ([]Reason, error) {
	rows, err := c.ReasonCode.Query().Order(ent.Asc(reasoncode.FieldPosition), ent.Asc(reasoncode.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reason catalog: %w", err)
	}
	if len(rows) == 0 {
		if err := insertDefaultReasons(ctx, c); err != nil {
			return nil, err
		}
		if rows, err = c.ReasonCode.Query().Order(ent.Asc(reasoncode.FieldPosition), ent.Asc(reasoncode.FieldID)).All(ctx); err != nil {
			return nil, fmt.Errorf("reason catalog: %w", err)
		}
	}
	out := make([]Reason, len(rows))
	for i, r := range rows {
		out[i] = Reason{Code: r.Code, Text: r.Text, Active: r.Active, Position: r.Position, Kind: reasonKinds[r.Code]}
	}
	return out, nil
}

// insertDefaultReasons fills the empty catalog. It is lazy (the first read
// does it, whoever reads first) and idempotent: ON CONFLICT (code) DO
// NOTHING lets two instances that both saw an empty table insert at once
// without an error or a duplicate, and a code that an administrator already
// added is left as it is. A code is never deleted, so the table is empty only
// before its first use.
func insertDefaultReasons(ctx context.Context, c *ent.Client) error {
	defaults := DefaultReasons()
	builders := make([]*ent.ReasonCodeCreate, len(defaults))
	for i, r := range defaults {
		builders[i] = c.ReasonCode.Create().SetCode(r.Code).SetText(r.Text).SetPosition(r.Position)
	}
	err := c.ReasonCode.CreateBulk(builders...).OnConflict(sql.ConflictColumns(reasoncode.FieldCode)).DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) { // DO NOTHING on every row may return no row
		return fmt.Errorf("insert default reasons: %w", err)
	}
	return nil
}

// reasonTexts maps codes to their texts (retired ones included), leaving out
// codes the catalog does not know.
func reasonTexts(ctx context.Context, c *ent.Client, codes []string) ([]string, error) {
	if len(codes) == 0 {
		return []string{}, nil
	}
	all, err := reasonCatalog(ctx, c)
	if err != nil {
		return nil, err
	}
	texts := make([]string, 0, len(codes))
	for _, code := range codes {
		for _, r := range all {
			if r.Code == code {
				texts = append(texts, r.Text)
				break
			}
		}
	}
	return texts, nil
}

// checkReasons refuses unknown and retired codes for a new decision.
func (s *Service) checkReasons(ctx context.Context, codes []string) error {
	all, err := s.ReasonCatalog(ctx)
	if err != nil {
		return err
	}
	for _, code := range codes {
		i := indexOfReason(all, code)
		if i < 0 {
			e := ErrUnknownReason.WithField("reason")
			if ValidReasonCode(code) { // bounded: never echo an arbitrary value
				e.Message += "：" + code
			}
			return e
		}
		if !all[i].Active {
			return ErrReasonRetired.WithField("reason")
		}
	}
	return nil
}

func indexOfReason(all []Reason, code string) int {
	for i, r := range all {
		if r.Code == code {
			return i
		}
	}
	return -1
}

// catalogLock serialises the changes that read the whole catalog and then
// write it (add, move) on PostgreSQL; SQLite serialises writers anyway.
const catalogLock = "reason_catalog"

// ValidReasonCode reports whether code is lowercase snake_case: a letter
// first, then letters, digits and single underscores, at most 40 characters.
func ValidReasonCode(code string) bool {
	if code == "" || len(code) > ReasonCodeMaxLen || code[0] < 'a' || code[0] > 'z' ||
		strings.HasSuffix(code, "_") || strings.Contains(code, "__") {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func checkReasonText(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" || utf8.RuneCountInString(text) > ReasonTextMaxLen || strings.ContainsAny(text, "\r\n") {
		return "", ErrReasonText.WithField("text")
	}
	return text, nil
}

// AddReason appends a new active reason to the catalog on behalf of the
// administrator whose username key is by.
func (s *Service) AddReason(ctx context.Context, by, code, text string) error {
	code = strings.TrimSpace(code)
	if !ValidReasonCode(code) {
		return ErrReasonCode.WithField("code")
	}
	text, err := checkReasonText(text)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		all, err := lockedCatalog(ctx, tx)
		if err != nil {
			return err
		}
		if indexOfReason(all, code) >= 0 {
			return ErrReasonTaken.WithField("code")
		}
		last := 0
		for _, r := range all {
			last = max(last, r.Position)
		}
		err = tx.Ent.ReasonCode.Create().SetCode(code).SetText(text).SetPosition(last + 1).
			SetCreatedAt(s.clock.Now()).SetUpdatedAt(s.clock.Now()).Exec(ctx)
		if ent.IsConstraintError(err) {
			return ErrReasonTaken.WithField("code")
		}
		if err != nil {
			return err
		}
		return s.auditReason(ctx, tx, by, vocab.ActionReasonAdded, code, map[string]any{"text": text, "position": last + 1})
	})
}

// EditReason changes the text of a reason. Decisions store codes, so the
// new text is what their status pages show from now on; SMS already sent
// keep the old one.
func (s *Service) EditReason(ctx context.Context, by, code, text string) error {
	text, err := checkReasonText(text)
	if err != nil {
		return err
	}
	return s.changeReason(ctx, code, func(r *ent.ReasonCode) bool { return r.Text == text },
		func(u *ent.ReasonCodeUpdateOne) *ent.ReasonCodeUpdateOne { return u.SetText(text) },
		func(tx *db.Tx, r *ent.ReasonCode) error {
			return s.auditReason(ctx, tx, by, vocab.ActionReasonEdited, code, map[string]any{"before": r.Text, "after": text})
		})
}

// SetReasonActive retires (active false) or restores a reason.
func (s *Service) SetReasonActive(ctx context.Context, by, code string, active bool) error {
	action := vocab.ActionReasonRetired
	if active {
		action = vocab.ActionReasonRestored
	}
	return s.changeReason(ctx, code, func(r *ent.ReasonCode) bool { return r.Active == active },
		func(u *ent.ReasonCodeUpdateOne) *ent.ReasonCodeUpdateOne { return u.SetActive(active) },
		func(tx *db.Tx, _ *ent.ReasonCode) error { return s.auditReason(ctx, tx, by, action, code, nil) })
}

// changeReason applies set to the reason code unless unchanged says it
// already is so (then nothing is written or audited), and records the
// change with audited — all in one transaction.
func (s *Service) changeReason(ctx context.Context, code string, unchanged func(*ent.ReasonCode) bool,
	set func(*ent.ReasonCodeUpdateOne) *ent.ReasonCodeUpdateOne, audited func(tx *db.Tx, before *ent.ReasonCode) error) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		r, err := reasonByCode(ctx, tx, code)
		if err != nil {
			return err
		}
		if unchanged(r) {
			return nil
		}
		if err := set(tx.Ent.ReasonCode.UpdateOne(r)).SetUpdatedAt(s.clock.Now()).Exec(ctx); err != nil {
			return err
		}
		return audited(tx, r)
	})
}

// MoveReason moves a reason one place up (delta < 0) or down (delta > 0) in
// the catalog order. The whole catalog is renumbered 1..n in the same
// transaction, so the order stays total whatever positions it had.
func (s *Service) MoveReason(ctx context.Context, by, code string, delta int) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		all, err := lockedCatalog(ctx, tx)
		if err != nil {
			return err
		}
		i := indexOfReason(all, code)
		if i < 0 {
			return ErrReasonNotFound
		}
		j := i + 1
		if delta < 0 {
			j = i - 1
		}
		if j < 0 || j >= len(all) {
			return nil // already first or last
		}
		all[i], all[j] = all[j], all[i]
		now := s.clock.Now()
		for k, r := range all {
			if r.Position == k+1 {
				continue
			}
			if err := tx.Ent.ReasonCode.Update().Where(reasoncode.Code(r.Code)).SetPosition(k + 1).SetUpdatedAt(now).Exec(ctx); err != nil {
				return err
			}
		}
		return s.auditReason(ctx, tx, by, vocab.ActionReasonMoved, code, map[string]any{"from": i + 1, "to": j + 1})
	})
}

func (s *Service) auditReason(ctx context.Context, tx *db.Tx, by string, action vocab.Action, code string, detail map[string]any) error {
	return audit.Record(ctx, tx, audit.Event{At: s.clock.Now(), ActorKind: audit.ActorStaff, Actor: by,
		Action: action, ObjectType: "reason", ObjectID: code, Detail: detail})
}

// lockedCatalog reads the whole catalog in tx, serialised against every
// other change of its order or membership.
func lockedCatalog(ctx context.Context, tx *db.Tx) ([]Reason, error) {
	if err := tx.LockKey(ctx, catalogLock); err != nil {
		return nil, err
	}
	return reasonCatalog(ctx, tx.Ent)
}

// reasonByCode reads one catalog entry in tx (ErrReasonNotFound when the
// code does not exist).
func reasonByCode(ctx context.Context, tx *db.Tx, code string) (*ent.ReasonCode, error) {
	r, err := tx.Ent.ReasonCode.Query().Where(reasoncode.Code(code)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrReasonNotFound
	}
	return r, err
}
