package recovery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
	"recoverydesk/storage"
)

// retentionFixture is the review fixture with a real MinIO store, whose
// cases' evidence objects really exist.
func retentionFixture(t *testing.T, d *db.DB) (*review, *storage.Store) {
	t.Helper()
	store := testenv.MinIO(t)
	keys, err := secret.New(bytes.Repeat([]byte("r"), 32))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewAdjustable()
	clk.Set(time.Date(2026, 3, 16, 9, 0, 0, 0, rules.Shanghai))
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing}, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return &review{d: d, clock: clk, svc: svc.Recovery, courier: svc.Courier, accounts: svc.Accounts}, store
}

// withObjects gives each evidence row of the case an object in the store
// under evidence/, as an upload would, and returns the rows.
func withObjects(t *testing.T, r *review, store *storage.Store, number string) []*ent.Evidence {
	t.Helper()
	ctx := context.Background()
	rc := r.get(t, number)
	var out []*ent.Evidence
	for _, e := range r.d.Ent.Evidence.Query().Where(evidence.CaseID(rc.ID)).AllX(ctx) {
		key := "evidence/" + rc.ID.String() + "/" + string(e.Kind)
		body := []byte("image of " + number + " " + string(e.Kind))
		sum := sha256.Sum256(body)
		if err := store.Put(ctx, key, bytes.NewReader(body), int64(len(body)), hex.EncodeToString(sum[:]), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		out = append(out, r.d.Ent.Evidence.UpdateOne(e).SetObjectKey(key).SaveX(ctx))
	}
	return out
}

func objectExists(t *testing.T, store *storage.Store, key string) bool {
	t.Helper()
	_, err := store.Stat(context.Background(), key)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func destroyedAudits(t *testing.T, d *db.DB) int {
	t.Helper()
	return d.Ent.AuditEvent.Query().Where(auditevent.Action(string(vocab.ActionEvidenceDestroyed))).CountX(context.Background())
}

// TestPurgeDestroysExactlyTheEvidenceOfFinallyDecidedCasesWithoutHold: with
// a one-day retention and the clock two days on, the purge destroys the
// evidence of the approved case whose password took effect and of the
// rejected case, and leaves alone the held case, the open case and the
// approval whose password never went out; one audit entry per object, and
// the chain verifies. An object left by a purge interrupted between its
// commit and its delete is deleted by the next run.
func TestPurgeDestroysExactlyTheEvidenceOfFinallyDecidedCasesWithoutHold(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		r, store := retentionFixture(t, d)
		jm := r.staff(t, "jm_reviewer", "4407")
		sup := r.staff(t, "jm_super", "4407")
		decide := func(number string, dec recovery.Decision) {
			t.Helper()
			dec.Version = r.claimed(t, jm, number)
			if err := r.svc.Decide(ctx, jm, number, dec); err != nil {
				t.Fatalf("decide %s: %v", number, err)
			}
		}

		approved, acc := r.submitted(t, false)
		rejected, _ := r.submitted(t, false)
		held, _ := r.submitted(t, false)
		open, _ := r.submitted(t, false)
		unsent, _ := r.submitted(t, false)
		rows := map[string][]*ent.Evidence{}
		for _, n := range []string{approved, rejected, held, open, unsent} {
			rows[n] = withObjects(t, r, store, n)
		}
		decide(approved, recovery.Decision{Outcome: "approve"})
		msg := d.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(d.Lookups(acc.Phone)...), smsmessage.Purpose(recovery.PurposePassword)).OnlyX(ctx)
		if err := r.courier.Deliver(ctx, msg.ID); err != nil {
			t.Fatal(err)
		}
		decide(rejected, recovery.Decision{Outcome: "reject", Reasons: []string{"unclear_image"}})
		decide(held, recovery.Decision{Outcome: "reject", Reasons: []string{"unclear_image"}})
		decide(unsent, recovery.Decision{Outcome: "approve"}) // its SMS is never delivered: not effective
		if err := r.svc.PlaceHold(ctx, sup, held, "  "); !errors.Is(err, recovery.ErrHoldReason) {
			t.Fatalf("a hold without a reason: %v", err)
		}
		if err := r.svc.PlaceHold(ctx, sup, held, "涉诉，法院调取"); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.PlaceHold(ctx, sup, held, "again"); !errors.Is(err, recovery.ErrAlreadyHeld) {
			t.Fatalf("a second hold: %v", err)
		}

		// Within retention nothing goes.
		if rep, err := r.svc.Purge(ctx, 24*time.Hour, false); err != nil || len(rep.Destroyed) != 0 {
			t.Fatalf("purge within retention: %+v, %v", rep, err)
		}
		r.clock.Advance(48 * time.Hour)
		before := d.Ent.AuditEvent.Query().CountX(ctx)

		dry, err := r.svc.Purge(ctx, 24*time.Hour, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := purged(dry); got != approved+" "+approved+" "+rejected+" "+rejected {
			t.Fatalf("dry run would destroy %q", got)
		}
		if d.Ent.AuditEvent.Query().CountX(ctx) != before || d.Ent.Evidence.Query().Where(evidence.DestroyedAtNotNil()).CountX(ctx) != 0 ||
			!objectExists(t, store, rows[approved][0].ObjectKey) {
			t.Fatal("the dry run changed something")
		}

		rep, err := r.svc.Purge(ctx, 24*time.Hour, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := purged(rep); got != approved+" "+approved+" "+rejected+" "+rejected || rep.Held != 1 {
			t.Fatalf("purge destroyed %q (held %d)", got, rep.Held)
		}
		for n, es := range rows {
			gone := n == approved || n == rejected
			for _, e := range es {
				row := d.Ent.Evidence.GetX(ctx, e.ID)
				if objectExists(t, store, e.ObjectKey) == gone || (row.DestroyedAt != nil) != gone {
					t.Errorf("case %s %s: object exists %t, destroyed_at %v; want destroyed %t", n, e.Kind, !gone, row.DestroyedAt, gone)
				}
				if row.Sha256 != e.Sha256 || row.Size != e.Size || row.Phash != e.Phash || row.Kind != e.Kind {
					t.Errorf("case %s %s: the row lost its kind, size or hashes", n, e.Kind)
				}
			}
		}
		if n := destroyedAudits(t, d); n != 4 {
			t.Fatalf("%d evidence.destroyed audit entries, want one per object (4)", n)
		}
		if v, err := audit.Verify(ctx, d); err != nil || !v.Intact {
			t.Fatalf("audit verify after the purge: %+v %v", v.FirstBroken, err)
		}
		// The case page and the image say so.
		w, err := r.svc.Workspace(ctx, jm, rejected)
		if err != nil || w.EvidenceDestroyedAt == nil {
			t.Fatalf("workspace of a purged case: %v, %v", w, err)
		}
		if _, err := r.svc.OpenEvidence(ctx, jm, rejected, "id_front"); !recovery.IsEvidenceDestroyed(err) ||
			!strings.Contains(err.Error(), "按保存期限销毁") {
			t.Fatalf("opening a destroyed image: %v", err)
		}

		// A purge interrupted after its commit leaves the object behind (the
		// state is made here by putting it back); the next run deletes it,
		// with no second audit entry. Lifting the hold lets the held case go.
		leftover := rows[approved][0].ObjectKey
		body := []byte("left over")
		sum := sha256.Sum256(body)
		if err := store.Put(ctx, leftover, bytes.NewReader(body), int64(len(body)), hex.EncodeToString(sum[:]), "image/jpeg"); err != nil {
			t.Fatal(err)
		}
		if err := r.svc.LiftHold(ctx, sup, held); err != nil {
			t.Fatal(err)
		}
		rep, err = r.svc.Purge(ctx, 24*time.Hour, false)
		if err != nil || rep.Healed != 1 || purged(rep) != held+" "+held {
			t.Fatalf("second purge: %q healed %d, %v", purged(rep), rep.Healed, err)
		}
		if objectExists(t, store, leftover) {
			t.Fatal("the object left by the interrupted purge is still there")
		}
		if n := destroyedAudits(t, d); n != 6 {
			t.Fatalf("%d evidence.destroyed audit entries after the second purge, want 6", n)
		}
		for _, action := range []string{"recovery.hold_placed", "recovery.hold_lifted"} {
			if n := d.Ent.AuditEvent.Query().Where(auditevent.Action(action)).CountX(ctx); n != 1 {
				t.Errorf("%d %s audit entries, want 1", n, action)
			}
		}
		if v, err := audit.Verify(ctx, d); err != nil || !v.Intact {
			t.Fatalf("audit verify after the second purge: %+v %v", v.FirstBroken, err)
		}
	})
}

// purged lists the case numbers of a purge's objects, sorted.
func purged(rep recovery.PurgeReport) string {
	var out []string
	for _, x := range rep.Destroyed {
		out = append(out, x.CaseNumber)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}
