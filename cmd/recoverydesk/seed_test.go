package main

import (
	"strings"
	"testing"

	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
)

// TestSeedDemoAddsAHistory: the demo database holds a few thousand cases in
// every status, decided by several reviewers, with evidence rows, and the
// printed summary says so.
func TestSeedDemoAddsAHistory(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := recoverydesk(t, []string{"RD_DATA_DIR=" + dir}, "", "seed", "--demo")
	if code != 0 {
		t.Fatalf("seed: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "History: 3000 cases over the last 4 months") {
		t.Fatalf("no history summary:\n%s", stdout)
	}
	cfg, _ := config.Load(config.FromMap(map[string]string{"RD_DATA_DIR": dir}))
	ctx := t.Context()
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := d.Ent.RecoveryCase.Query().CountX(ctx); n != demoHistory {
		t.Errorf("%d cases", n)
	}
	for _, s := range []state.Status{state.Submitted, state.Approved, state.Rejected, state.Returned} {
		if d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(s)).CountX(ctx) == 0 {
			t.Errorf("no %s case", s)
		}
	}
	var deciders []int
	if err := d.Ent.RecoveryCase.Query().Where(recoverycase.DecidedByNotNil()).Unique(true).
		Select(recoverycase.FieldDecidedBy).Scan(ctx, &deciders); err != nil {
		t.Fatal(err)
	}
	if len(deciders) < 10 {
		t.Errorf("decided by %d staff", len(deciders))
	}
	if n := d.Ent.Evidence.Query().Where(evidence.SizeGT(0)).CountX(ctx); n < demoEvidenceCases*2 {
		t.Errorf("%d evidence rows", n)
	}
}
