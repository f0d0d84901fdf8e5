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
	var images []*ent.Evidence
	for _, kind := range RequiredEvidence(string(rc.Kind)) {
		for _, e := range rc.Edges.Evidence {
			if string(e.Kind) == kind {
				images = append(images, e)
			}
		}
	}
	dups, err := s.duplicates(ctx, rv, rc, images)
	if err != nil {
		return nil, err
	}
	items := make([]EvidenceItem, 0, len(images))
	for i, e := range images {
		kind := string(e.Kind)
		items = append(items, EvidenceItem{Kind: kind, Label: vocab.EvidenceKind(kind).Label(), Width: e.Width,
			Height: e.Height, Size: e.Size, Duplicates: dups[i], DestroyedAt: e.DestroyedAt})
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

// duplicates finds, for each of case rc's images, other accounts' cases
// whose image of the same kind is byte-identical (SHA-256) or perceptually
// near (dHash within imagecheck.NearDuplicateDistance); the result is in
// the order of images. The search is three queries for all the images
// together, however many they are, rather than three per image: a decision
// and a case page both pay for it.
func (s *Service) duplicates(ctx context.Context, rv Reviewer, rc *ent.RecoveryCase, images []*ent.Evidence) ([][]Duplicate, error) {
	out := make([][]Duplicate, len(images))
	if len(images) == 0 {
		return out, nil
	}
	// Candidates for a near duplicate share at least one whole band of the
	// perceptual hash with an image (imagecheck.PHashBands > the distance:
	// pigeonhole), so equality lookups on the (kind, phash_bN) indexes find
	// every one of them, however many images the table holds; each is then
	// checked exactly. Only the few that match are read again, with exact
	// copies from the SHA-256 index, this case's own images left out. The
	// account's other cases are dropped when the cases are loaded.
	queries := make([]phashQuery, len(images))
	shas := make([]string, 0, len(images))
	for i, e := range images {
		queries[i] = phashQuery{Kind: e.Kind, Hash: uint64(e.Phash)}
		shas = append(shas, e.Sha256)
	}
	near, err := s.nearImagesOf(ctx, queries)
	if err != nil {
		return nil, err
	}
	var nearIDs []int
	for _, n := range near {
		for id := range n {
			nearIDs = append(nearIDs, id)
		}
	}
	var matches []struct {
		ID     int       `json:"id"`
		CaseID uuid.UUID `json:"case_id"`
		Sha256 string    `json:"sha256"`
	}
	if err := s.db.Ent.Evidence.Query().Where(evidence.CaseIDNEQ(rc.ID), evidence.Or(evidence.Sha256In(shas...), evidence.IDIn(nearIDs...))).
		Select(evidence.FieldID, evidence.FieldCaseID, evidence.FieldSha256).Scan(ctx, &matches); err != nil {
		return nil, err
	}
	found := make([]map[uuid.UUID]Duplicate, len(images))
	var caseIDs []uuid.UUID
	seenCase := map[uuid.UUID]bool{}
	for i, e := range images {
		f := map[uuid.UUID]Duplicate{}
		for _, m := range matches {
			if m.Sha256 == e.Sha256 {
				f[m.CaseID] = Duplicate{Exact: true}
			}
		}
		for _, m := range matches {
			if d, ok := near[i][m.ID]; ok {
				if _, seen := f[m.CaseID]; !seen {
					f[m.CaseID] = Duplicate{Distance: d}
				}
			}
		}
		for id := range f {
			if !seenCase[id] {
				seenCase[id] = true
				caseIDs = append(caseIDs, id)
			}
		}
		found[i] = f
	}
	if len(caseIDs) == 0 {
		return out, nil
	}
	var cases []struct {
		ID         uuid.UUID `json:"id"`
		CaseNumber string    `json:"case_number"`
		RegionCode string    `json:"region_code"`
	}
	if err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.IDIn(caseIDs...), recoverycase.CaseNumberNotNil(),
		notOfAccount(rc.Edges.Account.ID)).Order(ent.Asc(recoverycase.FieldCaseNumber)).
		Select(recoverycase.FieldID, recoverycase.FieldCaseNumber, recoverycase.FieldRegionCode).Scan(ctx, &cases); err != nil {
		return nil, err
	}
	for i, f := range found {
		if len(f) == 0 {
			continue // nil, as for an image nobody else used
		}
		out[i] = []Duplicate{}
		for _, c := range cases {
			if d, ok := f[c.ID]; ok {
				d.CaseNumber, d.Visible = c.CaseNumber, rv.covers(c.RegionCode)
				out[i] = append(out[i], d)
			}
		}
	}
	return out, nil
}

// phashCandidate is an image whose perceptual hash shares a band with one
// searched for.
type phashCandidate struct {
	ID    int           `json:"id"`
	Phash int64         `json:"phash"`
	Kind  evidence.Kind `json:"kind"`
}

// phashQuery is one perceptual hash searched for among the images of a kind.
type phashQuery struct {
	Kind evidence.Kind
	Hash uint64
}

// nearImages returns the images of a kind whose perceptual hash lies within
// imagecheck.NearDuplicateDistance of h, by id with their distance.
func (s *Service) nearImages(ctx context.Context, kind evidence.Kind, h uint64) (map[int]int, error) {
	near, err := s.nearImagesOf(ctx, []phashQuery{{Kind: kind, Hash: h}})
	if err != nil {
		return nil, err
	}
	return near[0], nil
}

// nearImagesOf is nearImages for several hashes in one query: for each
// query, in order, the images of its kind within
// imagecheck.NearDuplicateDistance of its hash, by id with their distance.
func (s *Service) nearImagesOf(ctx context.Context, qs []phashQuery) ([]map[int]int, error) {
	candidates, err := s.nearCandidates(ctx, qs)
	if err != nil {
		return nil, err
	}
	out := make([]map[int]int, len(qs))
	for i, q := range qs {
		out[i] = map[int]int{}
		for _, c := range candidates {
			if c.Kind != q.Kind {
				continue
			}
			if d := imagecheck.Hamming(uint64(c.Phash), q.Hash); d <= imagecheck.NearDuplicateDistance {
				out[i][c.ID] = d
			}
		}
	}
	return out, nil
}

// nearCandidates returns the images that share at least one band of their
// perceptual hash with one of the queries' hashes, among the images of
// that query's kind: an OR of terms "kind and band N equal" (7 per query,
// repeated terms once), which SQLite answers as a union of lookups in the
// (kind, phash_bN) indexes (its multi-index OR) and PostgreSQL as a
// BitmapOr of them. (With the kind outside the OR, SQLite's planner chose to
// walk every image of the kind instead.) Every image within
// imagecheck.NearDuplicateDistance of a query's hash is among them.
func (s *Service) nearCandidates(ctx context.Context, qs []phashQuery) ([]phashCandidate, error) {
	band := [imagecheck.PHashBands]func(int) predicate.Evidence{evidence.PhashB0, evidence.PhashB1, evidence.PhashB2, evidence.PhashB3,
		evidence.PhashB4, evidence.PhashB5, evidence.PhashB6}
	type term struct {
		kind  evidence.Kind
		band  int
		value int
	}
	seen := map[term]bool{}
	var terms []predicate.Evidence
	for _, q := range qs {
		b := imagecheck.Bands(q.Hash)
		for i, eq := range band {
			t := term{q.Kind, i, b[i]}
			if seen[t] {
				continue
			}
			seen[t] = true
			terms = append(terms, evidence.And(evidence.KindEQ(q.Kind), eq(b[i])))
		}
	}
	var out []phashCandidate
	err := s.db.Ent.Evidence.Query().Where(evidence.Or(terms...)).
		Select(evidence.FieldID, evidence.FieldPhash, evidence.FieldKind).Scan(ctx, &out)
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
