package recovery

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/caseevent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Workspace is everything a reviewer needs on one case page.
type Workspace struct {
	Case        *ent.RecoveryCase
	Account     *ent.Account
	SLA         string
	ClaimedBy   string // name of the claim holder, if any
	ClaimedByMe bool
	Evidence    []EvidenceItem
	// EvidenceDestroyedAt is when the retention purge destroyed the case's
	// images (nil while they are kept); the page says so instead of them.
	EvidenceDestroyedAt *time.Time
	Earlier             []*ent.RecoveryCase // the account's other cases
	// Linked are the other cases of every account sharing an ID number, a
	// credit code or the phone on record, scoped to the viewer's regions.
	Linked    *Linked
	Events    []*ent.CaseEvent
	SMS       []*ent.SMSMessage // messages about this case, newest first
	CertMatch bool
	// AccountLocked says whether the account is locked now (LockedUntil
	// stays set after it runs out, until the next sign-in attempt).
	AccountLocked bool
	// Risk are the four-eyes flags: found now for a case still to be
	// decided, or as stored at the reviewer's approval once it awaits the
	// supervisor. Any flag means an approval needs a second one.
	Risk []RiskFlag
	// Operator is the unit's operator (经办人) as registered, for the
	// checks "被授权人与手持身份证一致": nil on a person case or a unit
	// registered without one.
	Operator *Operator
	// FirstApprover is the name of the reviewer whose approval awaits the
	// supervisor's second approval.
	FirstApprover string
}

// Operator is a unit's operator (经办人) as the page shows them beside the
// handheld photo: the real name in full (it is compared with the card),
// the ID number and the phone on record masked.
type Operator struct {
	Name        string
	IDMasked    string
	PhoneMasked string
}

// EvidenceItem is one image with its duplicate flags.
type EvidenceItem struct {
	Kind       string
	Label      string
	Width      int
	Height     int
	Size       int64
	Duplicates []Duplicate
	// DestroyedAt is set once the retention purge destroyed the image.
	DestroyedAt *time.Time
}

// Duplicate is another account's case that used the same or a near-same image.
type Duplicate struct {
	CaseNumber string
	Exact      bool
	Distance   int
	// Visible says whether the viewer may open that case (it lies in their
	// regions); otherwise only its number is shown.
	Visible bool
}

// Workspace loads one case for the reviewer (404 outside their regions).
func (s *Service) Workspace(ctx context.Context, rv Reviewer, number string) (*Workspace, error) {
	rc, err := s.CaseFor(ctx, rv, number)
	if err != nil {
		return nil, err
	}
	acc := rc.Edges.Account
	now := s.clock.Now()
	w := &Workspace{Case: rc, Account: acc, CertMatch: rc.TypedCertNumber == acc.CertNumber,
		AccountLocked: rules.DefaultLockout.Locked(acc.LockedUntil, now)}
	if rc.Status == state.Submitted || rc.Status == state.InReview || rc.Status == state.AwaitingSecond {
		w.SLA = SLAState(rc.DueBy, now)
	}
	if string(acc.Kind) == string(vocab.KindUnit) {
		op, err := acc.QueryOperator().Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		if op != nil {
			w.Operator = &Operator{Name: op.Name, IDMasked: rules.MaskIDNumber(op.CertNumber), PhoneMasked: rules.MaskPhone(op.Phone)}
		}
	}
	if holder, held := ClaimHolder(rc, now); held {
		w.ClaimedByMe = holder == rv.ID
		if u, err := s.db.Ent.StaffUser.Query().Where(staffuser.ID(holder)).Only(ctx); err == nil {
			w.ClaimedBy = u.Name
		}
	}
	if w.Evidence, err = s.evidenceItems(ctx, rv, rc); err != nil {
		return nil, err
	}
	w.EvidenceDestroyedAt = destroyedAt(w.Evidence)
	switch rc.Status {
	case state.AwaitingSecond:
		w.Risk = RiskFlags(rc.RiskFlags)
		if rc.FirstApprovedBy != nil {
			if u, err := s.db.Ent.StaffUser.Query().Where(staffuser.ID(*rc.FirstApprovedBy)).Only(ctx); err == nil {
				w.FirstApprover = u.Name
			}
		}
	case state.Submitted, state.InReview:
		flags, err := s.riskFlags(ctx, rc, w.Evidence, now)
		if err != nil {
			return nil, err
		}
		w.Risk = RiskFlags(flags)
	default:
		w.Risk = RiskFlags(rc.RiskFlags)
	}
	if w.Earlier, err = s.db.Ent.RecoveryCase.Query().Where(ofAccount(acc.ID),
		recoverycase.IDNEQ(rc.ID), recoverycase.SubmittedAtNotNil()).Order(ent.Desc(recoverycase.FieldSubmittedAt)).Limit(20).All(ctx); err != nil {
		return nil, err
	}
	if w.Linked, err = s.LinkedCases(ctx, rv, rc); err != nil {
		return nil, err
	}
	if w.Events, err = rc.QueryEvents().Order(ent.Asc(caseevent.FieldCreatedAt), ent.Asc(caseevent.FieldID)).All(ctx); err != nil {
		return nil, err
	}
	w.SMS, err = s.db.Ent.SMSMessage.Query().Where(smsmessage.Ref("case:" + rc.ID.String())).
		Order(ent.Desc(smsmessage.FieldCreatedAt)).All(ctx)
	return w, err
}

// evidenceItems lists the case's images in the order of RequiredEvidence,
// each with the other accounts' cases that used the same or a near image.
func (s *Service) evidenceItems(ctx context.Context, rv Reviewer, rc *ent.RecoveryCase) ([]EvidenceItem, error) {
	var items []EvidenceItem
	for _, kind := range RequiredEvidence(string(rc.Kind)) {
		for _, e := range rc.Edges.Evidence {
			if string(e.Kind) != kind {
				continue
			}
			dups, err := s.duplicates(ctx, rv, rc, e)
			if err != nil {
				return nil, err
			}
			items = append(items, EvidenceItem{Kind: kind, Label: vocab.EvidenceKind(kind).Label(), Width: e.Width,
				Height: e.Height, Size: e.Size, Duplicates: dups, DestroyedAt: e.DestroyedAt})
		}
	}
	return items, nil
}

// destroyedAt is when the case's images were destroyed: the time shared by
// all of them once every one is destroyed (the purge takes a case's images
// together), nil otherwise.
func destroyedAt(items []EvidenceItem) *time.Time {
	var at *time.Time
	for _, it := range items {
		if it.DestroyedAt == nil {
			return nil
		}
		at = it.DestroyedAt
	}
	return at
}

// duplicates finds other accounts' cases whose image of the same kind is
// byte-identical (SHA-256) or perceptually near (dHash within
// imagecheck.NearDuplicateDistance).
func (s *Service) duplicates(ctx context.Context, rv Reviewer, rc *ent.RecoveryCase, e *ent.Evidence) ([]Duplicate, error) {
	// Candidates for a near duplicate share at least one whole band of the
	// perceptual hash with this image (imagecheck.PHashBands > the distance:
	// pigeonhole), so 7 equality lookups on the (kind, phash_bN) indexes
	// find every one of them, however many images the table holds; each is
	// then checked exactly. Only the few that match are read again, with
	// exact copies from the SHA-256 index, this case's own images left out.
	// The account's other cases are dropped when the cases are loaded.
	near, err := s.nearImages(ctx, e.Kind, uint64(e.Phash))
	if err != nil {
		return nil, err
	}
	nearIDs := make([]int, 0, len(near))
	for id := range near {
		nearIDs = append(nearIDs, id)
	}
	var matches []struct {
		ID     int       `json:"id"`
		CaseID uuid.UUID `json:"case_id"`
		Sha256 string    `json:"sha256"`
	}
	if err := s.db.Ent.Evidence.Query().Where(evidence.CaseIDNEQ(rc.ID), evidence.Or(evidence.Sha256(e.Sha256), evidence.IDIn(nearIDs...))).
		Select(evidence.FieldID, evidence.FieldCaseID, evidence.FieldSha256).Scan(ctx, &matches); err != nil {
		return nil, err
	}
	found := map[uuid.UUID]Duplicate{}
	for _, m := range matches {
		if m.Sha256 == e.Sha256 {
			found[m.CaseID] = Duplicate{Exact: true}
		}
	}
	for _, m := range matches {
		if _, seen := found[m.CaseID]; !seen {
			found[m.CaseID] = Duplicate{Distance: near[m.ID]}
		}
	}
	if len(found) == 0 {
		return nil, nil
	}
	ids := make([]uuid.UUID, 0, len(found))
	for id := range found {
		ids = append(ids, id)
	}
	var cases []struct {
		ID         uuid.UUID `json:"id"`
		CaseNumber string    `json:"case_number"`
		RegionCode string    `json:"region_code"`
	}
	if err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.IDIn(ids...), recoverycase.CaseNumberNotNil(),
		notOfAccount(rc.Edges.Account.ID)).Order(ent.Asc(recoverycase.FieldCaseNumber)).
		Select(recoverycase.FieldID, recoverycase.FieldCaseNumber, recoverycase.FieldRegionCode).Scan(ctx, &cases); err != nil {
		return nil, err
	}
	out := make([]Duplicate, 0, len(cases))
	for _, c := range cases {
		d := found[c.ID]
		d.CaseNumber, d.Visible = c.CaseNumber, rv.covers(c.RegionCode)
		out = append(out, d)
	}
	return out, nil
}

// phashCandidate is an image whose perceptual hash shares a band with the
// one searched for.
type phashCandidate struct {
	ID    int   `json:"id"`
	Phash int64 `json:"phash"`
}

// nearImages returns the images of a kind whose perceptual hash lies within
// imagecheck.NearDuplicateDistance of h, by id with their distance.
func (s *Service) nearImages(ctx context.Context, kind evidence.Kind, h uint64) (map[int]int, error) {
	candidates, err := s.nearCandidates(ctx, kind, h)
	if err != nil {
		return nil, err
	}
	near := map[int]int{}
	for _, c := range candidates {
		if d := imagecheck.Hamming(uint64(c.Phash), h); d <= imagecheck.NearDuplicateDistance {
			near[c.ID] = d
		}
	}
	return near, nil
}

// nearCandidates returns the images of a kind that share at least one band
// of their perceptual hash with h: an OR of 7 terms "kind and band N equal",
// which SQLite answers as a union of lookups in the (kind, phash_bN)
// indexes (its multi-index OR) and PostgreSQL as a BitmapOr of them. (With
// the kind outside the OR, SQLite's planner chose to walk every image of the
// kind instead.) Every image within imagecheck.NearDuplicateDistance of h is
// among them.
func (s *Service) nearCandidates(ctx context.Context, kind evidence.Kind, h uint64) ([]phashCandidate, error) {
	b := imagecheck.Bands(h)
	band := [imagecheck.PHashBands]func(int) predicate.Evidence{evidence.PhashB0, evidence.PhashB1, evidence.PhashB2, evidence.PhashB3,
		evidence.PhashB4, evidence.PhashB5, evidence.PhashB6}
	terms := make([]predicate.Evidence, len(band))
	for i, eq := range band {
		terms[i] = evidence.And(evidence.KindEQ(kind), eq(b[i]))
	}
	var out []phashCandidate
	err := s.db.Ent.Evidence.Query().Where(evidence.Or(terms...)).
		Select(evidence.FieldID, evidence.FieldPhash).Scan(ctx, &out)
	return out, err
}

// OpenEvidence returns the bytes of one image for a reviewer allowed to view
// it, and records the view in the audit log.
func (s *Service) OpenEvidence(ctx context.Context, rv Reviewer, number, kind string) ([]byte, error) {
	data, err := s.ReadEvidence(ctx, rv, number, kind)
	if err != nil {
		return nil, err
	}
	return data, s.RecordEvidenceView(ctx, rv, number, kind)
}

// ReadEvidence returns the bytes of one image for a reviewer allowed to view
// it, recording nothing: for an image prepared ahead of its view (the next
// case's), whose view RecordEvidenceView records when it is shown.
func (s *Service) ReadEvidence(ctx context.Context, rv Reviewer, number, kind string) ([]byte, error) {
	rc, err := s.CaseFor(ctx, rv, number)
	if err != nil {
		return nil, err
	}
	var key string
	for _, e := range rc.Edges.Evidence {
		if string(e.Kind) != kind {
			continue
		}
		if e.DestroyedAt != nil {
			return nil, errEvidenceDestroyed(*e.DestroyedAt)
		}
		key = e.ObjectKey
	}
	if key == "" {
		return nil, ErrCaseNotFound
	}
	r, _, err := s.store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := imagecheck.ReadLimited(r)
	if err != nil {
		return nil, fmt.Errorf("read evidence %s: %w", key, err)
	}
	return data, nil
}

// RecordEvidenceView records in the audit log that the reviewer was shown
// one image of the case.
func (s *Service) RecordEvidenceView(ctx context.Context, rv Reviewer, number, kind string) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		return audit.Record(ctx, tx, audit.Event{At: s.clock.Now(), ActorKind: audit.ActorStaff, Actor: rv.Username,
			Action: "evidence.viewed", ObjectType: "case", ObjectID: strings.ToUpper(number), Detail: map[string]any{"kind": kind}})
	})
}

// AddNote adds a reviewer's note to the case history.
func (s *Service) AddNote(ctx context.Context, rv Reviewer, number, note string) error {
	note = strings.TrimSpace(note)
	if note == "" {
		return nil
	}
	if utf8.RuneCountInString(note) > MaxNoteLen {
		return ErrNoteTooLong.WithField("note")
	}
	now := s.clock.Now()
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		rc, err := s.lockedCase(ctx, tx, rv, number)
		if err != nil {
			return err
		}
		if err := tx.Ent.CaseEvent.Create().SetCaseID(rc.ID).SetType("note").SetActor(rv.actor()).SetNote(note).SetCreatedAt(now).Exec(ctx); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{At: now, ActorKind: audit.ActorStaff, Actor: rv.Username,
			Action: "case.note", ObjectType: "case", ObjectID: *rc.CaseNumber})
	})
}
