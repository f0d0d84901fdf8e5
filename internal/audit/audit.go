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

// Record appends an event through client, which should be the transaction's
// client of the change being audited. Detail must never hold secrets or
// unmasked personal data.
func Record(ctx context.Context, tx *db.Tx, e Event) error {
	client := tx.Ent
	if r := RequestFrom(ctx); e.IP == "" && e.RequestID == "" {
		e.IP, e.RequestID = r.IP, r.RequestID
	}
	c := client.AuditEvent.Create().
		SetActorKind(e.ActorKind).SetActor(e.Actor).SetAction(e.Action).
		SetObjectType(e.ObjectType).SetObjectID(e.ObjectID).
		SetIP(e.IP).SetRequestID(e.RequestID)
	if !e.At.IsZero() {
		c.SetAt(e.At)
	}
	if e.Detail != nil {
		c.SetDetail(e.Detail)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}
