package accounts

import (
	"context"
	"fmt"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/vocab"
)

// promotionDue says whether a's pending password's time has come.
func promotionDue(a *ent.Account, now time.Time) bool {
	return a.PendingPasswordHash != "" && a.PendingEffectiveAt != nil && !now.Before(*a.PendingEffectiveAt)
}

// promote makes a's pending password its password, through upd, and audits
// it as ev. The lockout count starts afresh, and password_changed_at is the
// moment the password took effect, so every session signed in before it
// (with the old password) ends at its next request. a is updated to match.
func promote(ctx context.Context, tx *db.Tx, upd *ent.AccountUpdateOne, a *ent.Account, ev audit.Event) error {
	effective := *a.PendingEffectiveAt
	a.PasswordHash, a.PendingPasswordHash, a.PendingEffectiveAt = a.PendingPasswordHash, "", nil
	a.FailedLogins, a.LockedUntil, a.PasswordChangedAt = 0, nil, &effective
	upd.SetPasswordHash(a.PasswordHash).ClearPendingPasswordHash().ClearPendingEffectiveAt().
		SetFailedLogins(0).ClearLockedUntil().SetPasswordChangedAt(effective)
	return audit.Record(ctx, tx, withAction(ev, "password.activated",
		map[string]any{string(vocab.DetailEffectiveAt): effective.UTC().Format(time.RFC3339)}))
}

// promoteBatch bounds one run of PromoteDue.
const promoteBatch = 500

// PromoteDue makes every pending password whose time has come the password,
// whether or not its holder signs in, so sessions signed in with the old
// password end at the 4-hour mark (CONTRACT §4). It returns how many it
// promoted. Each account is promoted in a transaction of its own, under the
// account's lock and re-read, so a login promoting it at the same moment
// makes this a no-op.
func (s *Service) PromoteDue(ctx context.Context) (int, error) {
	now := s.clock.Now()
	ids, err := s.db.Ent.Account.Query().
		Where(account.PendingEffectiveAtLTE(now), account.PendingPasswordHashNEQ("")).
		Limit(promoteBatch).IDs(ctx)
	if err != nil {
		return 0, fmt.Errorf("find due passwords: %w", err)
	}
	promoted := 0
	for _, id := range ids {
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			if err := tx.LockKey(ctx, fmt.Sprintf("account:%d", id)); err != nil {
				return err
			}
			a, err := tx.Ent.Account.Get(ctx, id)
			if err != nil || !promotionDue(a, now) {
				return err
			}
			ev := audit.Event{At: now, ActorKind: audit.ActorSystem, Actor: string(vocab.SystemJobs), ObjectType: string(vocab.ObjectAccount), ObjectID: a.Username}
			upd := tx.Ent.Account.UpdateOne(a).SetUpdatedAt(now)
			if err := promote(ctx, tx, upd, a, ev); err != nil {
				return err
			}
			if err := upd.Exec(ctx); err != nil {
				return err
			}
			promoted++
			return nil
		})
		if err != nil {
			return promoted, fmt.Errorf("promote the password of account %d: %w", id, err)
		}
	}
	return promoted, nil
}

// PromoteArgs is the periodic job that runs PromoteDue.
type PromoteArgs struct{}

// Kind names the job in River's table.
func (PromoteArgs) Kind() string { return "password_promote" }
