package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// BenchmarkVerify measures a full check of a 100 000-entry chain, appended
// in one transaction with RecordAll.
func BenchmarkVerify(b *testing.B) {
	d := testenv.SQLite(b)
	ctx := context.Background()
	const n = 100_000
	start := time.Date(2026, 9, 1, 9, 0, 0, 0, time.UTC)
	events := make([]Event, n)
	for i := range events {
		events[i] = Event{At: start.Add(time.Duration(i) * time.Second), ActorKind: ActorStaff, Actor: "jm_reviewer",
			Action: "recovery.decided", ObjectType: "case", ObjectID: fmt.Sprintf("ZH20260901%06d", i),
			Detail: map[string]any{"outcome": "approve", "status": "approved"}}
	}
	if err := d.InTx(ctx, func(tx *db.Tx) error { return RecordAll(ctx, tx, events) }); err != nil {
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
