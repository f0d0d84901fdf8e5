package recovery

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Evidence past its retention is destroyed (PIPL Art. 19, 47: kept no longer
// than the purpose needs). A case's purpose is met at its final decision:
// rejected (decided_at), approved once the new password took effect (the
// effective_at of its password SMS), expired (when it expired). The purge
// destroys the objects and keeps each row marked destroyed, so duplicate
// detection (SHA-256, perceptual hash) and the history still work. Account
// data and the audit log are not purged. A case under legal hold (保全) is
// skipped until a supervisor lifts the hold.

// Errors of the legal hold.
var (
	ErrHoldReason  = apperr.New(apperr.Invalid, "hold_reason_required", "请填写保全原因").WithField("hold_reason")
	ErrAlreadyHeld = apperr.New(apperr.Conflict, "already_held", "该案件已处于保全状态")
	ErrNotHeld     = apperr.New(apperr.Conflict, "not_held", "该案件未处于保全状态")
)

// HoldReasonMaxLen bounds the reason of a hold, in characters.
const HoldReasonMaxLen = 500

// PlaceHold puts a case under legal hold with a reason: the retention purge
// leaves its evidence alone until LiftHold. The hold and its reason go to
// the case history and the audit log.
func (s *Service) PlaceHold(ctx context.Context, sup Reviewer, number, reason string) error {
	reason = trim(reason, HoldReasonMaxLen)
	if reason == "" {
		return ErrHoldReason
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, sup, number)
		if err != nil {
			return err
		}
		if rc.HoldReason != nil {
			return ErrAlreadyHeld
		}
		if err := tx.Ent.RecoveryCase.UpdateOneID(rc.ID).SetHoldReason(reason).SetHeldBy(sup.ID).SetHeldAt(now).Exec(ctx); err != nil {
			return err
		}
		return s.recordNote(ctx, tx, rc, now, sup.actor(), vocab.EventHoldPlaced, reason, nil, map[string]any{"held": true})
	})
}

// LiftHold ends a case's legal hold; the purge takes its evidence again once
// the retention has passed.
func (s *Service) LiftHold(ctx context.Context, sup Reviewer, number string) error {
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, sup, number)
		if err != nil {
			return err
		}
		if rc.HoldReason == nil {
			return ErrNotHeld
		}
		if err := tx.Ent.RecoveryCase.UpdateOneID(rc.ID).ClearHoldReason().ClearHeldBy().ClearHeldAt().Exec(ctx); err != nil {
			return err
		}
		return s.record(ctx, tx, rc, now, sup.actor(), vocab.EventHoldLifted, map[string]any{"held": true}, map[string]any{"held": false})
	})
}

// Destroyed is one evidence object the purge destroyed (or, dry, would).
type Destroyed struct {
	CaseNumber string
	Kind       string
	ObjectKey  string
	Size       int64
	FinalAt    time.Time // the case's final decision
}

// PurgeReport is what one purge did.
type PurgeReport struct {
	Destroyed []Destroyed
	// Healed counts objects of rows destroyed earlier that were still in the
	// store (a crash between the commit and the delete) and are now gone.
	Healed int
	// Held counts cases past retention left alone because of a legal hold.
	Held int
}

// purgeBatch is how many cases one query of the purge reads.
const purgeBatch = 200

// Purge destroys the evidence of every finally decided case whose final
// decision is older than retention and that is not under legal hold. For
// each case, one transaction marks its rows destroyed and writes one audit
// entry per object; the objects are deleted only after it commits, so a
// crash in between leaves objects without a live row, never a live row
// without an object, and the next purge (or the orphan clean-up) deletes
// them. dryRun reports what would be destroyed and changes nothing.
func (s *Service) Purge(ctx context.Context, retention time.Duration, dryRun bool) (PurgeReport, error) {
	var rep PurgeReport
	now := s.clock.Now()
	cutoff := now.Add(-retention)
	var afterID uuid.UUID
	for {
		q := s.db.Ent.RecoveryCase.Query().Where(
			recoverycase.Or(
				recoverycase.And(recoverycase.StatusIn(state.Approved, state.Rejected), recoverycase.DecidedAtLT(cutoff)),
				recoverycase.And(recoverycase.StatusEQ(state.Expired), recoverycase.UpdatedAtLT(cutoff))),
			recoverycase.HasEvidenceWith(evidence.DestroyedAtIsNil()))
		if afterID != uuid.Nil {
			q.Where(recoverycase.IDGT(afterID))
		}
		cases, err := q.Order(ent.Asc(recoverycase.FieldID)).Limit(purgeBatch).All(ctx)
		if err != nil {
			return rep, fmt.Errorf("purge: list cases: %w", err)
		}
		for _, rc := range cases {
			afterID = rc.ID
			done, held, err := s.purgeCase(ctx, rc.ID, cutoff, now, retention, dryRun)
			if err != nil {
				return rep, fmt.Errorf("purge case %s: %w", caseName(rc), err)
			}
			rep.Destroyed = append(rep.Destroyed, done...)
			if held {
				rep.Held++
			}
		}
		if len(cases) < purgeBatch {
			break
		}
	}
	if dryRun {
		return rep, nil
	}
	healed, err := s.healDestroyed(ctx)
	rep.Healed = healed
	return rep, err
}

// purgeCase destroys one case's evidence if, read again under the case's
// lock, it is still final, past retention and not held.
func (s *Service) purgeCase(ctx context.Context, id uuid.UUID, cutoff, now time.Time, retention time.Duration, dryRun bool) ([]Destroyed, bool, error) {
	var out []Destroyed
	held := false
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := tx.Ent.RecoveryCase.Query().Where(recoverycase.IDEQ(id)).Only(ctx)
		if err != nil {
			return err
		}
		if rc.CaseNumber != nil {
			if err := tx.LockKey(ctx, "case:"+*rc.CaseNumber); err != nil {
				return err
			}
			if rc, err = tx.Ent.RecoveryCase.Query().Where(recoverycase.IDEQ(id)).Only(ctx); err != nil {
				return err
			}
		}
		final, ok, err := finalAt(ctx, tx.Ent, rc)
		if err != nil || !ok || !final.Before(cutoff) {
			return err
		}
		if rc.HoldReason != nil {
			held = true
			return nil
		}
		rows, err := tx.Ent.Evidence.Query().Where(evidence.CaseID(rc.ID), evidence.DestroyedAtIsNil()).
			Order(ent.Asc(evidence.FieldID)).All(ctx)
		if err != nil || len(rows) == 0 {
			return err
		}
		events := make([]audit.Event, 0, len(rows))
		kinds := make([]string, 0, len(rows))
		for _, e := range rows {
			out = append(out, Destroyed{CaseNumber: caseName(rc), Kind: string(e.Kind), ObjectKey: e.ObjectKey, Size: e.Size, FinalAt: final})
			kinds = append(kinds, string(e.Kind))
			events = append(events, audit.Event{At: now, ActorKind: audit.ActorSystem, Actor: "retention",
				Action: vocab.ActionEvidenceDestroyed, ObjectType: "case", ObjectID: caseName(rc),
				Detail: map[string]any{"kind": string(e.Kind), "size": e.Size, "sha256": e.Sha256,
					"final_at": final.UTC().Format(time.RFC3339), "retention": retention.String()}})
		}
		if dryRun {
			return nil
		}
		n, err := tx.Ent.Evidence.Update().Where(evidence.CaseID(rc.ID), evidence.DestroyedAtIsNil()).SetDestroyedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(rows) {
			return fmt.Errorf("marked %d evidence rows destroyed, expected %d", n, len(rows))
		}
		if err := tx.Ent.CaseEvent.Create().SetCaseID(rc.ID).SetType(string(vocab.EventEvidenceDestroyed)).SetActor("system").
			SetCreatedAt(now).SetAfter(map[string]any{"kinds": kinds, "final_at": final.UTC().Format(time.RFC3339)}).Exec(ctx); err != nil {
			return err
		}
		return audit.RecordAll(ctx, tx, events)
	})
	if err != nil || dryRun {
		return out, held, err
	}
	for _, d := range out { // after the commit; a failure is healed by the next purge
		if err := s.store.Delete(context.WithoutCancel(ctx), d.ObjectKey); err != nil {
			s.logger.WarnContext(ctx, "delete a destroyed evidence object; the next purge retries", "key", d.ObjectKey, "err", err)
		}
	}
	return out, held, nil
}

// finalAt is when the case's purpose was met, and whether it is final at all.
func finalAt(ctx context.Context, client *ent.Client, rc *ent.RecoveryCase) (time.Time, bool, error) {
	switch rc.Status {
	case state.Rejected:
		if rc.DecidedAt == nil {
			return time.Time{}, false, nil
		}
		return *rc.DecidedAt, true, nil
	case state.Expired:
		ev, err := client.CaseEvent.Query().Where(caseevent.CaseID(rc.ID), caseevent.Type(string(vocab.EventExpired))).
			Order(ent.Desc(caseevent.FieldCreatedAt)).First(ctx)
		if ent.IsNotFound(err) {
			return rc.UpdatedAt, true, nil
		}
		if err != nil {
			return time.Time{}, false, err
		}
		return ev.CreatedAt, true, nil
	case state.Approved:
		// Final once the new password took effect: the password SMS of the
		// standing approval went out and its four hours passed.
		if rc.DecidedAt == nil {
			return time.Time{}, false, nil
		}
		evs, err := client.CaseEvent.Query().Where(caseevent.CaseID(rc.ID), caseevent.Type(string(vocab.EventPasswordSMSSent)),
			caseevent.CreatedAtGTE(*rc.DecidedAt)).Order(ent.Desc(caseevent.FieldCreatedAt)).All(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		for _, ev := range evs {
			if ev.After["cancelled"] == true {
				continue
			}
			eff, _ := ev.After["effective_at"].(string)
			t, err := time.Parse(time.RFC3339, eff)
			if err == nil {
				return t, true, nil
			}
		}
	}
	return time.Time{}, false, nil
}

// healDestroyed deletes the objects still in the store whose rows were
// marked destroyed (a purge that stopped between its commit and the
// delete). It returns how many it deleted.
func (s *Service) healDestroyed(ctx context.Context) (int, error) {
	healed := 0
	var keys []string
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		rows, err := s.db.Ent.Evidence.Query().Where(evidence.ObjectKeyIn(keys...), evidence.DestroyedAtNotNil()).
			Select(evidence.FieldObjectKey).Strings(ctx)
		keys = keys[:0]
		if err != nil {
			return err
		}
		for _, k := range rows {
			if err := s.store.Delete(ctx, k); err != nil {
				return err
			}
			healed++
		}
		return nil
	}
	for obj, err := range s.store.List(ctx, "evidence/", time.Time{}) {
		if err != nil {
			return healed, err
		}
		keys = append(keys, obj.Key)
		if len(keys) == purgeBatch {
			if err := flush(); err != nil {
				return healed, err
			}
		}
	}
	return healed, flush()
}

// errEvidenceDestroyed answers a request for an image the purge destroyed
// (410, with the date).
func errEvidenceDestroyed(at time.Time) error {
	return apperr.New(apperr.Gone, "evidence_destroyed",
		fmt.Sprintf("该证件材料已于 %s 按保存期限销毁", at.In(rules.Shanghai).Format("2006-01-02")))
}

// IsEvidenceDestroyed reports whether err is the answer for a destroyed image.
func IsEvidenceDestroyed(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == "evidence_destroyed"
}

// caseName is a case's number, or its id for a draft.
func caseName(rc *ent.RecoveryCase) string {
	if rc.CaseNumber != nil {
		return *rc.CaseNumber
	}
	return rc.ID.String()
}

// PurgeArgs is the daily job that destroys evidence past retention.
type PurgeArgs struct{}

// Kind names the job.
func (PurgeArgs) Kind() string { return "recovery_evidence_purge" }

// PurgeInterval is how often the purge job runs.
const PurgeInterval = 24 * time.Hour

// PurgeDue destroys the evidence past retention: the work of the PurgeArgs
// job. A run cut short (the job's timeout) is retried and carries on: every
// case is its own transaction.
func (s *Service) PurgeDue(ctx context.Context, retention time.Duration) error {
	rep, err := s.Purge(ctx, retention, false)
	if n := len(rep.Destroyed); n+rep.Healed > 0 {
		s.logger.InfoContext(ctx, "evidence purge", "destroyed", n, "healed", rep.Healed, "held", rep.Held)
	}
	return err
}
