package recovery

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/predicate"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Queue tabs.
const (
	TabPending  = "pending"  // 待审核: submitted, unclaimed
	TabMine     = "mine"     // 我的: claimed by me
	TabReturned = "returned" // 已退回
	TabDone     = "done"     // 已完成: approved or rejected
	// The escalation tabs: undecided cases the SLA job marked (escalate.go).
	TabDueSoon = string(vocab.SLADueSoon) // 临近超期
	TabOverdue = string(vocab.SLAOverdue) // 已超期
)

// Tabs lists the queue's tabs in display order.
var Tabs = []string{TabPending, TabMine, TabDueSoon, TabOverdue, TabReturned, TabDone}

// SLA states of a case that is waiting for a decision.
const (
	SLAOk       = string(vocab.SLAOk)
	SLADueToday = string(vocab.SLADueToday)
	SLAOverdue  = string(vocab.SLAOverdue)
)

// QueueFilter narrows the queue.
type QueueFilter struct {
	Tab      string
	Kind     string // person, unit or ""
	City     string // 4-digit city code or ""
	District string // 6-digit county code or ""
	SLA      string // ok, due_today, due_soon (the stored mark), overdue or ""
	Search   string // case number, unit or person name, certificate number
	After    string // keyset cursor from the previous page
	Limit    int
}

// QueueRow is one case in the list, personal data masked.
type QueueRow struct {
	CaseNumber  string
	Kind        string
	Name        string
	Cert        string
	Region      string
	Status      state.Status
	SubmittedAt time.Time
	DueBy       *time.Time
	SLA         string
	ClaimedByMe bool
}

// QueuePage is one page of the queue with the count of every tab.
type QueuePage struct {
	Rows   []QueueRow
	Next   string
	Counts map[string]int
	// Capped marks the tabs holding more than CountCap cases: their count
	// reads "999+".
	Capped map[string]bool
}

// CountCap is the largest tab count the queue computes exactly. Counting a
// tab costs what it holds, and the 已完成 tab of a province-wide reviewer
// grows without bound (it was 86–91 % of the page at 100 000 cases); past
// CountCap the tab shows "999+". Counts are read on every page, never
// cached: a case just claimed leaves 待审核 and appears under 我的 at once,
// and the reviewer's own tab (我的) is always small enough to be exact.
const CountCap = 999

// bigTabTTL is how long a tab found past CountCap is shown as "999+"
// without counting it again.
const bigTabTTL = time.Minute

// bigTabs remembers which tabs (of which scope and filters) were found past
// CountCap. Only that fact is kept, never a number: a tab under the cap is
// counted on every page, so claims and decisions show at once; a tab that
// drops under the cap reads "999+" for at most bigTabTTL. Re-counting a
// full tab on every page was still 45 % of the page at 100 000 cases.
type bigTabs struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func newBigTabs() *bigTabs { return &bigTabs{until: map[string]time.Time{}} }

func (b *bigTabs) known(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Now().Before(b.until[key])
}

func (b *bigTabs) remember(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.until) > 10_000 { // many distinct searches: start afresh
		clear(b.until)
	}
	b.until[key] = time.Now().Add(bigTabTTL)
}

// bigTabKey names a tab's contents: the tab, the scope and every filter
// (the keyset position does not change a count).
func bigTabKey(tab string, rv Reviewer, f QueueFilter) string {
	who := strings.Join(rv.Regions, ",")
	if tab == TabMine {
		who = fmt.Sprint(rv.ID)
	}
	return strings.Join([]string{tab, who, f.Kind, f.City, f.District, f.SLA, f.Search}, "|")
}

// CountLabel is how a tab's count reads: the number, or "999+".
func (p *QueuePage) CountLabel(tab string) string {
	if p.Capped[tab] {
		return fmt.Sprintf("%d+", CountCap)
	}
	return fmt.Sprint(p.Counts[tab])
}

// Queue lists the cases of the reviewer's regions, sorted by due date then
// submission time, one keyset page at a time (no OFFSET: a page deep in the
// list costs what the first one does).
func (s *Service) Queue(ctx context.Context, rv Reviewer, f QueueFilter) (*QueuePage, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	if !validTab(f.Tab) {
		f.Tab = TabPending
	}
	now := s.clock.Now()
	base := s.filters(rv, f, now)
	page := &QueuePage{Counts: map[string]int{}, Capped: map[string]bool{}}
	for _, tab := range Tabs {
		key := bigTabKey(tab, rv, f)
		if s.big.known(key) {
			page.Counts[tab], page.Capped[tab] = CountCap, true
			continue
		}
		// At most CountCap+1 rows of a constant, in no particular order: an
		// index range read that stops early, never a sort.
		ones, err := s.db.Ent.RecoveryCase.Query().Where(append(base, tabPredicate(tab, rv))...).Limit(CountCap + 1).
			Modify(func(s *entsql.Selector) { s.SelectExpr(entsql.Expr("1")) }).Ints(ctx)
		if err != nil {
			return nil, err
		}
		page.Counts[tab], page.Capped[tab] = min(len(ones), CountCap), len(ones) > CountCap
		if page.Capped[tab] {
			s.big.remember(key)
		}
	}
	var after *cursor
	if f.After != "" {
		c, err := decodeCursor(f.After)
		if err != nil {
			return nil, ErrBadCursor
		}
		after = &c
	}
	noDue := f.Tab == TabReturned
	// One query per stream, each walking an index in queue order and
	// stopping after a page; the streams are merged here. A single query
	// over several statuses or a region range would sort every matching
	// row first (SQLite: a temporary B-tree the size of the tab).
	var rows []*ent.RecoveryCase
	for _, stream := range s.streams(rv, f) {
		q := s.db.Ent.RecoveryCase.Query().Where(append(base, tabPredicate(f.Tab, rv))...).Where(stream...).WithAccount()
		if after != nil {
			q = q.Where(after.after(noDue))
		}
		if !noDue {
			q = q.Order(ent.Asc(recoverycase.FieldDueBy))
		}
		part, err := q.Order(ent.Asc(recoverycase.FieldSubmittedAt), ent.Asc(recoverycase.FieldID)).Limit(f.Limit + 1).All(ctx)
		if err != nil {
			return nil, err
		}
		rows = append(rows, part...)
	}
	slices.SortFunc(rows, func(a, b *ent.RecoveryCase) int { return queueOrder(a, b, noDue) })
	if len(rows) > f.Limit {
		rows = rows[:f.Limit]
		last := rows[len(rows)-1]
		page.Next = cursor{DueBy: last.DueBy, SubmittedAt: *last.SubmittedAt, ID: last.ID}.encode()
	}
	for _, rc := range rows {
		page.Rows = append(page.Rows, s.row(rc, rv, now))
	}
	return page, nil
}

// maxStreams bounds the queries one page may take; a wider scope (many
// regions) falls back to one query per status.
const maxStreams = 48

// streams splits the tab into parts that each match an index prefix by
// equality — one status, and for a reviewer of some cities or counties one
// region code — so that each part is read in queue order straight from the
// index. With no split needed it returns one empty stream.
func (s *Service) streams(rv Reviewer, f QueueFilter) [][]predicate.RecoveryCase {
	statuses := tabStatuses(f.Tab)
	var codes []string
	switch {
	case f.District != "":
		codes = []string{f.District}
	case slices.Contains(rv.Regions, rules.ProvinceCode) && f.City == "":
		// Province-wide: the (status, due_by, …) index is in queue order.
	default:
		scope := rv.Regions
		if f.City != "" {
			scope = []string{f.City}
		}
		for _, r := range scope {
			codes = append(codes, regionCodes(r)...)
		}
	}
	if len(statuses)*max(len(codes), 1) > maxStreams {
		codes = nil
	}
	var out [][]predicate.RecoveryCase
	for _, st := range statuses {
		if len(codes) == 0 {
			out = append(out, []predicate.RecoveryCase{recoverycase.StatusEQ(st)})
			continue
		}
		for _, c := range codes {
			out = append(out, []predicate.RecoveryCase{recoverycase.StatusEQ(st), recoverycase.RegionCode(c)})
		}
	}
	return out
}

// tabStatuses are the statuses a tab lists.
func tabStatuses(tab string) []state.Status {
	switch tab {
	case TabMine:
		return []state.Status{state.InReview}
	case TabReturned:
		return []state.Status{state.Returned}
	case TabDone:
		return []state.Status{state.Approved, state.Rejected}
	case TabDueSoon, TabOverdue:
		return UndecidedStatuses
	}
	return []state.Status{state.Submitted}
}

// regionCodes are the region codes a case under prefix can carry: the
// prefix itself and every division below it.
func regionCodes(prefix string) []string {
	out := []string{prefix}
	for _, k := range rules.RegionChildren(prefix) {
		out = append(out, regionCodes(k.Code)...)
	}
	return out
}

// queueOrder is the queue's order: due date (no due date first, as the
// database sorts NULLs in ascending order on SQLite), submission time, id.
func queueOrder(a, b *ent.RecoveryCase, noDue bool) int {
	if !noDue {
		switch {
		case a.DueBy == nil && b.DueBy != nil:
			return -1
		case a.DueBy != nil && b.DueBy == nil:
			return 1
		case a.DueBy != nil && b.DueBy != nil:
			if c := a.DueBy.Compare(*b.DueBy); c != 0 {
				return c
			}
		}
	}
	if c := a.SubmittedAt.Compare(*b.SubmittedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID.String(), b.ID.String())
}

// ErrBadCursor is a page link that was tampered with or is too old.
var ErrBadCursor = ErrCaseNotFound

func validTab(t string) bool { return slices.Contains(Tabs, t) }

// tabPredicate selects a tab's cases: its statuses (tabStatuses, the one
// table of them), and for 我的 the reviewer's own claims.
func tabPredicate(tab string, rv Reviewer) predicate.RecoveryCase {
	p := recoverycase.StatusIn(tabStatuses(tab)...)
	switch tab {
	case TabMine:
		return recoverycase.And(p, recoverycase.ClaimedBy(rv.ID))
	case TabDueSoon, TabOverdue:
		return recoverycase.And(p, recoverycase.SLAMark(tab))
	}
	return p
}

// filters are the predicates every tab shares: the reviewer's regions and
// the chosen filters.
func (s *Service) filters(rv Reviewer, f QueueFilter, now time.Time) []predicate.RecoveryCase {
	var scope []predicate.RecoveryCase
	for _, r := range rv.Regions {
		scope = append(scope, regionPrefix(r))
	}
	ps := []predicate.RecoveryCase{recoverycase.Or(scope...), recoverycase.SubmittedAtNotNil()}
	switch {
	case len(scope) == 0:
		ps[0] = recoverycase.RegionCode("-") // no region: nothing
	case slices.Contains(rv.Regions, rules.ProvinceCode):
		// Every case lies in Guangdong: no region predicate, so the
		// planner walks the (status, due_by, …) index in queue order.
		ps = ps[1:]
	}
	if f.Kind == string(vocab.KindPerson) || f.Kind == string(vocab.KindUnit) {
		ps = append(ps, recoverycase.KindEQ(recoverycase.Kind(f.Kind)))
	}
	if f.District != "" {
		ps = append(ps, recoverycase.RegionCode(f.District))
	} else if f.City != "" {
		ps = append(ps, regionPrefix(f.City))
	}
	today := rules.StartOfDay(now)
	switch f.SLA {
	case SLAOverdue:
		ps = append(ps, recoverycase.DueByLT(today))
	case SLADueToday:
		ps = append(ps, recoverycase.DueByGTE(today), recoverycase.DueByLT(today.AddDate(0, 0, 1)))
	case SLAOk:
		ps = append(ps, recoverycase.DueByGTE(today.AddDate(0, 0, 1)))
	case string(vocab.SLADueSoon):
		ps = append(ps, recoverycase.SLAMark(f.SLA)) // the escalation job's mark
	}
	if q := strings.TrimSpace(f.Search); q != "" {
		ps = append(ps, recoverycase.Or(
			recoverycase.CaseNumberHasPrefix(strings.ToUpper(q)),
			recoverycase.TypedCertHmacIn(s.db.Lookups(rules.NormalizeCertNumber(q))...),
			recoverycase.HasAccountWith(account.NameContains(q)),
		))
	}
	return ps
}

// regionPrefix matches region codes starting with prefix as a range
// [prefix, prefix with its last character incremented), which an index can
// serve, unlike LIKE 'prefix%' (case-insensitive in SQLite).
func regionPrefix(prefix string) predicate.RecoveryCase {
	if prefix == "" {
		return recoverycase.RegionCodeNEQ("")
	}
	upper := prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
	return recoverycase.And(recoverycase.RegionCodeGTE(prefix), recoverycase.RegionCodeLT(upper))
}

// ClaimHolder is the staff user who holds a live claim on the case, if
// anyone does: the case is in review and the lease has not run out. It is
// the one test of "claimed" that the queue badge, the case page and Claim
// share: a decided or resubmitted case keeps its last claimed_by (who
// reviewed it) but is claimed by no one.
func ClaimHolder(rc *ent.RecoveryCase, now time.Time) (int, bool) {
	if rc.Status != state.InReview || rc.ClaimedBy == nil || rc.ClaimExpiresAt == nil || !now.Before(*rc.ClaimExpiresAt) {
		return 0, false
	}
	return *rc.ClaimedBy, true
}

// Cities are the cities a reviewer's queue can be narrowed to: every city
// that one of their regions covers or lies in (a county reviewer sees
// their own city). A province-wide reviewer gets all of them.
func (r Reviewer) Cities() []rules.Region {
	var out []rules.Region
	for _, c := range rules.Cities() {
		if slices.ContainsFunc(r.Regions, func(p string) bool { return rules.RegionCovers(p, c.Code) || rules.RegionCovers(c.Code, p) }) {
			out = append(out, c)
		}
	}
	return out
}

// caseNumberPattern is a whole case number (CONTRACT §4: ZH, the submission
// date, 6 digits).
var caseNumberPattern = regexp.MustCompile(`^ZH\d{14}$`)

// ExactCaseNumber returns the case number a queue search names exactly, in
// its canonical upper-case form, or "" when the search is anything else.
func ExactCaseNumber(search string) string {
	n := strings.ToUpper(strings.TrimSpace(search))
	if !caseNumberPattern.MatchString(n) {
		return ""
	}
	return n
}

// SLAState is where a waiting case stands against its due date.
func SLAState(due *time.Time, now time.Time) string {
	if due == nil {
		return ""
	}
	today := rules.StartOfDay(now)
	switch {
	case due.Before(today):
		return SLAOverdue
	case due.Before(today.AddDate(0, 0, 1)):
		return SLADueToday
	}
	return SLAOk
}

func (s *Service) row(rc *ent.RecoveryCase, rv Reviewer, now time.Time) QueueRow {
	acc := rc.Edges.Account
	r := QueueRow{Kind: string(rc.Kind), Region: rules.RegionFullName(rc.RegionCode), Status: rc.Status,
		SubmittedAt: *rc.SubmittedAt, DueBy: rc.DueBy}
	if holder, held := ClaimHolder(rc, now); held {
		r.ClaimedByMe = holder == rv.ID
	}
	if rc.CaseNumber != nil {
		r.CaseNumber = *rc.CaseNumber
	}
	if rc.Status == state.Submitted || rc.Status == state.InReview {
		r.SLA = SLAState(rc.DueBy, now)
	}
	if acc != nil {
		if acc.Kind == account.KindPerson {
			r.Name, r.Cert = rules.MaskName(acc.Name), rules.MaskIDNumber(acc.CertNumber)
		} else {
			r.Name, r.Cert = acc.Name, rules.MaskCertNumber(acc.CertNumber)
		}
	}
	return r
}

// cursor is the position after the last row of a page.
type cursor struct {
	DueBy       *time.Time
	SubmittedAt time.Time
	ID          uuid.UUID
}

func (c cursor) encode() string {
	due := "-"
	if c.DueBy != nil {
		due = fmt.Sprint(c.DueBy.UnixNano())
	}
	// Nanoseconds: the stored times carry them, and a cursor that rounded
	// them would show the last row of a page again on the next.
	raw := fmt.Sprintf("%s|%d|%s", due, c.SubmittedAt.UnixNano(), c.ID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, err
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 {
		return cursor{}, fmt.Errorf("cursor has %d parts", len(parts))
	}
	var c cursor
	if parts[0] != "-" {
		ns, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil {
			return c, err
		}
		t := time.Unix(0, ns)
		c.DueBy = &t
	}
	ns, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return c, err
	}
	c.SubmittedAt = time.Unix(0, ns)
	if c.ID, err = uuid.Parse(parts[2]); err != nil {
		return c, err
	}
	return c, nil
}

// after is the keyset predicate: rows strictly after the cursor in the
// order (due_by, submitted_at, id), or (submitted_at, id) without due dates,
// as one row-value comparison, which both SQLite and PostgreSQL turn into an
// index seek (an OR of the three cases is a filter over every earlier row).
func (c cursor) after(noDue bool) predicate.RecoveryCase {
	return func(s *entsql.Selector) {
		if noDue || c.DueBy == nil {
			s.Where(entsql.CompositeGT([]string{s.C(recoverycase.FieldSubmittedAt), s.C(recoverycase.FieldID)}, c.SubmittedAt, c.ID))
			return
		}
		s.Where(entsql.CompositeGT([]string{s.C(recoverycase.FieldDueBy), s.C(recoverycase.FieldSubmittedAt), s.C(recoverycase.FieldID)},
			*c.DueBy, c.SubmittedAt, c.ID))
	}
}
