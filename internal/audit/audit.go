// Package audit records who did what, inside the transaction of the change
// itself, so that a change and its audit entry exist together or not at all.
package audit

import (
	"context"
	"fmt"
	"time"

	"recoverydesk/internal/db"
)

// Actor kinds.
const (
	ActorStaff     = "staff"
	ActorAccount   = "account"
	ActorApplicant = "applicant"
	ActorSystem    = "system"
)

// Event is one audit entry to record.
type Event struct {
	At         time.Time
	ActorKind  string
	Actor      string
	Action     string
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
func Record(ctx context.Context, tx *db.Tx, e Event) error {
	if r := RequestFrom(ctx); e.IP == "" && e.RequestID == "" {
		e.IP, e.RequestID = r.IP, r.RequestID
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if err := tx.LockKey(ctx, chainLock); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	prev, err := lastLink(ctx, tx)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	entry, err := newEntry(e, prev)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	c := tx.Ent.AuditEvent.Create().SetSeq(entry.Seq).SetAt(entry.At).
		SetActorKind(entry.ActorKind).SetActor(entry.Actor).SetAction(entry.Action).
		SetObjectType(entry.ObjectType).SetObjectID(entry.ObjectID).
		SetIP(entry.IP).SetRequestID(entry.RequestID).
		SetPrevHash(entry.PrevHash).SetHash(entry.Hash)
	if entry.Detail != nil {
		c.SetDetail(entry.Detail)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	if err := saveHead(ctx, tx, entry.Seq, entry.Hash); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}
