// Package audit records who did what, inside the transaction of the change
// itself, so that a change and its audit entry exist together or not at all.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/internal/db"
	"recoverydesk/internal/vocab"
)

// Actor kinds: the vocabulary's, named here for the callers of Record.
const (
	ActorStaff     = vocab.ActorStaff
	ActorAccount   = vocab.ActorAccount
	ActorApplicant = vocab.ActorApplicant
	ActorSystem    = vocab.ActorSystem
)

// Event is one audit entry to record. Its action and actor kind are typed
// so that every entry names a word of the vocabulary, which the audit page
// labels.
type Event struct {
	At         time.Time
	ActorKind  vocab.ActorKind
	Actor      string
	Action     vocab.Action
	ObjectType string
	ObjectID   string
	Detail     map[string]any
	IP         string
	RequestID  string
}

type requestKey struct{}

// Request is where a change came from: the client address and the request id.
type Request struct {
	IP        string
	RequestID string
}

// WithRequest attaches the request's origin to ctx, so domain services record
// it without ever seeing the HTTP layer.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the origin attached by WithRequest.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Record appends an event to the hash chain inside tx, which must be the
// transaction of the change being audited, so that the change and its entry
// commit together or not at all. Detail must never hold secrets or unmasked
// personal data.
//
// Appends are serialised by the chain lock (on PostgreSQL the row lock of
// the chain's head, held until tx ends, across every instance; SQLite's
// write transactions are serialised already), so each entry links to the
// one committed before it.
// The entry is written when tx commits (db.Tx.AtCommit), after the rest of
// the transaction: the lock every audited write of every instance waits for
// is then held for the append and the commit alone, not for whatever the
// transaction does after Record (which used to turn one slow request into a
// queue of all of them).
func Record(ctx context.Context, tx *db.Tx, e Event) error {
	return RecordAll(ctx, tx, []Event{e})
}

// bulkSize is how many entries RecordAll writes per statement.
const bulkSize = 500

// pendingKey keys a transaction's entries not yet written (db.Tx.AtCommit).
type pendingKey struct{}

// RecordAll appends events to the chain in the order given (after any
// recorded earlier in tx), taking the chain lock and reading its end once
// when tx commits: what bulk loaders (seed --demo, the bench) use for
// thousands of entries in one transaction. Each event is taken as it is now
// (its detail normalised and masked, its time and origin filled in), so a
// caller may reuse its maps.
func RecordAll(ctx context.Context, tx *db.Tx, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	from := RequestFrom(ctx)
	prepared := make([]entry, 0, len(events))
	for _, e := range events {
		if e.IP == "" && e.RequestID == "" {
			e.IP, e.RequestID = from.IP, from.RequestID
		}
		if e.At.IsZero() {
			e.At = time.Now()
		}
		en, err := prepare(e)
		if err != nil {
			return fmt.Errorf("audit %s: %w", e.Action, err)
		}
		prepared = append(prepared, en)
	}
	pending := tx.AtCommit(pendingKey{}, func() any { return &[]entry{} }, appendPending).(*[]entry)
	*pending = append(*pending, prepared...)
	return nil
}

// appendPending writes a transaction's entries onto the end of the chain,
// under the chain lock, just before the transaction commits.
func appendPending(ctx context.Context, tx *db.Tx, v any) error {
	pending := *v.(*[]entry)
	if len(pending) == 0 {
		return nil
	}
	prev, err := lockChainEnd(ctx, tx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	linked := make([]entry, len(pending))
	for i, en := range pending {
		if linked[i], err = en.linkTo(prev); err != nil {
			return fmt.Errorf("audit %s: %w", en.Action, err)
		}
		prev = link{Seq: linked[i].Seq, Hash: linked[i].Hash}
	}
	if tx.Postgres() {
		return insertPostgres(ctx, tx, linked)
	}
	for chunk := range slices.Chunk(linked, bulkSize) {
		creates := make([]*ent.AuditEventCreate, len(chunk))
		for i, en := range chunk {
			creates[i] = tx.Ent.AuditEvent.Create().SetSeq(en.Seq).SetAt(en.At).
				SetActorKind(en.ActorKind).SetActor(en.Actor).SetAction(en.Action).
				SetObjectType(en.ObjectType).SetObjectID(en.ObjectID).
				SetIP(en.IP).SetRequestID(en.RequestID).
				SetPrevHash(en.PrevHash).SetHash(en.Hash)
			if en.Detail != nil {
				creates[i].SetDetail(en.Detail)
			}
		}
		if err := tx.Ent.AuditEvent.CreateBulk(creates...).Exec(ctx); err != nil {
			return fmt.Errorf("audit %s: %w", chunk[0].Action, err)
		}
	}
	if err := saveHead(ctx, tx, prev.Seq, prev.Hash); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// insertPostgres writes linked entries and moves the head to the last one,
// one statement per bulkSize entries: while the chain is locked every round
// trip to the database counts, since every audited write of every instance
// waits for it.
func insertPostgres(ctx context.Context, tx *db.Tx, linked []entry) error {
	for chunk := range slices.Chunk(linked, bulkSize) {
		last := chunk[len(chunk)-1]
		args := []any{headValue(last.Seq, last.Hash), headKey}
		var q strings.Builder
		q.WriteString("WITH head AS (UPDATE kv_entries SET value = $1 WHERE key = $2) INSERT INTO audit_events " +
			"(seq, at, actor_kind, actor, action, object_type, object_id, detail, ip, request_id, prev_hash, hash) VALUES ")
		for i, en := range chunk {
			var detail any // SQL NULL without a detail, as ent writes it
			if en.Detail != nil {
				raw, err := json.Marshal(en.Detail)
				if err != nil {
					return fmt.Errorf("audit %s: encode detail: %w", en.Action, err)
				}
				detail = string(raw)
			}
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d::jsonb, $%d, $%d, $%d, $%d)",
				n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12)
			args = append(args, en.Seq, en.At, en.ActorKind, en.Actor, en.Action, en.ObjectType, en.ObjectID,
				detail, en.IP, en.RequestID, en.PrevHash, en.Hash)
		}
		if _, err := tx.SQL.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("audit %s: %w", chunk[0].Action, err)
		}
	}
	return nil
}
