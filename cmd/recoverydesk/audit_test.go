package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/opsmetrics"
)

// auditLog makes a data dir whose database holds n chained audit entries and
// returns the env for the binary and the open database (to tamper with).
func auditLog(t *testing.T, n int) ([]string, *db.DB) {
	t.Helper()
	dir := t.TempDir()
	d, err := db.Open(context.Background(), config.SQLite, config.SQLiteDSN(filepath.Join(dir, "recoverydesk.db")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		err := d.InTx(context.Background(), func(tx *db.Tx) error {
			return audit.Record(context.Background(), tx, audit.Event{ActorKind: audit.ActorStaff, Actor: "jm_reviewer",
				Action: "recovery.decided", ObjectType: "case", ObjectID: fmt.Sprintf("ZH20261127%06d", i), Detail: map[string]any{"outcome": "approve"}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return []string{"RD_DATA_DIR=" + dir}, d
}

func TestAuditVerifyExitsZeroOnAnUntouchedLog(t *testing.T) {
	env, _ := auditLog(t, 20)
	code, stdout, stderr := recoverydesk(t, env, "", "audit", "verify")
	if code != 0 || !strings.Contains(stdout, "审计日志完整：共 20 条记录") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestAuditVerifyNamesTheChangedEntry(t *testing.T) {
	env, d := auditLog(t, 20)
	if _, err := d.SQL.Exec("UPDATE audit_events SET object_id = 'ZH20261127999999' WHERE seq = 13"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := recoverydesk(t, env, "", "audit", "verify")
	if code != 1 || !strings.Contains(stdout, "第 13 条") || !strings.Contains(stdout, "该记录被修改") || !strings.Contains(stdout, "seq 13") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestAuditVerifyNamesTheEntryAfterADeletedOne(t *testing.T) {
	env, d := auditLog(t, 20)
	if _, err := d.SQL.Exec("DELETE FROM audit_events WHERE seq = 8"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := recoverydesk(t, env, "", "audit", "verify")
	if code != 1 || !strings.Contains(stdout, "第 9 条") || !strings.Contains(stdout, "第 8 至 8 条记录缺失") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestServeChecksTheAuditChainForMetrics: the periodic in-process check
// reports an intact chain as recoverydesk_audit_chain_ok 1 with the time it
// finished, and a changed entry as 0 at the next check.
func TestServeChecksTheAuditChainForMetrics(t *testing.T) {
	_, d := auditLog(t, 20)
	biz := opsmetrics.NewBusiness("outbox")
	reg := prometheus.NewRegistry()
	biz.Register(reg)
	gauge := func(name string) float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("%s not exported", name)
		return 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	go verifyAuditChain(ctx, d, biz, slog.New(slog.NewTextHandler(io.Discard, nil)), 0, 100*time.Millisecond)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
		}
	}
	waitFor("a first check", func() bool { return gauge(opsmetrics.NameAuditVerifiedAt) >= float64(start.Unix()) })
	if gauge(opsmetrics.NameAuditChainOK) != 1 {
		t.Fatal("an intact chain reported broken")
	}
	if _, err := d.SQL.Exec("UPDATE audit_events SET object_id = 'ZH20261127999999' WHERE seq = 7"); err != nil {
		t.Fatal(err)
	}
	waitFor("the change reported", func() bool { return gauge(opsmetrics.NameAuditChainOK) == 0 })
}
