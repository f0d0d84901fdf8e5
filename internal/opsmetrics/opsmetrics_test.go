package opsmetrics_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/opsmetrics"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/testenv"
)

// gather scrapes c and returns every sample as "name{l1=v1,l2=v2}" → value.
func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// probeArgs is a job no worker takes, so it waits in the queue.
type probeArgs struct{}

func (probeArgs) Kind() string { return "ops_probe" }

func TestGaugesShowTheSeededState(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 10, 0, 0, 0, rules.Shanghai) // a Monday
		acc := d.Ent.Account.Create().SetKind("person").SetUsername("zhang_san").SetUsernameKey("zhang_san").
			SetPasswordHash("x").SetName("张三").SetCertType("id_card").SetCertNumber(rules.CompleteIDNumber("44070319900101001")).
			SetPhone("13800001234").SaveX(ctx)
		seed := func(region string, due time.Time, path ...state.Status) {
			rc := d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode(region).SetTypedCertType("id_card").
				SetTypedCertNumber("x").SetTokenHash([]byte{1}).SetAccount(acc).SaveX(ctx)
			for _, st := range path {
				rc = rc.Update().SetStatus(st).SaveX(ctx)
			}
			if !due.IsZero() {
				rc.Update().SetDueBy(due).ExecX(ctx)
			}
		}
		yesterday := time.Date(2026, 5, 31, 0, 0, 0, 0, rules.Shanghai)
		today := time.Date(2026, 6, 1, 0, 0, 0, 0, rules.Shanghai)
		seed("440703", yesterday, state.Submitted)                                 // 江门, overdue
		seed("440704", today, state.Submitted)                                     // 江门, due today: not overdue
		seed("440104", yesterday, state.Submitted, state.InReview)                 // 广州, overdue
		seed("440104", yesterday, state.Submitted, state.InReview, state.Rejected) // decided: not overdue
		seed("440104", time.Time{})                                                // a draft
		seed("44", yesterday, state.Submitted)                                     // no city, overdue
		for _, st := range []smsmessage.Status{smsmessage.StatusQueued, smsmessage.StatusQueued, smsmessage.StatusFailed, smsmessage.StatusSent} {
			d.Ent.SMSMessage.Create().SetPhone("13800001234").SetPurpose("test").SetTextSealed([]byte{1}).SetStatus(st).ExecX(ctx)
		}
		inserter, err := jobs.NewInserter(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		// One job due 90 s ago and waiting; one scheduled for later, not yet due.
		if _, err := inserter.Insert(ctx, probeArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(-90 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if _, err := inserter.Insert(ctx, probeArgs{}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		clk := clock.NewAdjustable()
		clk.Set(now)
		got := gather(t, opsmetrics.New(d, clk, nil))
		want := map[string]float64{
			"recoverydesk_cases{city=4407,status=submitted}":     2,
			"recoverydesk_cases{city=4401,status=in_review}":     1,
			"recoverydesk_cases{city=4401,status=rejected}":      1,
			"recoverydesk_cases{city=4401,status=draft}":         1,
			"recoverydesk_cases{city=other,status=submitted}":    1,
			"recoverydesk_cases_overdue{status=submitted}":       2,
			"recoverydesk_cases_overdue{status=in_review}":       1,
			"recoverydesk_cases_overdue{status=awaiting_second}": 0,
			"recoverydesk_cases_overdue{status=returned}":        0,
			"recoverydesk_sms_messages{status=queued}":           2,
			"recoverydesk_sms_messages{status=failed}":           1,
			"recoverydesk_sms_messages{status=sent}":             1,
			"recoverydesk_jobs_oldest_queued_age_seconds{}":      90,
		}
		for k, v := range want {
			g, ok := got[k]
			if k == "recoverydesk_jobs_oldest_queued_age_seconds{}" {
				if !ok || math.Abs(g-v) > 10 {
					t.Errorf("%s = %v (present %v), want about %v", k, g, ok, v)
				}
				continue
			}
			if !ok || g != v {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
		// Beside them, every open status of each of the 21 cities is
		// reported at zero (the two seeded open pairs are counted above).
		zeros := 0
		for k, v := range got {
			if _, ok := want[k]; !ok {
				if !strings.HasPrefix(k, "recoverydesk_cases{") || v != 0 {
					t.Errorf("unexpected sample %s = %v", k, v)
				}
				zeros++
			}
		}
		if zeros != 21*4-2 {
			t.Errorf("%d zero case series, want %d (4 open statuses × 21 cities, less the 2 seeded)", zeros, 21*4-2)
		}
	})
}

func TestADatabaseErrorLeavesTheGaugesOutInsteadOfFailingTheScrape(t *testing.T) {
	d := testenv.SQLite(t)
	var logs bytes.Buffer
	c := opsmetrics.New(d, clock.Real{}, slog.New(slog.NewTextHandler(&logs, nil)))
	d.SQL.Close()
	if got := gather(t, c); len(got) != 0 {
		t.Fatalf("samples from a closed database: %v", got)
	}
	for _, name := range []string{"recoverydesk_cases", "recoverydesk_cases_overdue", "recoverydesk_sms_messages", "recoverydesk_jobs_oldest_queued_age_seconds"} {
		if !strings.Contains(logs.String(), fmt.Sprintf("metric=%s ", name)) {
			t.Errorf("the failure of %s was not logged:\n%s", name, logs.String())
		}
	}
}
