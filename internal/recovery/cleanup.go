package recovery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/vocab"
)

// expireDraft ends a draft: its evidence rows go in tx; the returned object
// keys are deleted after commit.
func (s *Service) expireDraft(ctx context.Context, tx *db.Tx, rc *ent.RecoveryCase, now time.Time, why string) ([]string, error) {
	rows, err := tx.Ent.Evidence.Query().Where(evidence.CaseID(rc.ID)).All(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, r.ObjectKey)
	}
	// The version guard leaves alone a draft that changed since rc was read
	// (submitted meanwhile), before anything of it is deleted.
	err = tx.Ent.RecoveryCase.UpdateOneID(rc.ID).Where(recoverycase.Version(rc.Version)).
		SetStatus(state.Expired).SetUpdatedAt(now).AddVersion(1).Exec(ctx)
	if ent.IsNotFound(err) {
		return nil, errDraftMoved
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.Ent.Evidence.Delete().Where(evidence.CaseID(rc.ID)).Exec(ctx); err != nil {
		return nil, err
	}
	return keys, s.record(ctx, tx, rc, now, actorSystem, vocab.EventExpired, map[string]any{"status": string(rc.Status)},
		map[string]any{"status": string(state.Expired), "reason": why})
}

// ExpireDrafts expires drafts not submitted within DraftTTL and deletes their
// images. It returns how many it expired.
func (s *Service) ExpireDrafts(ctx context.Context) (int, error) {
	now := s.clock.Now()
	drafts, err := s.db.Ent.RecoveryCase.Query().
		Where(recoverycase.StatusEQ(state.Draft), recoverycase.CreatedAtLT(now.Add(-DraftTTL))).Limit(500).All(ctx)
	if err != nil {
		return 0, err
	}
	expired := 0
	for _, rc := range drafts {
		var keys []string
		err := s.db.InTx(ctx, func(tx *db.Tx) error {
			var err error
			keys, err = s.expireDraft(ctx, tx, rc, now, "draft_ttl")
			return err
		})
		if errors.Is(err, errDraftMoved) {
			continue // submitted since it was listed
		}
		if err != nil {
			return expired, fmt.Errorf("expire draft %s: %w", rc.ID, err)
		}
		expired++
		s.deleteObjects(ctx, keys)
	}
	return expired, nil
}

// errDraftMoved is a draft that changed after it was read for expiry.
var errDraftMoved = errors.New("the draft changed since it was read")

// DeleteOrphans deletes evidence objects older than OrphanAge that no live
// evidence row points to (an upload whose transaction never committed, a
// delete that failed). It returns how many it deleted.
func (s *Service) DeleteOrphans(ctx context.Context) (int, error) {
	deleted := 0
	for obj, err := range s.store.List(ctx, "evidence/", s.clock.Now().Add(-OrphanAge)) {
		if err != nil {
			return deleted, err
		}
		// A row the purge marked destroyed no longer keeps its object.
		exists, err := s.db.Ent.Evidence.Query().Where(evidence.ObjectKey(obj.Key), evidence.DestroyedAtIsNil()).Exist(ctx)
		if err != nil {
			return deleted, err
		}
		if exists {
			continue
		}
		if err := s.store.Delete(ctx, obj.Key); err != nil {
			return deleted, err
		}
		deleted++
	}
	return deleted, nil
}

// CleanupArgs is the periodic job that expires drafts and deletes orphans.
type CleanupArgs struct{}

// Kind names the job.
func (CleanupArgs) Kind() string { return "recovery_cleanup" }

// Cleanup expires old drafts, then deletes orphaned objects: the work of
// the CleanupArgs job.
func (s *Service) Cleanup(ctx context.Context) error {
	n, err := s.ExpireDrafts(ctx)
	if err != nil {
		return err
	}
	m, err := s.DeleteOrphans(ctx)
	if err != nil {
		return err
	}
	if n+m > 0 {
		s.logger.InfoContext(ctx, "recovery clean-up", "expired_drafts", n, "orphans_deleted", m)
	}
	return nil
}

// ReleaseClaimsArgs is the periodic job that returns expired claims to the queue.
type ReleaseClaimsArgs struct{}

// Kind names the job.
func (ReleaseClaimsArgs) Kind() string { return "recovery_release_claims" }
