package schema

import (
	"context"
	"errors"
	"fmt"

	"entgo.io/ent"

	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery/state"
)

// ErrAppendOnly is returned for any attempt to update or delete an audit event.
var ErrAppendOnly = errors.New("audit events are append-only")

// appendOnly refuses every update and delete of an audit event, whoever the
// caller is.
func appendOnly() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if !m.Op().Is(ent.OpCreate) {
				return nil, fmt.Errorf("%s on %s: %w", m.Op(), m.Type(), ErrAppendOnly)
			}
			return next.Mutate(ctx, m)
		})
	}
}

// statusMutation is the part of the generated RecoveryCaseMutation the guard
// needs; the interface keeps the schema package free of generated imports.
type statusMutation interface {
	ent.Mutation
	Status() (state.Status, bool)
	OldStatus(context.Context) (state.Status, error)
}

// ErrBulkStatusUpdate is returned for a bulk update that sets the status:
// every status change goes through UpdateOne so its transition is checked.
var ErrBulkStatusUpdate = errors.New("case status changes must update one case at a time")

// guardCaseTransition refuses a status change that is not in the state
// table, whoever the caller is.
func guardCaseTransition() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			sm, ok := m.(statusMutation)
			if !ok {
				return nil, fmt.Errorf("case status guard: unexpected mutation %T", m)
			}
			to, set := sm.Status()
			switch {
			case m.Op().Is(ent.OpCreate):
				if set && to != state.Draft {
					return nil, &state.IllegalTransitionError{From: "", To: to}
				}
			case !set:
			case m.Op().Is(ent.OpUpdateOne):
				from, err := sm.OldStatus(ctx)
				if err != nil {
					return nil, fmt.Errorf("read old status: %w", err)
				}
				if err := state.Check(from, to); err != nil {
					return nil, err
				}
			default:
				return nil, ErrBulkStatusUpdate
			}
			return next.Mutate(ctx, m)
		})
	}
}

// phashBands keeps an evidence row's band columns (phash_b0 … phash_b6) in
// step with its phash, whoever writes it: every create or update that sets
// phash sets the bands from imagecheck.Bands, and one that clears phash
// clears them. The near-duplicate index is only sound if no row can carry a
// hash without its bands.
func phashBands() ent.Hook {
	return func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if v, ok := m.Field("phash"); ok {
				h, ok := v.(int64)
				if !ok {
					return nil, fmt.Errorf("phash bands: phash is %T", v)
				}
				for i, b := range imagecheck.Bands(uint64(h)) {
					if err := m.SetField(fmt.Sprintf("phash_b%d", i), b); err != nil {
						return nil, fmt.Errorf("phash bands: %w", err)
					}
				}
			} else if m.FieldCleared("phash") {
				for i := range imagecheck.PHashBands {
					if err := m.ClearField(fmt.Sprintf("phash_b%d", i)); err != nil {
						return nil, fmt.Errorf("phash bands: %w", err)
					}
				}
			}
			return next.Mutate(ctx, m)
		})
	}
}
