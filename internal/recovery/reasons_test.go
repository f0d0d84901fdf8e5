package recovery_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/testenv"
)

func TestValidReasonCode(t *testing.T) {
	for code, want := range map[string]bool{
		"unclear_image": true, "other": true, "photo2_expired": true, "a": true,
		"": false, "Unclear": false, "2fast": false, "_x": false, "x_": false, "a__b": false,
		"bad-code": false, "中文": false, "has space": false, "a2345678901234567890123456789012345678901": false, "a234567890123456789012345678901234567890": true,
	} {
		if got := recovery.ValidReasonCode(code); got != want {
			t.Errorf("ValidReasonCode(%q) = %v", code, got)
		}
	}
}

func TestDefaultReasonsAreInsertedOnceByInstancesStartingTogether(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// Two instances on one database, each read by several requests at once.
		services := []*recovery.Service{
			recovery.New(recovery.Deps{DB: d, Clock: clock.NewAdjustable()}),
			recovery.New(recovery.Deps{DB: d, Clock: clock.NewAdjustable()}),
		}
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := services[i%2].Reasons(ctx); err != nil {
					t.Errorf("reasons: %v", err)
				}
			}()
		}
		wg.Wait()
		if n := d.Ent.ReasonCode.Query().CountX(ctx); n != len(recovery.DefaultReasons()) {
			t.Fatalf("%d reason rows, want %d", n, len(recovery.DefaultReasons()))
		}
		got, err := services[0].Reasons(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range recovery.DefaultReasons() {
			if got[i] != r {
				t.Fatalf("reason %d: %+v, want %+v", i, got[i], r)
			}
		}
	})
}

func TestReasonCatalogChanges(t *testing.T) {
	d := testenv.SQLite(t)
	ctx := context.Background()
	svc := recovery.New(recovery.Deps{DB: d, Clock: clock.NewAdjustable()})
	if err := svc.AddReason(ctx, "gd_admin", "photo_expired", "  证件已过期  "); err != nil {
		t.Fatal(err)
	}
	if err := svc.AddReason(ctx, "gd_admin", "photo_expired", "again"); !errors.Is(err, recovery.ErrReasonTaken) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := svc.AddReason(ctx, "gd_admin", "new_one", ""); !errors.Is(err, recovery.ErrReasonText) {
		t.Fatalf("empty text: %v", err)
	}
	if err := svc.EditReason(ctx, "gd_admin", "nope", "x"); !errors.Is(err, recovery.ErrReasonNotFound) {
		t.Fatalf("edit unknown: %v", err)
	}
	// Moving the first up and the last down changes nothing; moving up swaps.
	if err := svc.MoveReason(ctx, "gd_admin", "unclear_image", -1); err != nil {
		t.Fatal(err)
	}
	if err := svc.MoveReason(ctx, "gd_admin", "photo_expired", 1); err != nil {
		t.Fatal(err)
	}
	if err := svc.MoveReason(ctx, "gd_admin", "photo_expired", -1); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetReasonActive(ctx, "gd_admin", "handheld_mismatch", false); err != nil {
		t.Fatal(err)
	}
	all, err := svc.ReasonCatalog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for i, r := range all {
		codes = append(codes, r.Code)
		if r.Position != i+1 {
			t.Errorf("%s at position %d, row %d", r.Code, r.Position, i+1)
		}
	}
	want := "unclear_image handheld_mismatch license_no_seal letter_irregular info_mismatch photo_expired other"
	if got := strings.Join(codes, " "); got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if all[5].Text != "证件已过期" {
		t.Fatalf("text not trimmed: %q", all[5].Text)
	}
	active, err := svc.Reasons(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != len(all)-1 {
		t.Fatalf("%d active reasons of %d, want all but the retired one", len(active), len(all))
	}
	for _, r := range active {
		if r.Code == "handheld_mismatch" {
			t.Fatal("a retired reason is offered")
		}
	}
	// One audit entry per change that happened; no-ops and refusals write none.
	for action, want := range map[string]int{"reason.added": 1, "reason.moved": 1, "reason.retired": 1, "reason.edited": 0} {
		if n := d.Ent.AuditEvent.Query().Where(auditevent.Action(action)).CountX(ctx); n != want {
			t.Errorf("%d %s entries, want %d", n, action, want)
		}
	}
}
