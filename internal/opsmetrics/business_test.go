package opsmetrics_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/internal/opsmetrics"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/vocab"
)

// TestBusinessMetricsStartAtZeroAndCountWhatHappens: every fixed label set
// is exported at zero before anything happens (so rates and alerts have a
// series), and each event moves exactly its own series.
func TestBusinessMetricsStartAtZeroAndCountWhatHappens(t *testing.T) {
	b := opsmetrics.NewBusiness("aliyun")
	reg := prometheus.NewRegistry()
	b.Register(reg)
	start := values(t, reg)
	n := 0
	for series, v := range start {
		if strings.HasPrefix(series, opsmetrics.NameSMSOutcomes+"{") && v == 0 {
			n++
		}
	}
	if n != 2*len(vocab.Purposes) || start[`recoverydesk_decisions_total{outcome="return"}`] != 0 {
		t.Fatalf("%d SMS series at zero at start, want accepted and failed for each of %d purposes: %v", n, len(vocab.Purposes), start)
	}
	b.Decided(vocab.OutcomeReject)
	b.SMS(vocab.PurposePassword, false)
	b.SMS(vocab.PurposePassword, true)
	b.SMS(vocab.PurposePassword, true)
	b.AuditVerified(false, time.Unix(1700000000, 0))
	gate := passhash.NewGate(1)
	b.ObserveGate(gate)
	if _, err := (passhash.Hasher{Params: passhash.Testing, Gate: gate}).Hash("Abcd1234!"); err != nil {
		t.Fatal(err)
	}
	got := values(t, reg)
	for series, want := range map[string]float64{
		`recoverydesk_sms_outcomes_total{driver="aliyun",outcome="accepted",purpose="password"}`: 2,
		`recoverydesk_sms_outcomes_total{driver="aliyun",outcome="failed",purpose="password"}`:   1,
		`recoverydesk_sms_outcomes_total{driver="aliyun",outcome="failed",purpose="username"}`:   0,
		`recoverydesk_decisions_total{outcome="reject"}`:                                         1,
		`recoverydesk_decisions_total{outcome="approve"}`:                                        0,
		`recoverydesk_hash_wait_seconds_count`:                                                   1,
		`recoverydesk_audit_chain_ok`:                                                            0,
		`recoverydesk_audit_last_verified_timestamp_seconds`:                                     1700000000,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (exported: %t), want %v", series, v, ok, want)
		}
	}
}

// values gathers reg into series → value, a series written as in the text
// exposition (labels sorted by name; a histogram as its _count).
func values(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}
