package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/storage"
)

// AnchorRetention is how long an anchor is locked (compliance mode) in the
// anchor bucket: a year, beyond the six months the Cybersecurity Law
// (Art. 21) asks logs to be kept, so every anchor of a log old enough to
// matter is still locked when it is checked.
const AnchorRetention = 366 * 24 * time.Hour

// AnchorInterval is how often the periodic job writes an anchor.
const AnchorInterval = time.Hour

// Anchor is the chain head as written to the anchor bucket: the last
// entry's position, hash and time, and when it was anchored.
type Anchor struct {
	Key        string    `json:"-"`
	Seq        int64     `json:"seq"`
	Hash       string    `json:"hash"`
	At         time.Time `json:"at"`          // the last entry's time
	AnchoredAt time.Time `json:"anchored_at"` // when the anchor was written
}

// String names an anchor for the operator: its object key and time.
func (a Anchor) String() string {
	return fmt.Sprintf("锚点 %s（%s 写入，第 %d 条）", a.Key, a.AnchoredAt.In(rules.Shanghai).Format("2006-01-02 15:04:05"), a.Seq)
}

// WriteAnchor writes the chain's current head to store as a new object
// locked until now+AnchorRetention. The database cannot rewrite it, so a
// chain rebuilt afterwards (every hash recomputed, head included) no
// longer matches it. Keys sort by time.
func WriteAnchor(ctx context.Context, d *db.DB, store *storage.AnchorStore, now time.Time) (Anchor, error) {
	a := Anchor{AnchoredAt: now.UTC().Truncate(time.Microsecond)}
	last, err := d.Ent.AuditEvent.Query().Where(auditevent.SeqNotNil()).Order(ent.Desc(auditevent.FieldSeq)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return a, fmt.Errorf("anchor: read chain head: %w", err)
	}
	if last != nil {
		a.Seq, a.Hash, a.At = *last.Seq, last.Hash, last.At.UTC()
	}
	body, err := json.Marshal(a)
	if err != nil {
		return a, err
	}
	a.Key = fmt.Sprintf("anchors/%s-seq%d.json", a.AnchoredAt.Format("20060102T150405.000000Z"), a.Seq)
	if err := store.Put(ctx, a.Key, body, now.Add(AnchorRetention)); err != nil {
		return a, fmt.Errorf("anchor: %w", err)
	}
	return a, nil
}

// AnchorReport is the result of checking the chain against the anchors.
type AnchorReport struct {
	Anchors      int     // anchors read
	Contradicted *Anchor // the oldest anchor the database disagrees with
	Reason       string  // why, in Chinese
}

// VerifyAnchors checks every anchor against the database: the entry at the
// anchor's seq must still exist and carry the anchored hash. Together with
// Verify (every link and hash of the chain holds), a match at an anchor
// means no entry up to it was changed since it was anchored, because a
// rebuilt chain cannot reproduce the anchored hash. It names the oldest
// anchor contradicted.
func VerifyAnchors(ctx context.Context, d *db.DB, store *storage.AnchorStore) (AnchorReport, error) {
	var rep AnchorReport
	keys, err := store.Keys(ctx)
	if err != nil {
		return rep, err
	}
	sort.Strings(keys)
	for _, key := range keys {
		body, err := store.Get(ctx, key)
		if err != nil {
			return rep, err
		}
		rep.Anchors++
		var a Anchor
		if err := json.Unmarshal(body, &a); err != nil {
			a.Key = key
			rep.Contradicted, rep.Reason = &a, "锚点内容无法解析"
			return rep, nil
		}
		a.Key = key
		if a.Seq == 0 {
			continue // anchored an empty log
		}
		row, err := d.Ent.AuditEvent.Query().Where(auditevent.Seq(a.Seq)).Only(ctx)
		if ent.IsNotFound(err) {
			rep.Contradicted = &a
			rep.Reason = fmt.Sprintf("数据库中已没有第 %d 条记录：日志在锚定后被截断或重建", a.Seq)
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("read entry %d: %w", a.Seq, err)
		}
		if row.Hash != a.Hash {
			rep.Contradicted = &a
			rep.Reason = fmt.Sprintf("第 %d 条记录的哈希与锚点不符：哈希链在锚定后被重建", a.Seq)
			return rep, nil
		}
	}
	return rep, nil
}

// AnchorArgs is the periodic job that writes an anchor.
type AnchorArgs struct{}

// Kind names the job.
func (AnchorArgs) Kind() string { return "audit_anchor" }
