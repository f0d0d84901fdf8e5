package kvstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"entgo.io/ent/dialect/sql"

	"recoverydesk/ent"
	"recoverydesk/ent/kventry"
	"recoverydesk/internal/db"
)

// clockOffsetKey is the kv_entries row of the dev clock's shift.
const clockOffsetKey = "dev:clock-offset"

// ClockOffset keeps the dev clock's shift (clock.OffsetStore) in the
// database, so every instance of a dev deployment behind one proxy reads the
// same application time (CONTRACT §7). The value is the shift in
// nanoseconds, as decimal text.
type ClockOffset struct{ DB *db.DB }

// Load reads the shift; no row means none.
func (c ClockOffset) Load(ctx context.Context) (time.Duration, error) {
	return readOffset(ctx, c.DB.Ent)
}

// Add moves the shift by d under a database lock on the key (PostgreSQL's
// advisory lock; SQLite's write transaction), so two instances advancing at
// once both count.
func (c ClockOffset) Add(ctx context.Context, d time.Duration) (time.Duration, error) {
	var off time.Duration
	err := c.DB.InTx(ctx, func(tx *db.Tx) error {
		if err := tx.LockKey(ctx, clockOffsetKey); err != nil {
			return err
		}
		cur, err := readOffset(ctx, tx.Ent)
		if err != nil {
			return err
		}
		off = cur + d
		return writeOffset(ctx, tx.Ent, off)
	})
	return off, err
}

// Save replaces the shift.
func (c ClockOffset) Save(ctx context.Context, d time.Duration) error {
	return writeOffset(ctx, c.DB.Ent, d)
}

func readOffset(ctx context.Context, client *ent.Client) (time.Duration, error) {
	e, err := client.KVEntry.Query().Where(kventry.Key(clockOffsetKey)).Only(ctx)
	if ent.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the clock offset: %w", err)
	}
	n, err := strconv.ParseInt(string(e.Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("clock offset %q: %w", e.Value, err)
	}
	return time.Duration(n), nil
}

func writeOffset(ctx context.Context, client *ent.Client, d time.Duration) error {
	err := client.KVEntry.Create().SetKey(clockOffsetKey).SetValue([]byte(strconv.FormatInt(int64(d), 10))).
		OnConflict(sql.ConflictColumns(kventry.FieldKey)).UpdateNewValues().Exec(ctx)
	if err != nil {
		return fmt.Errorf("write the clock offset: %w", err)
	}
	return nil
}
