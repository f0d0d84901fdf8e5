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
)

// TestRebuiltChainContradictsItsAnchor: an administrator who rewrites an
// entry and recomputes every later hash and the head gets a chain that
// Verify calls intact; the anchor written before names the rewrite.
func TestRebuiltChainContradictsItsAnchor(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		store := testenv.Anchors(t)
		if _, err := audit.WriteAnchor(ctx, d, store, time.Now()); err != nil { // an empty log
			t.Fatal(err)
		}
		appendN(t, d, 6)
		first, err := audit.WriteAnchor(ctx, d, store, time.Now())
		if err != nil || first.Seq != 6 {
			t.Fatalf("anchor = %+v, %v", first, err)
		}
		appendN(t, d, 3)
		if _, err := audit.WriteAnchor(ctx, d, store, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
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
