// Package audittest plays the administrator with write access to the
// database who rewrites the audit log so that it still verifies: it is
// imported by tests only, to show that the anchors kept outside the
// database catch what the chain alone cannot.
package audittest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/internal/db"
)

// RebuildChain sets the object_id of the entry at seq to objectID and then
// recomputes, from there on, every prev_hash and hash and the head kept
// beside the log, from the chain's documented encoding (as an attacker
// would, without the product's code): afterwards audit.Verify finds an
// intact chain.
func RebuildChain(ctx context.Context, d *db.DB, seq int64, objectID string) error {
	rows, err := d.Ent.AuditEvent.Query().Where(auditevent.SeqNotNil()).Order(ent.Asc(auditevent.FieldSeq)).All(ctx)
	if err != nil {
		return err
	}
	prev := ""
	for _, r := range rows {
		if *r.Seq < seq {
			prev = r.Hash
			continue
		}
		if *r.Seq == seq {
			r.ObjectID = objectID
		}
		canonical, err := json.Marshal([]any{"rd-audit-v1", *r.Seq, r.At.UTC().Format(time.RFC3339Nano),
			r.ActorKind, r.Actor, r.Action, r.ObjectType, r.ObjectID, r.Detail, r.IP, r.RequestID, prev})
		if err != nil {
			return err
		}
		sum := sha256.Sum256(canonical)
		hash := hex.EncodeToString(sum[:])
		if _, err := d.SQL.ExecContext(ctx, q(d, "UPDATE audit_events SET object_id = ?, prev_hash = ?, hash = ? WHERE id = ?"),
			r.ObjectID, prev, hash, r.ID); err != nil {
			return fmt.Errorf("rewrite entry %d: %w", *r.Seq, err)
		}
		prev = hash
	}
	last := rows[len(rows)-1]
	_, err = d.SQL.ExecContext(ctx, q(d, "UPDATE kv_entries SET value = ? WHERE key = ?"),
		[]byte(strconv.FormatInt(*last.Seq, 10)+":"+prev), "audit:chain-head")
	return err
}

// q rewrites ? to $n for PostgreSQL.
func q(d *db.DB, s string) string {
	if d.Kind != "postgres" {
		return s
	}
	out, n := []byte{}, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}
