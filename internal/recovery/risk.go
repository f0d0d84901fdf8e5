package recovery

import (
	"context"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Thresholds of the risk flags.
const (
	// LowSimilarity: a typed username or unit/person name scoring under it
	// against the record is flagged. The flags' labels (vocab.Flag) name
	// these thresholds; TestFlagLabelsNameTheThresholds keeps them in step.
	LowSimilarity = 50
	// RecentLockWindow: an account locked within it is flagged.
	RecentLockWindow = 7 * 24 * time.Hour
	// RecentRejectionWindow: a rejection of the same account within it is flagged.
	RecentRejectionWindow = 30 * 24 * time.Hour
)

// RiskFlag is one flag with the Chinese explanation a reviewer reads.
type RiskFlag struct {
	Code  string
	Label string
}

// RiskFlags pairs codes with their explanations (vocab.Flag), in the order given.
func RiskFlags(codes []string) []RiskFlag {
	out := make([]RiskFlag, 0, len(codes))
	for _, c := range codes {
		out = append(out, RiskFlag{Code: c, Label: vocab.Flag(c).Label()})
	}
	return out
}

// riskFlags is the one home of the four-eyes rule: the flags of case rc
// (loaded with its account) at now, given its evidence with the duplicates
// found for each image. The workspace shows them and Decide acts on them.
func (s *Service) riskFlags(ctx context.Context, rc *ent.RecoveryCase, items []EvidenceItem, now time.Time) ([]string, error) {
	acc := rc.Edges.Account
	flags := []string{}
	for _, e := range items {
		if len(e.Duplicates) > 0 {
			flags = append(flags, string(vocab.FlagDuplicateEvidence))
			break
		}
	}
	if lowSimilarity(rc) {
		flags = append(flags, string(vocab.FlagLowSimilarity))
	}
	locked, err := s.recentlyLocked(ctx, acc, now)
	if err != nil {
		return nil, err
	}
	if locked {
		flags = append(flags, string(vocab.FlagRecentlyLocked))
	}
	// The account's rejections are few: read their times and compare here,
	// so the query is the (status, account) index's and never a walk of
	// every recent rejection.
	var rejections []struct {
		DecidedAt *time.Time `json:"decided_at"`
	}
	if err := s.db.Ent.RecoveryCase.Query().Where(ofAccount(acc.ID), recoverycase.IDNEQ(rc.ID), recoverycase.StatusEQ(state.Rejected)).
		Select(recoverycase.FieldDecidedAt).Scan(ctx, &rejections); err != nil {
		return nil, err
	}
	rejected := false
	for _, r := range rejections {
		rejected = rejected || (r.DecidedAt != nil && r.DecidedAt.After(now.Add(-RecentRejectionWindow)))
	}
	if rejected {
		flags = append(flags, string(vocab.FlagRecentlyRejected))
	}
	return flags, nil
}

// recentlyLocked reports whether the account was locked within
// RecentLockWindow: its locked_until less the lock's duration is the moment
// it locked. A sign-in attempt after the lock ran out clears locked_until,
// so the audit log's account.locked entries are asked too.
func (s *Service) recentlyLocked(ctx context.Context, acc *ent.Account, now time.Time) (bool, error) {
	if lockedRecently(acc, now) {
		return true, nil
	}
	since := now.Add(-RecentLockWindow)
	return s.db.Ent.AuditEvent.Query().Where(auditevent.Action(string(vocab.ActionAccountLocked)), auditevent.ObjectType(string(vocab.ObjectAccount)),
		auditevent.ObjectID(acc.Username), auditevent.AtGT(since)).Exist(ctx)
}

// lowSimilarity is the low-similarity flag's rule. Similarity is 0 when
// nothing was typed: an applicant who no longer knows the username may leave
// it empty (CONTRACT §4), which is not a mismatch. The name is required, so
// it is always scored.
func lowSimilarity(rc *ent.RecoveryCase) bool {
	return (rc.TypedUsername != "" && rc.UsernameSimilarity < LowSimilarity) || rc.NameSimilarity < LowSimilarity
}

// lockedRecently is the part of the recently-locked rule the account row
// answers by itself: a lock still recorded on it began within
// RecentLockWindow.
func lockedRecently(acc *ent.Account, now time.Time) bool {
	return acc.LockedUntil != nil && acc.LockedUntil.Add(-rules.DefaultLockout.Duration).After(now.Add(-RecentLockWindow))
}

// surelyFlagged says, without reading anything, that case rc will carry a
// risk flag: what riskFlags finds from the case and account rows alone.
// Decide hashes an approval's password while the rest is read, except for
// a case known here to need a second approval, which issues none.
func surelyFlagged(rc *ent.RecoveryCase, now time.Time) bool {
	return lowSimilarity(rc) || lockedRecently(rc.Edges.Account, now)
}
