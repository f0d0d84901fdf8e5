package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// BenchmarkVerify measures a full check of a 100 000-entry chain, written in
// bulk (the same encoding Record uses, without a transaction per entry).
func BenchmarkVerify(b *testing.B) {
	d := testenv.SQLite(b)
	ctx := context.Background()
	const n = 100_000
	var prev link
	start := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	err := d.InTx(ctx, func(tx *db.Tx) error {
		batch := make([]*ent.AuditEventCreate, 0, 1000)
		for i := 0; i < n; i++ {
			en, err := newEntry(Event{At: start.Add(time.Duration(i) * time.Second), ActorKind: ActorStaff, Actor: "jm_reviewer",
				Action: "recovery.decided", ObjectType: "case", ObjectID: fmt.Sprintf("ZH20260901%06d", i),
				Detail: map[string]any{"outcome": "approve", "status": "approved"}}, prev)
			if err != nil {
				return err
			}
			batch = append(batch, tx.Ent.AuditEvent.Create().SetSeq(en.Seq).SetAt(en.At).SetActorKind(en.ActorKind).
				SetActor(en.Actor).SetAction(en.Action).SetObjectType(en.ObjectType).SetObjectID(en.ObjectID).
				SetDetail(en.Detail).SetPrevHash(en.PrevHash).SetHash(en.Hash))
			prev = link{Seq: en.Seq, Hash: en.Hash}
			if len(batch) == cap(batch) {
				if err := tx.Ent.AuditEvent.CreateBulk(batch...).Exec(ctx); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		return saveHead(ctx, tx, prev.Seq, prev.Hash)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := Verify(ctx, d)
		if err != nil || !rep.Intact || rep.Checked != n {
			b.Fatalf("%+v %v", rep, err)
		}
	}
}
