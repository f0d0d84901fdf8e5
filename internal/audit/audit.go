// Package audit records who did what, inside the transaction of the change
// itself, so that a change and its audit entry exist together or not at all.
package audit

import (
	"context"
	"fmt"
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
// Appends are serialised by the chain lock (a PostgreSQL advisory lock held
// until tx ends, across every instance; SQLite's write transactions are
// serialised already), so each entry links to the one committed before it.
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
	if err := tx.LockKey(ctx, chainLock); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	prev, err := lastLink(ctx, tx)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	creates := make([]*ent.AuditEventCreate, 0, min(len(pending), bulkSize))
	for i, en := range pending {
		if en, err = en.linkTo(prev); err != nil {
			return fmt.Errorf("audit %s: %w", en.Action, err)
		}
		c := tx.Ent.AuditEvent.Create().SetSeq(en.Seq).SetAt(en.At).
			SetActorKind(en.ActorKind).SetActor(en.Actor).SetAction(en.Action).
			SetObjectType(en.ObjectType).SetObjectID(en.ObjectID).
			SetIP(en.IP).SetRequestID(en.RequestID).
			SetPrevHash(en.PrevHash).SetHash(en.Hash)
		if en.Detail != nil {
			c.SetDetail(en.Detail)
		}
		creates = append(creates, c)
		prev = link{Seq: en.Seq, Hash: en.Hash}
		if len(creates) == bulkSize || i == len(pending)-1 {
			if err := tx.Ent.AuditEvent.CreateBulk(creates...).Exec(ctx); err != nil {
				return fmt.Errorf("audit %s: %w", en.Action, err)
			}
			creates = creates[:0]
		}
	}
	if err := saveHead(ctx, tx, prev.Seq, prev.Hash); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
