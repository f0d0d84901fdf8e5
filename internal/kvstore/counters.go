package kvstore

import (
	"context"
	"fmt"
	"time"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
)

// Counters are fixed-window hit counters (rate limits) in kv_entries. Each
// hit is one atomic statement in the database — an upsert that adds one, or
// starts a new window when the old one has ended, and returns the result —
// so several instances on one database count exactly: no hit is lost
// between a read and a write, and none is counted twice.
type Counters struct {
	db *db.DB
	keyspace
}

// NewCounters returns counters whose keys get prefix. Windows are read on
// clk, the application clock, like every other time rule.
func NewCounters(d *db.DB, prefix string, clk clock.Clock) *Counters {
	return &Counters{db: d, keyspace: keyspace{prefix: prefix, clock: clk}}
}

// hitSQL is the one statement of a hit, per dialect: insert the counter
// at 1 with its window's end, or, on an existing key, add one within the
// window and start over at 1 once it has ended. Both SET expressions read
// the row as it was before the statement.
var hitSQL = map[config.DBKind]string{
	config.SQLite: `INSERT INTO kv_entries ("key", "value", "expires_at", "hits") VALUES (?1, x'', ?2, 1)
ON CONFLICT ("key") DO UPDATE SET
  "hits" = CASE WHEN kv_entries."expires_at" <= ?3 THEN 1 ELSE kv_entries."hits" + 1 END,
  "expires_at" = CASE WHEN kv_entries."expires_at" <= ?3 THEN excluded."expires_at" ELSE kv_entries."expires_at" END
RETURNING "hits", "expires_at"`,
	config.Postgres: `INSERT INTO kv_entries ("key", "value", "expires_at", "hits") VALUES ($1, ''::bytea, $2, 1)
ON CONFLICT ("key") DO UPDATE SET
  "hits" = CASE WHEN kv_entries."expires_at" <= $3 THEN 1 ELSE kv_entries."hits" + 1 END,
  "expires_at" = CASE WHEN kv_entries."expires_at" <= $3 THEN excluded."expires_at" ELSE kv_entries."expires_at" END
RETURNING "hits", "expires_at"`,
}

// Hit counts one hit on key in a window of the given length and returns the
// hits so far in the current window (this one included) and how long until
// the window ends (whole seconds, at least one). The caller compares the
// count with its limit.
func (c *Counters) Hit(ctx context.Context, key string, window time.Duration) (int, time.Duration, error) {
	q, ok := hitSQL[c.db.Kind]
	if !ok {
		return 0, 0, fmt.Errorf("counter hit: no statement for %q", c.db.Kind)
	}
	ctx, cancel := c.ctx(ctx)
	defer cancel()
	now := c.clock.Now()
	var hits int
	var ends int64
	err := c.db.SQL.QueryRowContext(ctx, q, c.prefix+key, now.Add(window).Unix(), now.Unix()).Scan(&hits, &ends)
	if err != nil {
		return 0, 0, fmt.Errorf("counter hit: %w", err)
	}
	return hits, time.Duration(max(ends-now.Unix(), 1)) * time.Second, nil
}
