package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/internal/rules"
)

// seedQueue inserts n submitted-era cases for 1 000 accounts across every
// county of Guangdong, through ent in bulk. Cases are born drafts (the
// transition hook allows nothing else); one SQL statement then gives them
// their statuses by a fixed mix — 30 % submitted, 5 % in review, 5 %
// returned, 40 % approved, 20 % rejected — bypassing the hook on purpose,
// because this is a fixture of history, not a workflow.
func seedQueue(b testing.TB, s *testServer, n int) {
	b.Helper()
	ctx := context.Background()
	var counties []string
	for _, city := range rules.Cities() {
		kids := rules.RegionChildren(city.Code)
		if len(kids) == 0 {
			counties = append(counties, city.Code)
		}
		for _, k := range kids {
			counties = append(counties, k.Code)
		}
	}
	accounts := make([]*ent.AccountCreate, 1000)
	for i := range accounts {
		accounts[i] = s.db.Ent.Account.Create().SetKind("unit").SetUsername(fmt.Sprintf("unit_%04d", i)).
			SetUsernameKey(fmt.Sprintf("unit_%04d", i)).SetPasswordHash("x").SetName(fmt.Sprintf("测试单位%04d有限公司", i)).
			SetCertType("uscc").SetCertNumber(fmt.Sprintf("CERT%014d", i)).SetPhone("13800000000").
			SetRegionCode(counties[i%len(counties)])
	}
	var accs []*ent.Account
	for i := 0; i < len(accounts); i += 250 {
		accs = append(accs, s.db.Ent.Account.CreateBulk(accounts[i:i+250]...).SaveX(ctx)...)
	}
	start := time.Date(2026, 6, 1, 9, 0, 0, 0, rules.Shanghai)
	cal := rules.NewCalendar()
	for batch := 0; batch < n; batch += 500 {
		var creates []*ent.RecoveryCaseCreate
		for i := batch; i < min(batch+500, n); i++ {
			acc := accs[i%len(accs)]
			at := start.Add(time.Duration(i) * 77 * time.Second)
			due := cal.DueBy(at)
			creates = append(creates, s.db.Ent.RecoveryCase.Create().SetKind("unit").SetAccount(acc).
				SetRegionCode(acc.RegionCode).SetTypedCertType("uscc").SetTypedCertNumber(acc.CertNumber).
				SetTokenHash([]byte{1}).SetCaseNumber(fmt.Sprintf("ZH%s%06d", at.Format("20060102"), i)).
				SetSubmittedAt(at).SetDueBy(due).SetPhoneVerifiedAt(at).SetCreatedAt(at).SetUpdatedAt(at))
		}
		s.db.Ent.RecoveryCase.CreateBulk(creates...).ExecX(ctx)
	}
	if _, err := s.db.SQL.ExecContext(ctx, `UPDATE recovery_cases SET status = CASE
		WHEN CAST(substr(case_number, 11) AS INTEGER) % 20 < 6 THEN 'submitted'
		WHEN CAST(substr(case_number, 11) AS INTEGER) % 20 < 7 THEN 'in_review'
		WHEN CAST(substr(case_number, 11) AS INTEGER) % 20 < 8 THEN 'returned'
		WHEN CAST(substr(case_number, 11) AS INTEGER) % 20 < 16 THEN 'approved'
		ELSE 'rejected' END`); err != nil {
		b.Fatal(err)
	}
}

var nextLink = regexp.MustCompile(`href="/console/cases\?[^"]*after=([A-Za-z0-9_-]+)`)

// BenchmarkQueuePage measures the queue page's server time for a reviewer
// of the whole province at 100 000 cases: the first page, and a page 100
// pages deep in the keyset. It reports p50 and p99 of each.
func BenchmarkQueuePage(b *testing.B) {
	s := recoveryFixture(b)
	started := time.Now()
	seedQueue(b, s, 100_000)
	b.Logf("seeded 100 000 cases in %v", time.Since(started).Round(time.Millisecond))
	pc := staffClient(b, s, "gd_reviewer", "reviewer", "44")

	// Walk 100 pages deep to find a deep cursor.
	path := "/console/cases?tab=pending"
	deep := ""
	for range 100 {
		_, body := pc.get(b, path)
		m := nextLink.FindStringSubmatch(body)
		if m == nil {
			b.Fatal("ran out of pages before 100")
		}
		deep = m[1]
		path = "/console/cases?tab=pending&after=" + url.QueryEscape(deep)
	}
	for _, page := range []struct{ name, path string }{
		{"first", "/console/cases?tab=pending"},
		{"deep100", "/console/cases?tab=pending&after=" + url.QueryEscape(deep)},
	} {
		b.Run(page.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, page.path, nil)
				t0 := time.Now()
				resp, _ := pc.send(b, req)
				times = append(times, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99_ms")
		})
	}
}
