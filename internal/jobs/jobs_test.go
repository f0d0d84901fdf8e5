package jobs_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/riverqueue/river"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/testenv"
)

// startWorkers starts the job workers on d, as serve does, with an outbox
// courier queueing through ins; they stop when the test ends.
func startWorkers(t *testing.T, d *db.DB, ins sms.Inserter) {
	t.Helper()
	keys, _ := secret.New(bytes.Repeat([]byte("j"), 32))
	courier := sms.NewCourier(keys, sms.NewOutbox(d, keys, clock.Real{}), d, clock.Real{}, ins)
	runner, err := jobs.Start(context.Background(), d, slog.Default(), jobs.Deps{Courier: courier}, jobs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Stop(context.Background()) })
}

// A delivery job queued by the release that gave up after 5 tries gets
// today's bound when the workers start, so its message is not left queued
// for good once it has failed 5 times.
func TestOldDeliveryJobsAreLiftedToTodaysBound(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ins, err := jobs.NewInserter(d, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.InTx(ctx, func(tx *db.Tx) error {
			_, err := ins.InsertTx(ctx, tx.SQL, sms.DeliverArgs{MessageID: 999}, &river.InsertOpts{Queue: "elsewhere", MaxAttempts: 5})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		startWorkers(t, d, ins)
		var max int
		if err := d.SQL.QueryRowContext(ctx, "SELECT max_attempts FROM river_job WHERE kind = 'sms_deliver'").Scan(&max); err != nil {
			t.Fatal(err)
		}
		if max != sms.MaxAttempts {
			t.Fatalf("max_attempts = %d, want %d", max, sms.MaxAttempts)
		}
	})
}
