package db_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/schema"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

func newCase(t *testing.T, ctx context.Context, c *ent.Client) *ent.RecoveryCase {
	t.Helper()
	acc, err := c.Account.Create().SetKind("person").SetUsername("Zhang_san").SetUsernameKey("zhang_san").
		SetPasswordHash("x").SetName("张三").SetCertType("id_card").SetCertNumber("440703199001011234").
		SetPhone("13812341234").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
		SetTypedCertNumber("440703199001011234").SetTokenHash([]byte{1}).SetAccount(acc).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func TestIllegalStatusTransitionIsRefusedByTheHook(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rc := newCase(t, ctx, d.Ent)
		// draft → approved skips review: refused, and the row keeps its status.
		_, err := rc.Update().SetStatus(state.Approved).Save(ctx)
		var ite *state.IllegalTransitionError
		if !errors.As(err, &ite) || ite.From != state.Draft || ite.To != state.Approved {
			t.Fatalf("draft → approved: got %v, want IllegalTransitionError", err)
		}
		got, _ := d.Ent.RecoveryCase.Get(ctx, rc.ID)
		if got.Status != state.Draft {
			t.Fatalf("status changed to %s despite the refusal", got.Status)
		}
		// The legal path works, and a bulk status update is refused.
		for _, s := range []state.Status{state.Submitted, state.InReview, state.Approved} {
			if _, err := d.Ent.RecoveryCase.UpdateOneID(rc.ID).SetStatus(s).Save(ctx); err != nil {
				t.Fatalf("→ %s: %v", s, err)
			}
		}
		if _, err := d.Ent.RecoveryCase.Update().SetStatus(state.Submitted).Save(ctx); !errors.Is(err, schema.ErrBulkStatusUpdate) {
			t.Fatalf("bulk status update: got %v", err)
		}
		// A case cannot be born in any status but draft.
		acc := rc.QueryAccount().OnlyX(ctx)
		_, err = d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("44").SetTypedCertType("id_card").
			SetTypedCertNumber("x").SetTokenHash([]byte{2}).SetAccount(acc).SetStatus(state.Approved).Save(ctx)
		if !errors.As(err, &ite) {
			t.Fatalf("create as approved: got %v", err)
		}
	})
}

func TestAuditEventsAreAppendOnly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		ev, err := d.Ent.AuditEvent.Create().SetActorKind("system").SetActor("test").SetAction("created").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checks := map[string]error{}
		_, checks["update one"] = d.Ent.AuditEvent.UpdateOneID(ev.ID).SetHash("tampered").Save(ctx)
		_, checks["update"] = d.Ent.AuditEvent.Update().SetHash("tampered").Save(ctx)
		checks["delete one"] = d.Ent.AuditEvent.DeleteOneID(ev.ID).Exec(ctx)
		_, checks["delete"] = d.Ent.AuditEvent.Delete().Exec(ctx)
		for op, err := range checks {
			if !errors.Is(err, schema.ErrAppendOnly) {
				t.Errorf("%s: got %v, want ErrAppendOnly", op, err)
			}
		}
		got, err := d.Ent.AuditEvent.Get(ctx, ev.ID)
		if err != nil || got.Hash != "" {
			t.Fatalf("the audit row must be intact: %+v %v", got, err)
		}
	})
}

func TestInTxRollsBackEverything(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := d.InTx(ctx, func(tx *db.Tx) error {
			if _, err := tx.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("x").Save(ctx); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		if n := d.Ent.AuditEvent.Query().CountX(ctx); n != 0 {
			t.Fatalf("rolled-back row is visible: %d rows", n)
		}
	})
}

func TestInTxSupportsMultiStatementWrites(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		rc := newCase(t, ctx, d.Ent)
		acc := rc.QueryAccount().OnlyX(ctx)
		unit, err := d.Ent.Account.Create().SetKind("unit").SetUsername("jm_talent").SetUsernameKey("jm_talent").
			SetPasswordHash("x").SetName("江门市人才发展有限公司").SetCertType("uscc").SetCertNumber("91440703MA4UABCD1X").
			SetPhone("13812341234").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// An update that touches an edge runs several statements (the row,
		// then the unit's operator column); inside our transaction they must
		// all use the same *sql.Tx: a rollback undoes every one of them ...
		rollback := errors.New("rollback")
		err = d.InTx(ctx, func(tx *db.Tx) error {
			if err := tx.Ent.Account.UpdateOneID(acc.ID).SetName("王五").AddUnitIDs(unit.ID).Exec(ctx); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("rolled-back edge write: %v", err)
		}
		if got := d.Ent.Account.GetX(ctx, acc.ID); got.Name != "张三" {
			t.Fatalf("rolled-back name kept: %s", got.Name)
		}
		if n := d.Ent.Account.GetX(ctx, unit.ID).QueryOperator().CountX(ctx); n != 0 {
			t.Fatal("rolled-back edge write kept the unit's operator")
		}
		// ... and a commit keeps them all.
		err = d.InTx(ctx, func(tx *db.Tx) error {
			return tx.Ent.Account.UpdateOneID(acc.ID).SetName("李四").ClearLockedUntil().AddUnitIDs(unit.ID).Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Ent.Account.GetX(ctx, acc.ID); got.Name != "李四" {
			t.Fatalf("update lost: %s", got.Name)
		}
		if op, err := d.Ent.Account.GetX(ctx, unit.ID).QueryOperator().OnlyID(ctx); err != nil || op != acc.ID {
			t.Fatalf("unit's operator %d %v, want %d", op, err, acc.ID)
		}
		if ids := d.Ent.Account.GetX(ctx, acc.ID).QueryUnits().IDsX(ctx); len(ids) != 1 || ids[0] != unit.ID {
			t.Fatalf("operator's units %v, want [%d]", ids, unit.ID)
		}
	})
}

func TestTimesInMixedZonesCompareCorrectly(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		shanghai := time.FixedZone("CST", 8*3600)
		// 09:00 in Shanghai is 01:00 UTC: earlier than 02:00 UTC, though
		// "09" sorts after "02" as text.
		early := time.Date(2026, 3, 2, 9, 0, 0, 0, shanghai)
		late := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
		for _, at := range []time.Time{early, late} {
			d.Ent.AuditEvent.Create().SetActorKind("system").SetActor("t").SetAction("x").SetAt(at).ExecX(ctx)
		}
		n := d.Ent.AuditEvent.Query().Where(auditevent.AtLT(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))).CountX(ctx)
		if n != 1 {
			t.Fatalf("%d events before 01:30 UTC, want 1", n)
		}
		first := d.Ent.AuditEvent.Query().Order(ent.Asc(auditevent.FieldAt)).FirstX(ctx)
		if !first.At.Equal(early) {
			t.Fatalf("earliest is %v", first.At)
		}
	})
}

// Several instances started at once on an empty database all migrate: the
// migration lock makes the later ones wait and find the schema up to date,
// instead of racing to create the same tables (on PostgreSQL that race
// failed with a duplicate pg_type row).
func TestInstancesStartedTogetherAllMigrate(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if d.Kind == config.Postgres {
			if _, err := d.SQL.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
				t.Fatal(err)
			}
		} else {
			// A brand-new file beside the migrated one.
			d = testenv.AnotherInstance(t, d)
			fresh := filepath.Join(t.TempDir(), "empty.db")
			var err error
			if d, err = db.Open(ctx, config.SQLite, config.SQLiteDSN(fresh)); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
		}
		const instances = 4
		errs := make(chan error, instances)
		for range instances {
			other, err := db.Open(ctx, d.Kind, d.DSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { other.Close() })
			go func() { errs <- other.Migrate(ctx) }()
		}
		for range instances {
			if err := <-errs; err != nil {
				t.Errorf("an instance failed to migrate: %v", err)
			}
		}
		if _, err := d.Ent.AuditEvent.Query().Count(ctx); err != nil {
			t.Fatalf("the schema is not there after the concurrent migrations: %v", err)
		}
	})
}
