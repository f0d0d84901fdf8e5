//go:build faults

package faults

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// adminURL is the PostgreSQL server the suite makes its databases on
// (RD_FAULTS_POSTGRES_URL, or the local trust-auth server).
func adminURL() string {
	if u := os.Getenv("RD_FAULTS_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// pg is one fresh database of a scenario.
type pg struct {
	URL string
	DB  *sql.DB
}

// freshDB creates an empty database for t and drops it when t ends.
func freshDB(t *testing.T) *pg {
	t.Helper()
	admin, err := sql.Open("pgx", adminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "rd_faults_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	u, _ := url.Parse(adminURL())
	u.Path = "/" + name
	p := &pg{URL: u.String()}
	if p.DB, err = sql.Open("pgx", p.URL); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the servers (registered later) stopped.
	t.Cleanup(func() {
		p.DB.Close()
		if os.Getenv("RD_FAULTS_KEEP") != "" {
			t.Logf("kept database %s", name)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	return p
}

// one reads a single value.
func (p *pg) one(t *testing.T, dest any, query string, args ...any) {
	t.Helper()
	if err := p.DB.QueryRow(query, args...).Scan(dest); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// smsRow is a message in the courier's table as an operator would query it.
type smsRow struct {
	ID        int
	Status    string
	SendCount int
	LastError string
	SentAt    sql.NullTime
	Ref       string
}

// passwordMessages lists the password messages of a case.
func (p *pg) passwordMessages(t *testing.T, caseNumber string) []smsRow {
	t.Helper()
	rows, err := p.DB.Query(`SELECT m.id, m.status, m.send_count, m.last_error, m.sent_at, m.ref FROM sms_messages m
		JOIN recovery_cases c ON m.ref = 'case:' || c.id::text
		WHERE c.case_number = $1 AND m.purpose = 'password' ORDER BY m.id`, caseNumber)
	if err != nil {
		t.Fatalf("password messages of %s: %v", caseNumber, err)
	}
	defer rows.Close()
	var out []smsRow
	for rows.Next() {
		var r smsRow
		if err := rows.Scan(&r.ID, &r.Status, &r.SendCount, &r.LastError, &r.SentAt, &r.Ref); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// caseStatus is a case's status in the database.
func (p *pg) caseStatus(t *testing.T, caseNumber string) string {
	t.Helper()
	var s string
	p.one(t, &s, `SELECT status FROM recovery_cases WHERE case_number = $1`, caseNumber)
	return s
}

// pendingEffectiveAt is when the pending password of the case's account takes effect.
func (p *pg) pendingEffectiveAt(t *testing.T, caseNumber string) sql.NullTime {
	t.Helper()
	var at sql.NullTime
	p.one(t, &at, `SELECT a.pending_effective_at FROM accounts a JOIN recovery_cases c ON c.account_cases = a.id
		WHERE c.case_number = $1`, caseNumber)
	return at
}

// jobStates counts River's sms_deliver jobs by state, for the log.
func (p *pg) jobStates(t *testing.T) string {
	t.Helper()
	rows, err := p.DB.Query(`SELECT state, count(*) FROM river_job WHERE kind = 'sms_deliver' GROUP BY state ORDER BY state`)
	if err != nil {
		return fmt.Sprintf("(river_job: %v)", err)
	}
	defer rows.Close()
	out := ""
	for rows.Next() {
		var s string
		var n int
		_ = rows.Scan(&s, &n)
		out += fmt.Sprintf("%s=%d ", s, n)
	}
	return out
}
