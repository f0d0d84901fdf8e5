package demodata_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestGenerateAndGrow seeds a history, grows it, and checks what the
// dashboard and the console will rely on: every status, valid certificate
// numbers, case numbers unique and gapless per day, decisions by several
// reviewers with an audit entry each, evidence objects that exist.
func TestGenerateAndGrow(t *testing.T) {
	ctx := context.Background()
	d := testenv.SQLite(t)
	store := testenv.MinIO(t)
	team, err := demodata.CreateTeam(ctx, d, "x", demodata.Team{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(team.Reviewers) != 42 || len(team.Supervisors) != 1 {
		t.Fatalf("team: %d reviewers, %d supervisors", len(team.Reviewers), len(team.Supervisors))
	}
	now := time.Date(2026, 3, 18, 15, 0, 0, 0, rules.Shanghai)
	opts := demodata.Options{Cases: 3000, Now: now, Seed: 1, Team: team, PasswordHash: "x", BatchSize: 400}
	started := time.Now()
	st, err := demodata.Generate(ctx, d, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("3000 cases in %v: %+v", time.Since(started), st)
	opts.Cases, opts.Seed = 1000, 2
	if _, err := demodata.Generate(ctx, d, opts); err != nil {
		t.Fatalf("grow: %v", err)
	}
	cases := d.Ent.RecoveryCase.Query().WithAccount().AllX(ctx)
	if len(cases) != 4000 {
		t.Fatalf("%d cases", len(cases))
	}
	byStatus := map[state.Status]int{}
	numbers := map[string]bool{}
	perDay := map[string]int{}
	deciders := map[int]bool{}
	cities := map[string]bool{}
	for _, c := range cases {
		byStatus[c.Status]++
		cities[c.RegionCode[:4]] = true
		acc := c.Edges.Account
		if _, err := rules.ValidateCert(rules.CertType(acc.CertType), acc.CertNumber, now); err != nil {
			t.Fatalf("account %s: certificate %s: %v", acc.Username, acc.CertNumber, err)
		}
		// A unit is named after its city as people write it: "江门市…",
		// never the region path's "/ 江门市…".
		if city, _ := rules.LookupRegion(c.RegionCode[:4]); acc.Kind == "unit" && !strings.HasPrefix(acc.Name, city.Name) {
			t.Fatalf("unit %s in %s is named %q", acc.Username, c.RegionCode, acc.Name)
		}
		if c.CaseNumber == nil {
			if c.Status != state.Draft && c.Status != state.Expired {
				t.Fatalf("case %s is %s without a number", c.ID, c.Status)
			}
			continue
		}
		if numbers[*c.CaseNumber] {
			t.Fatalf("case number %s twice", *c.CaseNumber)
		}
		numbers[*c.CaseNumber] = true
		perDay[(*c.CaseNumber)[:10]]++
		if sub := c.SubmittedAt.In(rules.Shanghai); !rules.NewCalendar().IsWorkday(sub) || sub.After(now) {
			t.Fatalf("case %s submitted %v", *c.CaseNumber, sub)
		}
		if c.DecidedAt != nil {
			deciders[*c.DecidedBy] = true
			if c.DecidedAt.Before(*c.SubmittedAt) || c.DecidedAt.After(now) {
				t.Fatalf("case %s decided %v, submitted %v", *c.CaseNumber, c.DecidedAt, c.SubmittedAt)
			}
		}
	}
	for _, s := range state.All {
		if byStatus[s] == 0 {
			t.Errorf("no case is %s: %v", s, byStatus)
		}
	}
	if len(cities) != 21 {
		t.Errorf("cases in %d cities", len(cities))
	}
	if len(deciders) < 20 {
		t.Errorf("only %d staff decided", len(deciders))
	}
	// Gapless per day: the largest number of a day is the day's count.
	for day, n := range perDay {
		last := d.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumberHasPrefix(day)).Order(recoverycase.ByCaseNumber()).AllX(ctx)
		if got := *last[len(last)-1].CaseNumber; got[10:] != leftPad(n) {
			t.Fatalf("day %s: %d cases, last number %s", day, n, got)
		}
	}
	decided := d.Ent.RecoveryCase.Query().Where(recoverycase.DecidedAtNotNil()).CountX(ctx)
	audits := d.Ent.AuditEvent.Query().Where(auditevent.Action("recovery.decided")).CountX(ctx)
	if audits != decided {
		t.Errorf("%d decisions, %d audit entries", decided, audits)
	}
	if qa := d.Ent.QAReview.Query().CountX(ctx); qa < decided/20 || qa > decided/4 {
		t.Errorf("%d QA reviews for %d decisions", qa, decided)
	}

	n, err := demodata.SeedEvidence(ctx, d, store, 40)
	if err != nil {
		t.Fatal(err)
	}
	rows := d.Ent.Evidence.Query().AllX(ctx)
	if n != 40 || len(rows) < 80 {
		t.Fatalf("%d cases, %d evidence rows", n, len(rows))
	}
	seen := map[string]bool{}
	for _, r := range rows[:10] {
		rc, info, err := store.Open(ctx, r.ObjectKey)
		if err != nil {
			t.Fatalf("object %s: %v", r.ObjectKey, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if int64(len(b)) != r.Size || info.Size != r.Size || seen[r.Sha256] {
			t.Fatalf("object %s: %d bytes, row says %d, duplicate %v", r.ObjectKey, len(b), r.Size, seen[r.Sha256])
		}
		seen[r.Sha256] = true
	}
}

func leftPad(n int) string {
	s := "000000" + itoa(n)
	return s[len(s)-6:]
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
