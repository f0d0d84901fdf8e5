package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/audit/audittest"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// writeAnchor writes the log's head to store as of at, as the hourly job
// does, and fails the test if it cannot.
func writeAnchor(t *testing.T, d *db.DB, store *storage.AnchorStore, at time.Time) audit.Anchor {
	t.Helper()
	a, err := audit.WriteAnchor(context.Background(), d, store, at)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRebuiltChainContradictsItsAnchor: an administrator who rewrites an
// entry and recomputes every later hash and the head gets a chain that
// Verify calls intact; the anchor written before names the rewrite.
func TestRebuiltChainContradictsItsAnchor(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		store := testenv.Anchors(t)
		writeAnchor(t, d, store, time.Now()) // an empty log
		appendN(t, d, 6)
		first := writeAnchor(t, d, store, time.Now())
		if first.Seq != 6 {
			t.Fatalf("anchor = %+v", first)
		}
		appendN(t, d, 3)
		writeAnchor(t, d, store, time.Now().Add(time.Second))
		rep, err := audit.VerifyAnchors(ctx, d, store)
		if err != nil || rep.Anchors != 3 || rep.Contradicted != nil {
			t.Fatalf("untouched log: %+v, %v", rep, err)
		}

		if err := audittest.RebuildChain(ctx, d, 4, "ZH20261102999999"); err != nil {
			t.Fatal(err)
		}
		if v := verify(t, d); !v.Intact {
			t.Fatalf("the rebuilt chain should pass the chain check alone: %v", v.FirstBroken)
		}
		rep, err = audit.VerifyAnchors(ctx, d, store)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Contradicted == nil || rep.Contradicted.Key != first.Key || !strings.Contains(rep.Reason, "第 6 条") ||
			!strings.Contains(rep.Reason, "重建") {
			t.Fatalf("rebuilt chain: %+v %q; want the anchor %s named", rep.Contradicted, rep.Reason, first.Key)
		}
	})
}
