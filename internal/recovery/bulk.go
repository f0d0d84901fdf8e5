package recovery

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"recoverydesk/ent"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/apperr"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// BulkMax is the most cases one bulk action moves: a page of the queue.
const BulkMax = 100

// Errors of a bulk action. Every one leaves every case as it was: a bulk
// action is one transaction, all or nothing.
var (
	ErrBulkEmpty    = apperr.New(apperr.Invalid, "bulk_empty", "请先勾选要处理的案件")
	ErrBulkTooMany  = apperr.New(apperr.Invalid, "bulk_too_many", "一次最多处理 "+strconv.Itoa(BulkMax)+" 件案件")
	ErrBulkAction   = apperr.New(apperr.Invalid, "bulk_action", "请选择批量操作")
	ErrBulkRefused  = apperr.New(apperr.Invalid, "bulk_refused", "所选案件中有案件不存在、不在您的辖区或当前状态不能改派，未作任何改动，请刷新队列后重新选择")
	ErrBulkNoTarget = apperr.New(apperr.Invalid, "invalid_reviewer", "请填写接收案件的审核人员用户名")
)

// BulkRequest is a supervisor's action on the cases selected in the queue.
type BulkRequest struct {
	Action  vocab.BulkAction
	Numbers []string
	To      string // reassign: the reviewer's username
}

// BulkResult is what a bulk action did.
type BulkResult struct {
	Action vocab.BulkAction
	Moved  []string // the case numbers changed (each with its case event and audit entry)
	ToName string   // reassign: the reviewer's name
}

// checkBulk normalises and bounds the request before anything is read.
func checkBulk(r BulkRequest) (BulkRequest, error) {
	var numbers []string
	for _, n := range distinct(r.Numbers) {
		if n = ExactCaseNumber(n); n == "" {
			return r, ErrBulkRefused
		}
		numbers = append(numbers, n)
	}
	// Locked in one order by every bulk action, so two at once cannot
	// deadlock on each other's cases.
	slices.Sort(numbers)
	r.Numbers = numbers
	switch {
	case len(numbers) == 0:
		return r, ErrBulkEmpty.WithField("number")
	case len(numbers) > BulkMax:
		return r, ErrBulkTooMany.WithField("number")
	case r.Action != vocab.BulkReassign && r.Action != vocab.BulkRelease:
		return r, ErrBulkAction.WithField("action")
	case r.Action == vocab.BulkReassign && strings.TrimSpace(r.To) == "":
		return r, ErrBulkNoTarget.WithField("to")
	}
	return r, nil
}

// PreviewBulk checks a bulk action without doing it, for the confirmation
// step: the same checks as Bulk, in a transaction that is rolled back.
func (s *Service) PreviewBulk(ctx context.Context, sup Reviewer, r BulkRequest, canDecide func(usernameKey, region string) bool) (*BulkResult, error) {
	return s.bulk(ctx, sup, r, canDecide, false)
}

// Bulk reassigns the selected cases to one reviewer (claimed for them, as
// Reassign does) or releases them to 待审核, with one case event and one
// audit entry per case, in one transaction: a case outside the supervisor's
// regions, one no longer open, or a target who may not decide a case's
// region refuses the whole action. Releasing a case nobody holds changes
// nothing and records nothing.
func (s *Service) Bulk(ctx context.Context, sup Reviewer, r BulkRequest, canDecide func(usernameKey, region string) bool) (*BulkResult, error) {
	return s.bulk(ctx, sup, r, canDecide, true)
}

// errPreview rolls the preview's transaction back.
var errPreview = apperr.New(apperr.Invalid, "preview", "preview")

func (s *Service) bulk(ctx context.Context, sup Reviewer, r BulkRequest, canDecide func(usernameKey, region string) bool, commit bool) (*BulkResult, error) {
	r, err := checkBulk(r)
	if err != nil {
		return nil, err
	}
	var target *ent.StaffUser
	key := rules.NormalizeUsername(strings.TrimSpace(r.To))
	if r.Action == vocab.BulkReassign {
		target, err = s.db.Ent.StaffUser.Query().Where(staffuser.UsernameKey(key), staffuser.Disabled(false)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, ErrUnknownReviewer.WithField("to")
		}
		if err != nil {
			return nil, err
		}
	}
	res := &BulkResult{Action: r.Action}
	if target != nil {
		res.ToName = target.Name
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		// Every case lock first, then the assignment lock, then the changes
		// and their audit entries: the lock order of every transaction
		// that assigns (see lockAssignment).
		cases := make([]*ent.RecoveryCase, len(r.Numbers))
		for i, number := range r.Numbers {
			rc, err := s.lockedCase(ctx, tx, sup, number)
			if err != nil {
				return ErrBulkRefused
			}
			cases[i] = rc
		}
		if err := s.lockAssignment(ctx, tx); err != nil {
			return err
		}
		for i, rc := range cases {
			moved, err := s.bulkOne(ctx, tx, sup, rc, r.Action, target, key, canDecide)
			if err != nil {
				return err
			}
			if moved {
				res.Moved = append(res.Moved, r.Numbers[i])
			}
		}
		if !commit {
			return errPreview
		}
		// The claims freed go to waiting cases (under auto-assignment).
		_, err := s.sweep(ctx, tx, s.clock.Now(), sup.Regions, max(sweepOnFreed, len(cases)))
		return err
	})
	if !commit && err == errPreview {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// bulkOne applies the action to one locked case; false when it was already
// where the action would put it (a release of an unclaimed case).
func (s *Service) bulkOne(ctx context.Context, tx *db.Tx, sup Reviewer, rc *ent.RecoveryCase, action vocab.BulkAction, target *ent.StaffUser, key string, canDecide func(string, string) bool) (bool, error) {
	if rc.Status != state.Submitted && rc.Status != state.InReview {
		return false, ErrBulkRefused
	}
	if action == vocab.BulkReassign {
		if !canDecide(key, rc.RegionCode) {
			return false, ErrUnknownReviewer.WithField("to")
		}
		return true, s.reassignLocked(ctx, tx, sup, rc, target)
	}
	if rc.Status != state.InReview {
		return false, nil
	}
	now := s.clock.Now()
	if err := tx.Ent.RecoveryCase.UpdateOne(rc).SetStatus(state.Submitted).ClearClaimedBy().ClearClaimExpiresAt().
		SetUpdatedAt(now).AddVersion(1).Exec(ctx); err != nil {
		return false, err
	}
	before := map[string]any{"status": string(rc.Status)}
	if rc.ClaimedBy != nil {
		before["claimed_by_id"] = *rc.ClaimedBy
	}
	return true, s.record(ctx, tx, rc, now, sup.actor(), vocab.EventReleased, before, map[string]any{"status": string(state.Submitted)})
}
