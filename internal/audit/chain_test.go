package audit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/testenv"
)

// appendN records n events, one transaction each, with details of every
// shape that crosses the database (numbers, times, lists, nested maps).
func appendN(t *testing.T, d *db.DB, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		recordOne(t, d, i)
	}
}

func recordOne(t testing.TB, d *db.DB, i int) {
	t.Helper()
	at := time.Date(2026, 11, 2, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600)).Add(time.Duration(i) * time.Minute)
	err := d.InTx(context.Background(), func(tx *db.Tx) error {
		return audit.Record(context.Background(), tx, audit.Event{At: at, ActorKind: audit.ActorStaff, Actor: fmt.Sprintf("reviewer%d", i%3),
			Action: "recovery.decided", ObjectType: "case", ObjectID: fmt.Sprintf("ZH20261102%06d", i),
			Detail: map[string]any{"n": i, "ratio": 0.5, "until": at, "reasons": []string{"blurry", "<seal>"}, "nested": map[string]any{"z": 1, "a": "甲"}},
			IP:     "10.0.0.1", RequestID: fmt.Sprintf("req-%d", i)})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, d *db.DB) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestUntouchedChainVerifies(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		if rep := verify(t, d); !rep.Intact || rep.Checked != 0 {
			t.Fatalf("empty log: %+v", rep)
		}
		appendN(t, d, 12)
		rep := verify(t, d)
		if !rep.Intact || rep.Checked != 12 || rep.FirstBroken != nil {
			t.Fatalf("untouched log of 12: %+v %v", rep, rep.FirstBroken)
		}
	})
}

// TestFiftyConcurrentAppendsLeaveAnIntactChain appends from two instances
// (two pools on one database) at once, as two servers would.
func TestFiftyConcurrentAppendsLeaveAnIntactChain(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		instances := []*db.DB{d, testenv.AnotherInstance(t, d)}
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 1; i <= 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- instances[i%2].InTx(context.Background(), func(tx *db.Tx) error {
					return audit.Record(context.Background(), tx, audit.Event{ActorKind: audit.ActorSystem, Actor: "system",
						Action: "test.concurrent", Detail: map[string]any{"i": i}})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rep := verify(t, d)
		if !rep.Intact || rep.Checked != 50 {
			t.Fatalf("after 50 concurrent appends: %+v %v", rep, rep.FirstBroken)
		}
		var seqs []int64
		if err := d.Ent.AuditEvent.Query().Select("seq").Scan(context.Background(), &seqs); err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		for _, s := range seqs {
			seen[s] = true
		}
		for s := int64(1); s <= 50; s++ {
			if !seen[s] {
				t.Fatalf("seq %d missing from %v", s, seqs)
			}
		}
	})
}

// rowID is the database id of the entry with this seq.
func rowID(t *testing.T, d *db.DB, seq int) int {
	t.Helper()
	var id int
	if err := d.SQL.QueryRow("SELECT id FROM audit_events WHERE seq = " + fmt.Sprint(seq)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTamperingBreaksTheChainFromThere changes the database behind the
// application's back, as someone with database access would, and expects the
// check to name the first entry that no longer holds.
func TestTamperingBreaksTheChainFromThere(t *testing.T) {
	cases := []struct {
		name      string
		tamper    func(t *testing.T, d *db.DB)
		brokenSeq int64
		reason    string
	}{
		{"one field changed", func(t *testing.T, d *db.DB) {
			exec(t, d, fmt.Sprintf("UPDATE audit_events SET actor = 'someone_else' WHERE id = %d", rowID(t, d, 5)))
		}, 5, "被修改"},
		{"detail changed", func(t *testing.T, d *db.DB) {
			exec(t, d, fmt.Sprintf("UPDATE audit_events SET detail = '{\"n\":99}' WHERE id = %d", rowID(t, d, 3)))
		}, 3, "被修改"},
		{"time moved", func(t *testing.T, d *db.DB) {
			id := rowID(t, d, 7)
			var at time.Time
			if err := d.SQL.QueryRow(fmt.Sprintf("SELECT at FROM audit_events WHERE id = %d", id)).Scan(&at); err != nil {
				t.Fatal(err)
			}
			_, err := d.SQL.Exec(placeholders(d, "UPDATE audit_events SET at = ? WHERE id = ?"), at.Add(-time.Hour), id)
			if err != nil {
				t.Fatal(err)
			}
		}, 7, "被修改"},
		{"a row deleted", func(t *testing.T, d *db.DB) {
			exec(t, d, fmt.Sprintf("DELETE FROM audit_events WHERE id = %d", rowID(t, d, 4)))
		}, 5, "缺失"},
		{"a row deleted and the later ones renumbered", func(t *testing.T, d *db.DB) {
			exec(t, d, fmt.Sprintf("DELETE FROM audit_events WHERE id = %d", rowID(t, d, 4)))
			for s := 5; s <= 10; s++ {
				exec(t, d, fmt.Sprintf("UPDATE audit_events SET seq = %d WHERE seq = %d", s-1, s))
			}
		}, 4, "哈希链接不符"},
		{"two rows swapped", func(t *testing.T, d *db.DB) {
			a, b := rowID(t, d, 6), rowID(t, d, 8)
			exec(t, d, fmt.Sprintf("UPDATE audit_events SET seq = -1 WHERE id = %d", a))
			exec(t, d, fmt.Sprintf("UPDATE audit_events SET seq = 6 WHERE id = %d", b))
			exec(t, d, fmt.Sprintf("UPDATE audit_events SET seq = 8 WHERE id = %d", a))
		}, 6, "不符"},
		{"the newest rows cut off", func(t *testing.T, d *db.DB) {
			exec(t, d, "DELETE FROM audit_events WHERE seq >= 9")
		}, 9, "已被删除"},
		{"a row slipped in without the chain", func(t *testing.T, d *db.DB) {
			exec(t, d, "INSERT INTO audit_events (at, actor_kind, actor, action, object_type, object_id, ip, request_id, prev_hash, hash) "+
				"VALUES ('2026-11-02 10:00:00+00:00', 'staff', 'x', 'forged', '', '', '', '', '', '')")
		}, 0, "不在哈希链中"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
				appendN(t, d, 10)
				tc.tamper(t, d)
				rep := verify(t, d)
				if rep.Intact || rep.FirstBroken == nil {
					t.Fatalf("tampered log verified as intact: %+v", rep)
				}
				if rep.FirstBroken.Seq != tc.brokenSeq || !strings.Contains(rep.FirstBroken.Reason, tc.reason) {
					t.Fatalf("first broken: %v, want seq %d with %q", rep.FirstBroken, tc.brokenSeq, tc.reason)
				}
			})
		})
	}
}

// TestAppendAfterTamperingStillReportsIt: new entries chain onto whatever
// is there, but the earlier break is still found.
func TestAppendAfterTamperingStillReportsIt(t *testing.T) {
	d := testenv.SQLite(t)
	appendN(t, d, 5)
	exec(t, d, fmt.Sprintf("UPDATE audit_events SET action = 'nothing' WHERE id = %d", rowID(t, d, 2)))
	recordOne(t, d, 6)
	if rep := verify(t, d); rep.Intact || rep.FirstBroken.Seq != 2 {
		t.Fatalf("%+v %v", rep, rep.FirstBroken)
	}
}

func exec(t *testing.T, d *db.DB, q string) {
	t.Helper()
	if _, err := d.SQL.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// placeholders rewrites ? to $n for PostgreSQL.
func placeholders(d *db.DB, q string) string {
	if d.Kind != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestRecordAllChainsABatch: a bulk append (mixed details, more than one
// statement's worth) chains like single appends, before and after them.
func TestRecordAllChainsABatch(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		appendN(t, d, 3)
		events := make([]audit.Event, 1203)
		for i := range events {
			events[i] = audit.Event{ActorKind: audit.ActorSystem, Actor: "seed", Action: "test.bulk"}
			if i%2 == 0 {
				events[i].Detail = map[string]any{"i": i}
			}
		}
		err := d.InTx(context.Background(), func(tx *db.Tx) error { return audit.RecordAll(context.Background(), tx, events) })
		if err != nil {
			t.Fatal(err)
		}
		recordOne(t, d, 4)
		if rep := verify(t, d); !rep.Intact || rep.Checked != 3+1203+1 {
			t.Fatalf("%+v %v", rep, rep.FirstBroken)
		}
	})
}

func TestNumbersAreMaskedBeforeTheyAreStored(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		id := "440703199001011239"
		err := d.InTx(ctx, func(tx *db.Tx) error {
			return audit.Record(ctx, tx, audit.Event{At: time.Now(), ActorKind: audit.ActorStaff, Actor: "13912345678",
				Action: "staff.login_failure", Detail: map[string]any{"phone": "13912345678", "notes": []any{"身份证 " + id}}})
		})
		if err != nil {
			t.Fatal(err)
		}
		e := d.Ent.AuditEvent.Query().OnlyX(ctx)
		raw := fmt.Sprint(e.Actor, e.Detail)
		if strings.Contains(raw, "13912345678") || strings.Contains(raw, id) || !strings.Contains(raw, "139****5678") {
			t.Fatalf("stored %s", raw)
		}
		if rep := verify(t, d); !rep.Intact {
			t.Fatalf("the chain of a masked entry: %+v", rep)
		}
	})
}

// TestChainLockIsHeldOnlyAtCommit: a transaction that has recorded an entry
// and then goes on working (a slow request, a descheduled process) does not
// hold up the audited writes of other transactions and instances: its entry
// is appended, under the chain lock, when it commits. Both entries still
// chain, in commit order. PostgreSQL only: SQLite runs one write
// transaction at a time whatever it writes.
func TestChainLockIsHeldOnlyAtCommit(t *testing.T) {
	func(d *db.DB) {
		ctx := context.Background()
		other := testenv.AnotherInstance(t, d)
		recorded, otherDone := make(chan struct{}), make(chan time.Duration, 1)
		slowErr := make(chan error, 1)
		go func() {
			slowErr <- d.InTx(ctx, func(tx *db.Tx) error {
				if err := audit.Record(ctx, tx, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "test.slow"}); err != nil {
					return err
				}
				close(recorded)
				select { // still working until the other transaction is done
				case <-otherDone:
				case <-time.After(10 * time.Second):
				}
				return nil
			})
		}()
		<-recorded
		start := time.Now()
		err := other.InTx(ctx, func(tx *db.Tx) error {
			return audit.Record(ctx, tx, audit.Event{ActorKind: audit.ActorSystem, Actor: "system", Action: "test.quick"})
		})
		took := time.Since(start)
		otherDone <- took
		if err != nil {
			t.Fatal(err)
		}
		if err := <-slowErr; err != nil {
			t.Fatal(err)
		}
		if took > 5*time.Second {
			t.Fatalf("an audited write waited %v for another transaction that had recorded an entry and was still open", took)
		}
		rep := verify(t, d)
		if !rep.Intact || rep.Checked != 2 {
			t.Fatalf("after the two appends: %+v %v", rep, rep.FirstBroken)
		}
		rows, err := d.SQL.Query("SELECT action FROM audit_events ORDER BY seq")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var actions []string
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			actions = append(actions, a)
		}
		if strings.Join(actions, ",") != "test.quick,test.slow" {
			t.Fatalf("chain order %v, want the commit order test.quick, test.slow", actions)
		}
	}(testenv.Postgres(t))
}

// TestAppendAfterACutStillReportsIt: entries cut from the end of the log
// stay a gap after the next append, which follows the head kept beside the
// log rather than what is left of it. A head set back by hand (behind the
// log) is not followed: the append links to the log's own end, and is not
// refused.
func TestAppendAfterACutStillReportsIt(t *testing.T) {
	t.Run("cut", func(t *testing.T) {
		testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
			appendN(t, d, 10)
			exec(t, d, "DELETE FROM audit_events WHERE seq >= 9")
			recordOne(t, d, 11)
			rep := verify(t, d)
			if rep.Intact || rep.FirstBroken == nil || rep.FirstBroken.Seq != 11 || !strings.Contains(rep.FirstBroken.Reason, "缺失") {
				t.Fatalf("after a cut and an append: %+v %v, want the gap 9–10 reported at 11", rep, rep.FirstBroken)
			}
		})
	})
	t.Run("head set back", func(t *testing.T) {
		testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
			appendN(t, d, 6)
			exec(t, d, "UPDATE kv_entries SET value = "+map[string]string{"sqlite": "CAST('2:x' AS BLOB)", "postgres": "'2:x'::bytea"}[string(d.Kind)]+
				" WHERE key = 'audit:chain-head'")
			recordOne(t, d, 7)
			if rep := verify(t, d); !rep.Intact || rep.Checked != 7 {
				t.Fatalf("after a head set back and an append: %+v %v", rep, rep.FirstBroken)
			}
		})
	})
}
