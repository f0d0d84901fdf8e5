package audit

import (
	"context"
	"fmt"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

// Report is the result of checking the whole chain.
type Report struct {
	Checked     int64   // entries checked, up to and including the first broken one
	Intact      bool    // every link and every hash holds
	FirstBroken *Broken // the first entry from which the chain no longer holds
}

// Broken names the first entry that fails the check, and why (in Chinese,
// for the console and the command line alike).
type Broken struct {
	Seq    int64
	ID     int
	At     time.Time
	Action string
	Reason string
}

// String is the one-line description printed by `recoverydesk audit verify`.
func (b *Broken) String() string {
	if b.ID == 0 {
		return fmt.Sprintf("第 %d 条：%s", b.Seq, b.Reason)
	}
	return fmt.Sprintf("第 %d 条（id %d，%s，%s）：%s", b.Seq, b.ID,
		b.At.In(rules.Shanghai).Format("2006-01-02 15:04:05"), b.Action, b.Reason)
}

// verifyBatch is how many entries Verify reads per query.
const verifyBatch = 2000

// Verify walks the chain in order and reports the first entry whose link or
// hash does not hold: a changed row fails its own hash; a deleted row leaves
// a gap in seq and a broken link in the next one; rows moved around fail
// their links; entries cut from the end disagree with the head kept beside
// the log. It reads in batches, so its memory does not grow with the log.
func Verify(ctx context.Context, d *db.DB) (Report, error) {
	var rep Report
	// An entry written outside the chain (no seq) is itself a break.
	if row, err := d.Ent.AuditEvent.Query().Where(auditevent.SeqIsNil()).Order(ent.Asc(auditevent.FieldID)).First(ctx); err == nil {
		rep.FirstBroken = &Broken{ID: row.ID, At: row.At, Action: row.Action, Reason: "该记录不在哈希链中（缺少序号），可能是绕过系统直接写入的"}
		return rep, nil
	} else if !ent.IsNotFound(err) {
		return rep, err
	}
	// The head is read first: entries appended while the walk runs lie
	// beyond it and are left for the next check.
	head, hasHead, err := readHead(ctx, d.Ent)
	if err != nil {
		return rep, fmt.Errorf("read chain head: %w", err)
	}
	var prev link
	prevID := 0
	for {
		q := d.Ent.AuditEvent.Query().Where(auditevent.SeqGT(prev.Seq))
		if hasHead {
			q.Where(auditevent.SeqLTE(head.Seq))
		}
		rows, err := q.Order(ent.Asc(auditevent.FieldSeq)).Limit(verifyBatch).All(ctx)
		if err != nil {
			return rep, fmt.Errorf("read audit log: %w", err)
		}
		for _, row := range rows {
			rep.Checked++
			if reason := checkLink(row, prev, prevID); reason != "" {
				rep.FirstBroken = &Broken{Seq: *row.Seq, ID: row.ID, At: row.At, Action: row.Action, Reason: reason}
				return rep, nil
			}
			prev, prevID = link{Seq: *row.Seq, Hash: row.Hash}, row.ID
		}
		if len(rows) < verifyBatch {
			break
		}
	}
	switch {
	case !hasHead && prev.Seq == 0:
	case !hasHead:
		rep.FirstBroken = &Broken{Seq: prev.Seq, ID: prevID, Reason: "链头记录缺失，链头信息可能被篡改"}
		return rep, nil
	case head.Seq > prev.Seq:
		rep.FirstBroken = &Broken{Seq: prev.Seq + 1, Reason: fmt.Sprintf("日志末尾的第 %d 至 %d 条记录已被删除（链头记录为第 %d 条）", prev.Seq+1, head.Seq, head.Seq)}
		return rep, nil
	case head.Hash != prev.Hash:
		rep.FirstBroken = &Broken{Seq: prev.Seq, ID: prevID, Reason: "最后一条记录与链头记录的哈希不符"}
		return rep, nil
	}
	rep.Intact = true
	return rep, nil
}

// checkLink returns why row does not follow prev, or "" when it does.
func checkLink(row *ent.AuditEvent, prev link, prevID int) string {
	en := entryOf(row)
	switch {
	case en.Seq != prev.Seq+1:
		return fmt.Sprintf("第 %d 至 %d 条记录缺失（已被删除）", prev.Seq+1, en.Seq-1)
	case en.PrevHash != prev.Hash:
		return "与前一条记录的哈希链接不符（前一条记录被修改、删除或调换了位置）"
	case row.ID <= prevID:
		return "记录的写入顺序被改动"
	}
	want, err := en.digest()
	if err != nil || want != en.Hash {
		return "记录内容与其哈希不符（该记录被修改）"
	}
	return ""
}
