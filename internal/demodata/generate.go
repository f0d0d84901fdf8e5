package demodata

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"recoverydesk/ent"
	"recoverydesk/ent/account"
	"recoverydesk/ent/qareview"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// Options shape one Generate run.
type Options struct {
	// Cases is how many cases to add (drafts and expired ones included).
	Cases int
	// Months of history before Now (default 6).
	Months int
	// Now is the present of the history (default time.Now()).
	Now time.Time
	// Seed makes a run repeatable (same seed, same database, same data).
	Seed uint64
	// Team makes the decisions; it needs at least one reviewer and one
	// supervisor.
	Team Team
	// PasswordHash is every generated account's password hash, hashed once
	// by the caller (argon2id is far too slow to run per account).
	PasswordHash string
	// Calendar gives working days and due dates (default rules.NewCalendar()).
	Calendar *rules.Calendar
	// QASamplePercent of decisions go to QA review (default 10), plus every
	// flagged one.
	QASamplePercent int
	// BatchSize is how many cases one transaction inserts (default 1000).
	BatchSize int
	// Progress, when set, is told how many cases are in after each batch.
	Progress func(done int)
}

// Stats counts what a run inserted.
type Stats struct {
	Accounts, Cases, Events, Audits, QAReviews int
	ByStatus                                   map[state.Status]int
}

func (o *Options) defaults() error {
	if o.Months <= 0 {
		o.Months = 6
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Calendar == nil {
		o.Calendar = rules.NewCalendar()
	}
	if o.QASamplePercent == 0 {
		o.QASamplePercent = 10
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if len(o.Team.Reviewers) == 0 || len(o.Team.Supervisors) == 0 {
		return fmt.Errorf("demodata: the team needs reviewers and a supervisor")
	}
	if o.PasswordHash == "" {
		return fmt.Errorf("demodata: no password hash")
	}
	return nil
}

// cityWeights spread cases over the 21 cities roughly by population.
var cityWeights = map[string]int{
	"4401": 180, "4403": 170, "4419": 100, "4406": 90, "4408": 70, "4413": 60, "4409": 60, "4407": 50, "4405": 50,
	"4452": 50, "4420": 40, "4412": 40, "4414": 40, "4418": 40, "4402": 30, "4416": 30, "4404": 25, "4451": 25,
	"4415": 25, "4417": 25, "4453": 23,
}

// places are the county-level codes (or the city's own code where GB/T 2260
// lists no counties, as for 东莞 and 中山), weighted by their city.
type places struct {
	codes []string
	cum   []int
}

func newPlaces() places {
	var p places
	total := 0
	for _, city := range rules.Cities() {
		kids := rules.RegionChildren(city.Code)
		w := cityWeights[city.Code]
		if w == 0 {
			w = 20
		}
		if len(kids) == 0 {
			total += w
			p.codes, p.cum = append(p.codes, city.Code), append(p.cum, total)
			continue
		}
		for i, k := range kids {
			share := w / len(kids)
			if i == 0 {
				share += w % len(kids)
			}
			total += max(share, 1)
			p.codes, p.cum = append(p.codes, k.Code), append(p.cum, total)
		}
	}
	return p
}

func (p places) pick(r *rand.Rand) string {
	n := r.IntN(p.cum[len(p.cum)-1])
	i, _ := slices.BinarySearch(p.cum, n+1)
	return p.codes[i]
}

// division6 is a 6-digit division code for certificate numbers.
func division6(code string) string {
	for len(code) < 6 {
		code += "00"
	}
	return code
}

// acct is what the generator keeps of an account to give it more cases.
type acct struct {
	id                      int
	kind                    string
	username, name, cert    string
	certType, region, phone string
}

// generator carries a run's state from batch to batch.
type generator struct {
	o        Options
	d        *db.DB
	r        *rand.Rand
	places   places
	nextAcct int            // index of the next generated account (unique numbers)
	seq      map[string]int // last case number sequence per ZHYYYYMMDD
	recent   []acct         // accounts that may apply again
	stats    Stats
}

// Generate adds o.Cases cases, their accounts, events, decisions, audit
// entries and QA reviews, in batches of o.BatchSize, one transaction each.
// It may run again on the same database to grow it: numbers continue where
// the data left off. Evidence is added separately by SeedEvidence.
//
// Cases are born drafts, as the transition hook demands of every insert; one
// UPDATE per status and batch then gives them the status their history
// reached, bypassing the hook on purpose: this is a record of the past, not
// a workflow (the workflow's own transitions are what the tests check).
func Generate(ctx context.Context, d *db.DB, o Options) (Stats, error) {
	if err := o.defaults(); err != nil {
		return Stats{}, err
	}
	g := &generator{o: o, d: d, r: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), places: newPlaces(),
		seq: map[string]int{}, stats: Stats{ByStatus: map[state.Status]int{}}}
	n, err := d.Ent.Account.Query().Count(ctx)
	if err != nil {
		return g.stats, err
	}
	g.nextAcct = n
	if err := g.loadSequences(ctx); err != nil {
		return g.stats, err
	}
	days := g.workdays()
	var batch []*caseSpec
	for i, day := range days {
		// Spread the cases evenly over the working days, oldest first.
		count := (i+1)*o.Cases/len(days) - i*o.Cases/len(days)
		specs := g.day(day, count)
		for len(specs) > 0 {
			take := min(o.BatchSize-len(batch), len(specs))
			batch, specs = append(batch, specs[:take]...), specs[take:]
			if len(batch) == o.BatchSize {
				if err := g.insert(ctx, batch); err != nil {
					return g.stats, err
				}
				batch = batch[:0]
			}
		}
	}
	if len(batch) > 0 {
		if err := g.insert(ctx, batch); err != nil {
			return g.stats, err
		}
	}
	return g.stats, nil
}

// loadSequences reads the last case number of every day already present.
func (g *generator) loadSequences(ctx context.Context) error {
	rows, err := g.d.SQL.QueryContext(ctx, `SELECT MAX(case_number) FROM recovery_cases WHERE case_number IS NOT NULL GROUP BY substr(case_number, 1, 10)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var num string
		if err := rows.Scan(&num); err != nil {
			return err
		}
		if seq, err := strconv.Atoi(num[10:]); err == nil {
			g.seq[num[:10]] = seq
		}
	}
	return rows.Err()
}

// workdays are the working days of the history window, oldest first,
// today included when it is one.
func (g *generator) workdays() []time.Time {
	now := g.o.Now.In(rules.Shanghai)
	start := rules.StartOfDay(now.AddDate(0, -g.o.Months, 0))
	var out []time.Time
	for d := start; !d.After(now); d = d.AddDate(0, 0, 1) {
		if g.o.Calendar.IsWorkday(d) {
			out = append(out, d)
		}
	}
	return out
}

// caseSpec is one generated case before it is written.
type caseSpec struct {
	id          uuid.UUID
	acct        acct
	newAcct     bool
	operator    int // index into the batch's new accounts for a new unit's operator, or -1
	status      state.Status
	number      string
	created     time.Time
	submitted   time.Time
	due         *time.Time
	claimedBy   *Staff
	claimExp    time.Time
	outcome     vocab.Outcome
	reasons     []string
	returnKinds []string
	note        string
	decidedBy   *Staff
	decidedAt   time.Time
	firstBy     *Staff
	firstAt     time.Time
	secondBy    *Staff // the supervisor who co-signed a flagged approval
	flags       []string
	typedUser   string
	userSim     int
	nameSim     int
	version     int
}

// day generates count cases submitted (or begun) on day.
func (g *generator) day(day time.Time, count int) []*caseSpec {
	now := g.o.Now
	ageDays := g.o.Calendar.WorkdaysBetween(day, now)
	open := rules.StartOfDay(day).Add(8 * time.Hour)
	span := 14 * time.Hour
	if end := now.Sub(open); end < span {
		span = max(end, time.Minute)
	}
	times := make([]time.Time, count)
	for i := range times {
		times[i] = open.Add(time.Duration(g.r.Int64N(int64(span))))
		if times[i].After(now) {
			times[i] = now.Add(-time.Duration(g.r.IntN(600)) * time.Second)
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	out := make([]*caseSpec, 0, count)
	for _, at := range times {
		out = append(out, g.spec(at, ageDays))
	}
	return out
}

// spec draws one case's account and history; age is its age in working days.
func (g *generator) spec(at time.Time, age int) *caseSpec {
	r := g.r
	c := &caseSpec{id: uuid.Must(uuid.NewRandomFromReader(r2reader{r})), operator: -1, created: at.Add(-time.Duration(5+r.IntN(40)) * time.Minute)}
	if len(g.recent) > 50 && r.IntN(100) < 25 {
		c.acct = g.recent[r.IntN(len(g.recent))]
	} else {
		c.acct, c.newAcct = g.newAccount(), true
	}
	c.typedUser, c.userSim, c.nameSim = c.acct.username, 100, 100
	switch x := r.IntN(100); {
	case x < 8:
		c.typedUser, c.userSim = "", 0
	case x < 14:
		c.typedUser = c.acct.username[:len(c.acct.username)-1] + "x"
		c.userSim = recovery.Similarity(c.typedUser, c.acct.username)
	}
	if r.IntN(100) < 4 {
		c.nameSim = 40 + r.IntN(50)
	}
	// 3 % never get past the draft and expire after DraftTTL; of today's,
	// more are still being filled in.
	if draftShare := map[bool]int{true: 12, false: 3}[age <= 0]; r.IntN(100) < draftShare {
		c.created = at
		if g.o.Now.Sub(at) > recovery.DraftTTL {
			c.status, c.version = state.Expired, 3
		} else {
			c.status, c.version = state.Draft, 2
		}
		return c
	}
	g.seq["ZH"+at.In(rules.Shanghai).Format("20060102")]++
	c.number = fmt.Sprintf("ZH%s%06d", at.In(rules.Shanghai).Format("20060102"), g.seq["ZH"+at.In(rules.Shanghai).Format("20060102")])
	c.submitted = at
	due := g.o.Calendar.DueBy(at)
	c.due = &due
	c.version = 2 + len(recovery.RequiredEvidence(c.acct.kind))
	c.status = g.drawStatus(age)
	reviewers := g.o.Team.reviewersFor(c.acct.region)
	rv := reviewers[r.IntN(len(reviewers))]
	switch c.status {
	case state.Submitted:
	case state.InReview:
		c.claimedBy, c.claimExp = &rv, g.o.Now.Add(time.Duration(5+r.IntN(25))*time.Minute)
		c.version++
	case state.AwaitingSecond:
		c.firstBy, c.firstAt = &rv, g.decisionTime(at, due)
		c.flags = g.flags(c)
		c.version += 2
	default:
		g.decide(c, rv, at, due)
	}
	return c
}

// drawStatus is where a case submitted age working days ago stands now:
// young cases still wait, older ones are decided; returns not resubmitted
// within 10 working days expire.
func (g *generator) drawStatus(age int) state.Status {
	x := g.r.IntN(1000)
	type share struct {
		s state.Status
		n int
	}
	var mix []share
	switch {
	case age <= 0:
		mix = []share{{state.Submitted, 780}, {state.InReview, 100}, {state.Approved, 70}, {state.Rejected, 25}, {state.Returned, 25}}
	case age == 1:
		mix = []share{{state.Submitted, 420}, {state.InReview, 100}, {state.AwaitingSecond, 30}, {state.Approved, 320}, {state.Rejected, 80}, {state.Returned, 50}}
	case age == 2:
		mix = []share{{state.Submitted, 150}, {state.InReview, 50}, {state.AwaitingSecond, 20}, {state.Approved, 550}, {state.Rejected, 150}, {state.Returned, 80}}
	case age <= 5:
		mix = []share{{state.Submitted, 20}, {state.AwaitingSecond, 5}, {state.Approved, 715}, {state.Rejected, 175}, {state.Returned, 85}}
	case age <= 10:
		mix = []share{{state.Approved, 740}, {state.Rejected, 180}, {state.Returned, 80}}
	default:
		mix = []share{{state.Approved, 760}, {state.Rejected, 180}, {state.Returned, 10}, {state.Expired, 50}}
	}
	for _, s := range mix {
		if x < s.n {
			return s.s
		}
		x -= s.n
	}
	return state.Approved
}

// decisionTime is when a decision was made: mostly within the due date,
// about 6 % late, never in the future.
func (g *generator) decisionTime(at, due time.Time) time.Time {
	end := due.Add(18 * time.Hour)
	if g.r.IntN(100) < 6 {
		end = g.o.Calendar.AddWorkdays(due, 1+g.r.IntN(3)).Add(18 * time.Hour)
	}
	t := at.Add(20*time.Minute + time.Duration(g.r.Int64N(int64(max(end.Sub(at), time.Hour)))))
	if t.After(g.o.Now) {
		t = at.Add(time.Duration(g.r.Int64N(int64(max(g.o.Now.Sub(at), time.Second)))))
	}
	return t
}

// flags are the four-eyes reasons of a flagged approval.
func (g *generator) flags(c *caseSpec) []string {
	var f []string
	if c.userSim < recovery.LowSimilarity || c.nameSim < recovery.LowSimilarity {
		f = append(f, string(vocab.FlagLowSimilarity))
	}
	if len(f) == 0 || g.r.IntN(3) == 0 {
		others := []vocab.Flag{vocab.FlagDuplicateEvidence, vocab.FlagRecentlyLocked, vocab.FlagRecentlyRejected}
		f = append(f, string(others[g.r.IntN(len(others))]))
	}
	return f
}

// decide fills in a decided case (approved, rejected, returned, or a return
// that expired).
func (g *generator) decide(c *caseSpec, rv Staff, at, due time.Time) {
	r := g.r
	c.decidedAt = g.decisionTime(at, due)
	c.decidedBy = &rv
	c.version += 2
	switch c.status {
	case state.Approved:
		c.outcome = vocab.OutcomeApprove
		if c.userSim < recovery.LowSimilarity || c.nameSim < recovery.LowSimilarity || r.IntN(100) < 3 {
			// A flagged approval: the reviewer first, a supervisor second.
			c.flags = g.flags(c)
			c.firstBy, c.firstAt = &rv, c.decidedAt
			// As recovery.SecondApproval does: the decision stays the
			// reviewer's, the co-signature is the supervisor's own event.
			sup := g.o.Team.Supervisors[r.IntN(len(g.o.Team.Supervisors))]
			c.secondBy = &sup
			c.decidedAt = c.decidedAt.Add(time.Duration(10+r.IntN(240)) * time.Minute)
			if c.decidedAt.After(g.o.Now) {
				c.decidedAt = g.o.Now
			}
			c.version++
		}
	case state.Rejected:
		c.outcome = vocab.OutcomeReject
		c.reasons = g.reasons(c.acct.kind)
		if slices.Contains(c.reasons, "other") {
			c.note = "证件照片与登记信息不一致，请本人携带证件到窗口办理"
		}
	case state.Returned, state.Expired:
		c.outcome = vocab.OutcomeReturn
		kinds := recovery.RequiredEvidence(c.acct.kind)
		c.returnKinds = []string{kinds[r.IntN(len(kinds))]}
		c.reasons = []string{"unclear_image"}
		c.due = nil // the SLA clock stops on a return
	}
}

// reasons draws one or two rejection reasons that fit the case's kind.
func (g *generator) reasons(kind string) []string {
	var pool []string
	for _, rs := range recovery.DefaultReasons() {
		if kind == string(vocab.KindPerson) && (rs.Code == "license_no_seal" || rs.Code == "letter_irregular") {
			continue
		}
		pool = append(pool, rs.Code)
	}
	first := pool[g.r.IntN(len(pool))]
	out := []string{first}
	if g.r.IntN(4) == 0 {
		if second := pool[g.r.IntN(len(pool))]; second != first {
			out = append(out, second)
		}
	}
	return out
}

// newAccount draws a new account; its certificate number, username and
// phone come from its index, so they are unique across runs.
func (g *generator) newAccount() acct {
	i := g.nextAcct
	g.nextAcct++
	r := g.r
	place := g.places.pick(r)
	a := acct{region: place, phone: fmt.Sprintf("1%d%09d", 3+r.IntN(7), i%1_000_000_000)}
	person := string(surnames[r.IntN(len(surnames))]) + givenNames[r.IntN(len(givenNames))]
	if r.IntN(100) < 35 {
		// A unit: a USCC of its county; the 9 characters after the division
		// code (the organisation code) come from the index.
		a.kind, a.certType = string(vocab.KindUnit), string(rules.CertUSCC)
		a.cert = rules.CompleteUSCC(fmt.Sprintf("91%s%09d", division6(place), i))
		a.username = fmt.Sprintf("dw%07d", i)
		a.name = unitName(r, place)
	} else {
		// A person born 1960–1999; the sequence digits 700–999 keep the
		// numbers apart from the hand-made demo ones.
		birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i%14600)
		body := fmt.Sprintf("%s%s%03d", division6(place), birth.Format("20060102"), 700+(i/14600)%300)
		a.kind, a.certType = string(vocab.KindPerson), string(rules.CertIDCard)
		a.cert = rules.CompleteIDNumber(body)
		a.username = fmt.Sprintf("gr%07d", i)
		a.name = person
	}
	return a
}

var (
	unitTrades = []string{"科技", "贸易", "物流", "建设工程", "餐饮管理", "电子", "服装", "家具", "陶瓷", "教育咨询", "医疗器械", "人力资源", "印刷", "五金", "农业发展"}
	unitForms  = []string{"有限公司", "有限责任公司", "股份有限公司", "服务中心"}
)

func unitName(r *rand.Rand, place string) string {
	// The city's own name ("江门市"), not its path: the path
	// "广东省 / 江门市" less the province left a leading "/ ".
	city, _ := rules.LookupRegion(place[:4])
	return fmt.Sprintf("%s%s%s%s", city.Name, string(surnames[r.IntN(len(surnames))])+string(surnames[r.IntN(len(surnames))]),
		unitTrades[r.IntN(len(unitTrades))], unitForms[r.IntN(len(unitForms))])
}

// r2reader feeds uuid generation from the run's seeded source.
type r2reader struct{ r *rand.Rand }

func (x r2reader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(x.r.Uint32())
	}
	return len(p), nil
}

// insert writes one batch in one transaction.
func (g *generator) insert(ctx context.Context, batch []*caseSpec) error {
	return g.d.InTx(ctx, func(tx *db.Tx) error {
		if err := g.insertAccounts(ctx, tx, batch); err != nil {
			return err
		}
		if err := g.insertCases(ctx, tx, batch); err != nil {
			return err
		}
		if err := g.insertEvents(ctx, tx, batch); err != nil {
			return err
		}
		if err := g.insertQA(ctx, tx, batch); err != nil {
			return err
		}
		if err := g.auditDecisions(ctx, tx, batch); err != nil {
			return err
		}
		g.stats.Cases += len(batch)
		for _, c := range batch {
			g.stats.ByStatus[c.status]++
		}
		if g.o.Progress != nil {
			g.o.Progress(g.stats.Cases)
		}
		return nil
	})
}

func (g *generator) insertAccounts(ctx context.Context, tx *db.Tx, batch []*caseSpec) error {
	var creates []*ent.AccountCreate
	var owners []*caseSpec
	var lastPerson = -1
	for _, c := range batch {
		if !c.newAcct {
			continue
		}
		a := c.acct
		at := c.created.Add(-time.Duration(30+g.r.IntN(900)) * 24 * time.Hour)
		cr := tx.Ent.Account.Create().SetKind(account.Kind(a.kind)).SetUsername(a.username).SetUsernameKey(a.username).
			SetPasswordHash(g.o.PasswordHash).SetName(a.name).SetCertType(a.certType).SetCertNumber(a.cert).
			SetRegionCode(a.region).SetPhone(a.phone).SetVerified(a.kind == string(vocab.KindPerson)).SetCreatedAt(at).SetUpdatedAt(at)
		if a.kind == string(vocab.KindPerson) {
			cr.SetVerifiedAt(at)
			lastPerson = len(creates)
		} else if lastPerson >= 0 {
			c.operator = lastPerson
		}
		creates = append(creates, cr)
		owners = append(owners, c)
	}
	if len(creates) == 0 {
		return nil
	}
	// Operators must exist before the units that name them: persons first.
	ids := make([]int, len(creates))
	for pass := range 2 {
		var part []*ent.AccountCreate
		var idx []int
		for i, c := range owners {
			if (c.acct.kind == string(vocab.KindPerson)) == (pass == 0) {
				if pass == 1 && c.operator >= 0 {
					creates[i].SetOperatorID(ids[c.operator])
				}
				part, idx = append(part, creates[i]), append(idx, i)
			}
		}
		for from := 0; from < len(part); from += 500 {
			saved, err := tx.Ent.Account.CreateBulk(part[from:min(from+500, len(part))]...).Save(ctx)
			if err != nil {
				return fmt.Errorf("accounts: %w", err)
			}
			for k, a := range saved {
				ids[idx[from+k]] = a.ID
			}
		}
	}
	for i, c := range owners {
		c.acct.id = ids[i]
		if len(g.recent) < 5000 {
			g.recent = append(g.recent, c.acct)
		} else {
			g.recent[g.r.IntN(len(g.recent))] = c.acct
		}
	}
	g.stats.Accounts += len(creates)
	return nil
}

func (g *generator) insertCases(ctx context.Context, tx *db.Tx, batch []*caseSpec) error {
	creates := make([]*ent.RecoveryCaseCreate, len(batch))
	for i, c := range batch {
		updated := c.created
		for _, t := range []time.Time{c.submitted, c.decidedAt, c.firstAt} {
			if t.After(updated) {
				updated = t
			}
		}
		sum := sha256.Sum256(c.id[:])
		cr := tx.Ent.RecoveryCase.Create().SetID(c.id).SetKind(recoverycase.Kind(c.acct.kind)).SetAccountID(c.acct.id).
			SetRegionCode(c.acct.region).SetTypedUsername(c.typedUser).SetTypedName(c.acct.name).
			SetTypedCertType(c.acct.certType).SetTypedCertNumber(c.acct.cert).SetUsernameSimilarity(c.userSim).
			SetNameSimilarity(c.nameSim).SetTokenHash(sum[:]).SetPhoneVerifiedAt(c.created.Add(2 * time.Minute)).
			SetVersion(c.version).SetCreatedAt(c.created).SetUpdatedAt(updated).SetDecisionNote(c.note)
		if c.number != "" {
			cr.SetCaseNumber(c.number).SetSubmittedAt(c.submitted)
		}
		if c.due != nil {
			cr.SetDueBy(*c.due)
		}
		if c.claimedBy != nil {
			cr.SetClaimedBy(c.claimedBy.ID).SetClaimExpiresAt(c.claimExp)
		}
		if c.outcome != "" {
			cr.SetOutcome(recoverycase.Outcome(c.outcome)).SetDecidedBy(c.decidedBy.ID).SetDecidedAt(c.decidedAt).
				SetReasons(nonNil(c.reasons)).SetReturnKinds(nonNil(c.returnKinds))
		}
		if c.firstBy != nil {
			cr.SetFirstApprovedBy(c.firstBy.ID).SetFirstApprovedAt(c.firstAt)
		}
		if len(c.flags) > 0 {
			cr.SetRiskFlags(c.flags)
		}
		creates[i] = cr
	}
	for part := range slices.Chunk(creates, 500) {
		if err := tx.Ent.RecoveryCase.CreateBulk(part...).Exec(ctx); err != nil {
			return fmt.Errorf("cases: %w", err)
		}
	}
	byStatus := map[state.Status][]any{}
	for _, c := range batch {
		if c.status != state.Draft {
			byStatus[c.status] = append(byStatus[c.status], c.id)
		}
	}
	for st, ids := range byStatus {
		q, args := entsql.Dialect(g.d.Dialect).Update(recoverycase.Table).Set(recoverycase.FieldStatus, string(st)).
			Where(entsql.In(recoverycase.FieldID, ids...)).Query()
		if _, err := tx.SQL.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("case statuses: %w", err)
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// The actors of the events that are not staff members' (as recovery records them).
const (
	applicant = string(vocab.ActorApplicant)
	system    = string(vocab.ActorSystem)
)

// status is an event's "before" map: the status the case left.
func status(s state.Status) map[string]any { return map[string]any{"status": string(s)} }

// insertEvents writes each case's history as the workflow would have:
// created, submitted, claimed, decided (and expired), with their actors.
func (g *generator) insertEvents(ctx context.Context, tx *db.Tx, batch []*caseSpec) error {
	var creates []*ent.CaseEventCreate
	ev := func(c *caseSpec, at time.Time, actor string, typ vocab.EventType, before, after map[string]any) {
		cr := tx.Ent.CaseEvent.Create().SetCaseID(c.id).SetType(string(typ)).SetActor(actor).SetCreatedAt(at)
		if before != nil {
			cr.SetBefore(before)
		}
		if after != nil {
			cr.SetAfter(after)
		}
		creates = append(creates, cr)
	}
	for _, c := range batch {
		ev(c, c.created, applicant, vocab.EventCreated, nil, map[string]any{"kind": c.acct.kind})
		if c.number == "" {
			if c.status == state.Expired {
				ev(c, c.created.Add(recovery.DraftTTL), system, vocab.EventExpired, status(state.Draft),
					map[string]any{"status": string(state.Expired), "reason": string(vocab.ReasonDraftTTL)})
			}
			continue
		}
		ev(c, c.submitted, applicant, vocab.EventSubmitted, status(state.Draft),
			map[string]any{"status": string(state.Submitted), "case_number": c.number, "due_by": g.o.Calendar.DueBy(c.submitted).Format(time.DateOnly)})
		claimer, claimedAt := c.claimedBy, time.Time{}
		switch {
		case c.firstBy != nil:
			claimer, claimedAt = c.firstBy, c.firstAt.Add(-time.Duration(3+g.r.IntN(15))*time.Minute)
		case c.decidedBy != nil:
			claimer, claimedAt = c.decidedBy, c.decidedAt.Add(-time.Duration(3+g.r.IntN(15))*time.Minute)
		case c.claimedBy != nil:
			claimedAt = c.claimExp.Add(-recovery.ClaimTTL)
		}
		if claimer == nil {
			continue
		}
		if claimedAt.Before(c.submitted) {
			claimedAt = c.submitted
		}
		ev(c, claimedAt, "staff:"+claimer.Username, vocab.EventClaimed, status(state.Submitted),
			map[string]any{"status": string(state.InReview), "claimed_by": claimer.Username})
		if c.firstBy != nil {
			ev(c, c.firstAt, "staff:"+c.firstBy.Username, vocab.EventFirstApproved, status(state.InReview),
				map[string]any{"status": string(state.AwaitingSecond), "risk_flags": c.flags})
		}
		if c.outcome != "" {
			to := c.status
			if to == state.Expired {
				to = state.Returned
			}
			from := state.InReview
			if c.firstBy != nil {
				from = state.AwaitingSecond
			}
			if c.secondBy != nil {
				ev(c, c.decidedAt, "staff:"+c.secondBy.Username, vocab.EventSecondApproved, status(from),
					map[string]any{"risk_flags": c.flags})
			}
			ev(c, c.decidedAt, "staff:"+c.decidedBy.Username, vocab.EventDecided, status(from),
				map[string]any{"status": string(to), "outcome": string(c.outcome), "reasons": nonNil(c.reasons), "return_kinds": nonNil(c.returnKinds)})
		}
		if c.status == state.Expired {
			ev(c, c.decidedAt.Add(10*24*time.Hour), system, vocab.EventExpired, status(state.Returned),
				map[string]any{"status": string(state.Expired), "reason": string(vocab.ReasonReturnTTL)})
		}
	}
	for part := range slices.Chunk(creates, 1000) {
		if err := tx.Ent.CaseEvent.CreateBulk(part...).Exec(ctx); err != nil {
			return fmt.Errorf("case events: %w", err)
		}
	}
	g.stats.Events += len(creates)
	return nil
}

// insertQA draws QASamplePercent of the decisions, and every flagged one,
// into QA review; those older than a week were reviewed by a supervisor who
// did not decide them (about 5 % disagreed).
func (g *generator) insertQA(ctx context.Context, tx *db.Tx, batch []*caseSpec) error {
	var creates []*ent.QAReviewCreate
	for _, c := range batch {
		if c.outcome == "" {
			continue
		}
		why := qareview.WhySampled
		if len(c.flags) > 0 {
			why = qareview.WhyFlagged
		} else if g.r.IntN(100) >= g.o.QASamplePercent {
			continue
		}
		cr := tx.Ent.QAReview.Create().SetCaseID(c.id).SetOutcome(qareview.Outcome(c.outcome)).SetDecidedBy(c.decidedBy.ID).
			SetDecidedAt(c.decidedAt).SetRegionCode(c.acct.region).SetWhy(why).SetCreatedAt(c.decidedAt)
		if g.o.Now.Sub(c.decidedAt) > 7*24*time.Hour {
			var sup *Staff
			for _, s := range g.o.Team.Supervisors {
				if s.ID != c.decidedBy.ID {
					sup = &s
					break
				}
			}
			if sup != nil {
				at := c.decidedAt.Add(time.Duration(1+g.r.IntN(72)) * time.Hour)
				cr.SetReviewerID(sup.ID).SetReviewedAt(at).SetAction(qareview.ActionNone)
				if g.r.IntN(100) < 5 {
					cr.SetStatus(qareview.StatusDisagreed).SetComment("证件照片模糊，应退回补正而非直接处理")
				} else {
					cr.SetStatus(qareview.StatusAgreed)
				}
			}
		}
		creates = append(creates, cr)
	}
	for part := range slices.Chunk(creates, 500) {
		if err := tx.Ent.QAReview.CreateBulk(part...).Exec(ctx); err != nil {
			return fmt.Errorf("qa reviews: %w", err)
		}
	}
	g.stats.QAReviews += len(creates)
	return nil
}

// auditDecisions records every decision of the batch in the audit log, in
// the order they were made, through audit.RecordAll (which chains them).
func (g *generator) auditDecisions(ctx context.Context, tx *db.Tx, batch []*caseSpec) error {
	type entry struct {
		at time.Time
		e  audit.Event
	}
	var entries []entry
	for _, c := range batch {
		if c.firstBy != nil {
			entries = append(entries, entry{c.firstAt, audit.Event{At: c.firstAt, ActorKind: audit.ActorStaff, Actor: c.firstBy.Username,
				Action: vocab.EventFirstApproved.Action(), ObjectType: string(vocab.ObjectCase), ObjectID: c.number,
				Detail: map[string]any{"status": string(state.AwaitingSecond), "risk_flags": c.flags}}})
		}
		if c.outcome == "" {
			continue
		}
		if c.secondBy != nil {
			entries = append(entries, entry{c.decidedAt, audit.Event{At: c.decidedAt, ActorKind: audit.ActorStaff, Actor: c.secondBy.Username,
				Action: vocab.EventSecondApproved.Action(), ObjectType: string(vocab.ObjectCase), ObjectID: c.number,
				Detail: map[string]any{"risk_flags": c.flags}}})
		}
		entries = append(entries, entry{c.decidedAt, audit.Event{At: c.decidedAt, ActorKind: audit.ActorStaff, Actor: c.decidedBy.Username,
			Action: vocab.EventDecided.Action(), ObjectType: string(vocab.ObjectCase), ObjectID: c.number,
			Detail: map[string]any{"outcome": string(c.outcome), "reasons": nonNil(c.reasons), "return_kinds": nonNil(c.returnKinds)}}})
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return a.at.Compare(b.at) })
	events := make([]audit.Event, len(entries))
	for i, en := range entries {
		events[i] = en.e
	}
	if err := audit.RecordAll(ctx, tx, events); err != nil {
		return err
	}
	g.stats.Audits += len(entries)
	return nil
}
