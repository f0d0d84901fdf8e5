package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
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
