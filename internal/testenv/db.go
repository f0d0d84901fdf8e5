// Package testenv gives tests the real things: a fresh database (SQLite, and
// PostgreSQL when RD_TEST_POSTGRES_URL is set), a real MinIO server, and a
// real Chromium. A missing dependency skips the test, or fails it when
// RD_TEST_REQUIRE_ALL=1 (as in CI), so a green CI run means everything ran.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
)

// SealingKeys seal ID and phone numbers in every test database, as the
// command that opens the database does in production (db.SealWith).
var SealingKeys = func() *secret.Keys {
	k, err := secret.New([]byte("testenv sealing key, 32 bytes or more"))
	if err != nil {
		panic(err)
	}
	return k
}()

// RequireAll reports whether missing dependencies must fail tests (CI).
func RequireAll() bool { return os.Getenv("RD_TEST_REQUIRE_ALL") == "1" }

// Missing skips the test because a dependency is absent, or fails it when
// RequireAll is set.
func Missing(t testing.TB, what string) {
	t.Helper()
	if RequireAll() {
		t.Fatalf("%s is required (RD_TEST_REQUIRE_ALL=1) but not available", what)
	}
	t.Skipf("%s not available; skipping", what)
}

// SQLite returns a migrated database in a fresh file of its own, closed after
// the test.
func SQLite(t testing.TB) *db.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	return open(t, config.SQLite, config.SQLiteDSN(path))
}

// Postgres returns a migrated, freshly created PostgreSQL database of its own,
// dropped after the test. Without RD_TEST_POSTGRES_URL the test is skipped
// (or fails under RD_TEST_REQUIRE_ALL=1).
func Postgres(t testing.TB) *db.DB {
	t.Helper()
	base := os.Getenv("RD_TEST_POSTGRES_URL")
	if base == "" {
		Missing(t, "PostgreSQL (RD_TEST_POSTGRES_URL)")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to RD_TEST_POSTGRES_URL: %v", err)
	}
	defer admin.Close(ctx)
	name := "rdtest_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse RD_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	d := open(t, config.Postgres, u.String())
	t.Cleanup(func() {
		d.Close()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop %s: %v", name, err)
		}
	})
	return d
}

// ForEachDB runs fn as a subtest on SQLite and, when RD_TEST_POSTGRES_URL is
// set, again on PostgreSQL, each on a fresh database.
func ForEachDB(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv("RD_TEST_POSTGRES_URL") != "" || RequireAll() {
		t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
	}
}

// AnotherInstance opens a second pool on the same database as d, as a second
// recoverydesk instance would, closed after the test.
func AnotherInstance(t testing.TB, d *db.DB) *db.DB {
	t.Helper()
	return open(t, d.Kind, d.DSN)
}

func open(t testing.TB, kind config.DBKind, dsn string) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, kind, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", kind, err)
	}
	d.SealWith(SealingKeys)
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		t.Fatalf("migrate %s: %v", kind, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return hex.EncodeToString(b)
}
