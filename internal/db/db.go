// Package db opens the database (SQLite or PostgreSQL), brings its schema up
// to date (ent tables and River's job tables), and runs domain transactions
// that bind ent and River to one *sql.Tx, so a state change, its audit row and
// the jobs it causes commit together or not at all.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"recoverydesk/ent"
	_ "recoverydesk/ent/runtime" // registers the schema hooks and defaults
	"recoverydesk/internal/config"
	"recoverydesk/internal/imagecheck"
)

// DB is an open database: the pool, an ent client on it, and its kind.
type DB struct {
	SQL     *sql.DB
	Ent     *ent.Client
	Kind    config.DBKind
	Dialect string
	// DSN is what the pool was opened with (tests open a second instance).
	DSN string
	// personal seals ID and phone numbers on every client of this
	// database, transactions' included (SealWith).
	personal *personal
}

// Open opens the database of the given kind. For SQLite it creates the
// file's directory first, so a fresh checkout needs no set-up.
func Open(ctx context.Context, kind config.DBKind, dsn string) (*DB, error) {
	var driverName, dia string
	switch kind {
	case config.SQLite:
		driverName, dia = "sqlite", dialect.SQLite
		if path := sqlitePath(dsn); path != "" {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
	case config.Postgres:
		driverName, dia = "pgx", dialect.Postgres
	default:
		return nil, fmt.Errorf("unknown database kind %q", kind)
	}
	pool, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", kind, err)
	}
	if kind == config.SQLite {
		// One writer at a time is SQLite's nature; a few connections let
		// readers proceed under WAL while busy_timeout queues the writers.
		pool.SetMaxOpenConns(4)
		pool.SetConnMaxIdleTime(0)
	} else {
		pool.SetMaxOpenConns(20)
		pool.SetMaxIdleConns(10)
		pool.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.PingContext(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", kind, err)
	}
	drv := entsql.OpenDB(dia, pool)
	d := &DB{SQL: pool, Ent: ent.NewClient(ent.Driver(drv)), Kind: kind, Dialect: dia, DSN: dsn, personal: &personal{}}
	d.personal.register(d.Ent)
	return d, nil
}

// sqlitePath extracts the file path from a modernc DSN ("file:PATH?…").
func sqlitePath(dsn string) string {
	p := strings.TrimPrefix(dsn, "file:")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p == ":memory:" {
		return ""
	}
	return p
}

// Close closes the pool.
func (d *DB) Close() error { return d.SQL.Close() }

// Migrate brings the ent tables and River's tables up to date. It is safe to
// run on every start, and by several instances at once: the migration holds
// a lock every migrating process takes (PostgreSQL: a session advisory lock;
// SQLite: an exclusive lock on a file beside the database), so the others
// wait and then find the schema up to date, instead of racing to create the
// same tables. With sealing keys (SealWith) it also seals, under the same
// lock, the ID and phone numbers an older build stored in clear: once per
// row, so later starts find nothing to do.
func (d *DB) Migrate(ctx context.Context) error {
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return d.migrate(ctx)
}

// migrationLockKey is the advisory lock key of schema migrations (any fixed
// number; "rdmigrat" in ASCII).
const migrationLockKey int64 = 0x72646d6967726174

// lockMigrations takes the migration lock and returns its release.
func (d *DB) lockMigrations(ctx context.Context) (func(), error) {
	if d.Kind == config.Postgres {
		// An advisory lock belongs to one session: hold a connection of our
		// own for it, while the migration runs on the pool.
		conn, err := d.SQL.Conn(ctx)
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
			conn.Close()
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		return func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLockKey)
			conn.Close()
		}, nil
	}
	path := sqlitePath(d.DSN)
	if path == "" {
		return func() {}, nil // an in-memory database has one process
	}
	f, err := os.OpenFile(path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func (d *DB) migrate(ctx context.Context) error {
	if err := d.Ent.Schema.Create(ctx); err != nil {
		return fmt.Errorf("migrate tables: %w", err)
	}
	for _, name := range staleIndexes {
		if _, err := d.SQL.ExecContext(ctx, "DROP INDEX IF EXISTS "+name); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	if err := d.fillPhashBands(ctx); err != nil {
		return err
	}
	migrator, err := rivermigrate.New(d.RiverDriver(), nil)
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job tables: %w", err)
	}
	if d.personal.keys.Load() != nil {
		if _, err := d.sealExisting(ctx, false); err != nil {
			return fmt.Errorf("seal personal numbers: %w", err)
		}
	}
	return nil
}

// staleIndexes are indexes of earlier releases that ent's migration keeps
// but nothing uses any more: those over the phone and ID number columns,
// which hold sealed (random-looking) values now; their keyed hashes are
// indexed instead.
// The evidence index over (kind, created_at, phash) served the near-duplicate
// scan the banded index replaced.
var staleIndexes = []string{"account_cert_type_cert_number", "account_phone", "smscode_phone_purpose_created_at",
	"smscode_phone_created_at", "smsmessage_phone_created_at", "outboxmessage_phone_created_at",
	"evidence_kind_created_at_phash"}

// Pending says what Migrate would still change, without changing anything:
// the statements the ent schema lacks, and River's job-table migrations not
// yet applied. Empty when the schema is up to date. recoverydesk doctor
// asks it, so checking a production database never alters it.
func (d *DB) Pending(ctx context.Context) ([]string, error) {
	var b strings.Builder
	if err := d.Ent.Schema.WriteTo(ctx, &b); err != nil {
		return nil, fmt.Errorf("compare tables: %w", err)
	}
	var out []string
	for _, stmt := range strings.Split(b.String(), "\n") {
		stmt = strings.TrimSpace(stmt)
		if stmt != "" && stmt != "BEGIN;" && stmt != "COMMIT;" {
			out = append(out, stmt)
		}
	}
	migrator, err := rivermigrate.New(d.RiverDriver(), nil)
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := migrator.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("compare job tables: %w", err)
	}
	return append(out, res.Messages...), nil
}

// fillPhashBands gives the evidence rows written before the band columns
// existed their bands (imagecheck.Bands, computed in SQL: an arithmetic
// right shift and a mask give the same bits of the signed 64-bit column on
// SQLite and PostgreSQL). Rows written since carry them already (the
// phashBands hook), so after the first run this updates nothing.
func (d *DB) fillPhashBands(ctx context.Context) error {
	sets := make([]string, imagecheck.PHashBands)
	for i := range sets {
		shift, width := imagecheck.BandBits(i)
		sets[i] = fmt.Sprintf("phash_b%d = (phash >> %d) & %d", i, shift, 1<<width-1)
	}
	q := "UPDATE evidences SET " + strings.Join(sets, ", ") + " WHERE phash IS NOT NULL AND phash_b0 IS NULL"
	if _, err := d.SQL.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("migrate: fill the perceptual hash bands: %w", err)
	}
	return nil
}

// RiverDriver is the River driver for this database on the shared pool.
func (d *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if d.Kind == config.SQLite {
		return riversqlite.New(d.SQL)
	}
	return riverdatabasesql.New(d.SQL)
}

// Ping checks that the database answers; /readyz uses it.
func (d *DB) Ping(ctx context.Context) error { return d.SQL.PingContext(ctx) }

// Tx is one domain transaction: ent bound to the *sql.Tx, and the *sql.Tx
// itself for River's InsertTx.
type Tx struct {
	SQL      *sql.Tx
	Ent      *ent.Client
	kind     config.DBKind
	personal *personal
	// atCommit is the work deferred to the end of the transaction (AtCommit),
	// in the order it was first asked for.
	atCommit []deferred
}

// deferred is one piece of work AtCommit keeps for the end of a transaction.
type deferred struct {
	key   any
	value any
	run   func(ctx context.Context, tx *Tx, value any) error
}

// AtCommit returns the value this transaction keeps under key: made by mk
// the first time, when run(value) is also set to run once, just before the
// commit, after fn of InTx has returned nil (a failing run rolls everything
// back). It is for work whose lock serialises every instance, such as
// appending to the audit chain: done last, the lock is held for the append
// and the commit only, not for the rest of the transaction.
func (tx *Tx) AtCommit(key any, mk func() any, run func(ctx context.Context, tx *Tx, value any) error) any {
	for _, d := range tx.atCommit {
		if d.key == key {
			return d.value
		}
	}
	v := mk()
	tx.atCommit = append(tx.atCommit, deferred{key: key, value: v, run: run})
	return v
}

// Postgres says whether the transaction is on PostgreSQL (for the few
// statements written for one database).
func (tx *Tx) Postgres() bool { return tx.kind == config.Postgres }

// finish runs the deferred work when fn succeeded (err is fn's result).
func (tx *Tx) finish(ctx context.Context, err error) error {
	if err != nil {
		return err
	}
	for _, d := range tx.atCommit {
		if err := d.run(ctx, tx, d.value); err != nil {
			return err
		}
	}
	return nil
}

// InTx runs fn in a transaction and commits when it returns nil; any error or
// panic rolls everything back, ent rows and River jobs alike.
func (d *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := d.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	client := ent.NewClient(ent.Driver(txDriver{entsql.NewDriver(d.Dialect, entsql.Conn{ExecQuerier: sqlTx})}))
	d.personal.register(client)
	tx := &Tx{SQL: sqlTx, Ent: client, kind: d.Kind, personal: d.personal}
	if err := tx.finish(ctx, fn(tx)); err != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// txDriver is an ent driver on an open *sql.Tx. ent opens its own
// transaction for multi-statement writes (an update with edges, a bulk
// create); inside ours those become no-op nested transactions on the same
// *sql.Tx instead of a second connection.
type txDriver struct{ *entsql.Driver }

// Tx returns a no-op transaction on the enclosing one.
func (d txDriver) Tx(context.Context) (dialect.Tx, error) { return dialect.NopTx(d.Driver), nil }

// LockKey serialises transactions that touch the same logical key (a phone
// number's send quota, a certificate number) until tx ends. PostgreSQL takes
// a transaction-scoped advisory lock; SQLite needs nothing, because its
// write transactions (BEGIN IMMEDIATE) are already serialised.
func (tx *Tx) LockKey(ctx context.Context, key string) error {
	if tx.kind != config.Postgres {
		return nil
	}
	if _, err := tx.SQL.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key); err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	return nil
}
