package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/testenv"
)

var versionField = regexp.MustCompile(`name="version" value="(\d+)"`)

// BenchmarkApprove measures what an approval costs the server besides its
// argon2id hash: the decision POST of cmd/bench's approve figure (decision,
// pending password, queued SMS, audit entry, the auto-assignment sweep),
// through the whole middleware chain, on 10 000 generated cases of which
// the newest open ones carry evidence images, with the test suite's cheap
// hash parameters so that the hash is a rounding error. Each round claims a
// submitted case with images and reads its page (not timed), then approves
// it (timed), as the bench does; it reports the median and p90.
//
// The fixture has about 60 cases to approve: run it with a fixed count,
//
//	go test -run '^$' -bench BenchmarkApprove -benchtime 40x ./handlers/
//
// and add -cpuprofile to see where the decision's own time goes. With
// RD_TEST_POSTGRES_URL set it runs on PostgreSQL too (sub-benchmark
// postgres), where every statement is a round trip.
func BenchmarkApprove(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchApprove(b, newTestServer(b, assignAuto)) })
	if os.Getenv("RD_TEST_POSTGRES_URL") != "" {
		b.Run("postgres", func(b *testing.B) { benchApprove(b, newTestServerOn(b, testenv.Postgres(b), assignAuto)) })
	}
}

func benchApprove(b *testing.B, s *testServer) {
	ctx := context.Background()
	hash, err := passhashTesting().Hash("Bench#2468go")
	if err != nil {
		b.Fatal(err)
	}
	team, err := demodata.CreateTeam(ctx, s.db, hash, demodata.Team{}, 2)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := demodata.Generate(ctx, s.db, demodata.Options{Cases: 10_000, Seed: 1, Team: team, PasswordHash: hash}); err != nil {
		b.Fatal(err)
	}
	if _, err := demodata.SeedEvidence(ctx, s.db, s.store, 200); err != nil {
		b.Fatal(err)
	}
	// Signing in puts the province-wide reviewer on duty: auto-assignment
	// fills their cap from the waiting cases, as in cmd/bench.
	pc := staffClient(b, s, "gd_bench", "reviewer", "44")
	numbers, err := s.db.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted), recoverycase.HasEvidence(),
		recoverycase.UsernameSimilarity(100), recoverycase.NameSimilarity(100)).Select(recoverycase.FieldCaseNumber).Strings(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var times []time.Duration
	next := 0
	for b.Loop() {
		b.StopTimer()
		if next == len(numbers) {
			b.Fatalf("only %d cases to approve: run with -benchtime %dx or less", len(numbers), len(numbers))
		}
		n := numbers[next]
		next++
		if resp, body := pc.post(b, "/console/cases/"+n+"/claim", url.Values{}); resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("claim %s: %d %.300s", n, resp.StatusCode, body)
		}
		_, page := pc.get(b, "/console/cases/"+n)
		m := versionField.FindStringSubmatch(page)
		if m == nil {
			b.Fatalf("case %s: no decision form", n)
		}
		b.StartTimer()
		t0 := time.Now()
		resp, body := pc.post(b, "/console/cases/"+n+"/decision", url.Values{"outcome": {"approve"}, "version": {m[1]}})
		times = append(times, time.Since(t0))
		if resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("approve %s: %d %.300s", n, resp.StatusCode, body)
		}
	}
	b.StopTimer()
	if got := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumberIn(numbers[:next]...), recoverycase.StatusEQ(state.Approved)).
		CountX(ctx); got != next {
		b.Fatalf("%d of %d approved", got, next)
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, "p90_ms")
}
