package opsmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/internal/passhash"
	"recoverydesk/internal/vocab"
)

// Business are the figures the product's code feeds as things happen — the
// decisions taken, what became of each SMS, how long a password check
// waited for a hashing slot, the last audit chain check — beside the gauges
// Collector reads from the database at scrape time. Counters are per
// process: a dashboard sums them over instances (sum(rate(…))). Every label
// set is fixed (outcome, purpose, driver): no case number, phone or user
// ever becomes a label. A nil *Business counts nothing, so tests and
// commands may leave it out.
type Business struct {
	driver    string
	decisions *prometheus.CounterVec
	sms       *prometheus.CounterVec
	hashWait  prometheus.Histogram
	auditOK   prometheus.Gauge
	auditAt   prometheus.Gauge
}

// Metric names of the business counters (README: metrics).
const (
	NameDecisions        = "recoverydesk_decisions_total"
	NameSMSOutcomes      = "recoverydesk_sms_outcomes_total"
	NameHashWait         = "recoverydesk_hash_wait_seconds"
	NameAuditChainOK     = "recoverydesk_audit_chain_ok"
	NameAuditVerifiedAt  = "recoverydesk_audit_last_verified_timestamp_seconds"
	smsAccepted, smsFail = "accepted", "failed"
)

// NewBusiness returns the business metrics of a process whose SMS driver
// is driver (RD_SMS_DRIVER). Every label combination starts at zero, so a
// rate or an alert sees a series before the first event.
func NewBusiness(driver string) *Business {
	b := &Business{driver: driver,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameDecisions,
			Help: "Reviewers' decisions recorded, by outcome (approve, reject, return)."}, []string{"outcome"}),
		sms: prometheus.NewCounterVec(prometheus.CounterOpts{Name: NameSMSOutcomes,
			Help: "SMS messages accepted by the gateway or failed for good, by purpose, driver and outcome (accepted, failed)."},
			[]string{"purpose", "driver", "outcome"}),
		hashWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: NameHashWait,
			Help:    "Time a password hash or check waited for a hashing slot (RD_HASH_CONCURRENCY); past 2 s it is refused with 503 busy.",
			Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 1.5, 2}}),
		auditOK: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameAuditChainOK,
			Help: "1 when the last periodic check of the audit log's hash chain found it intact, 0 when it found a break or could not run."}),
		auditAt: prometheus.NewGauge(prometheus.GaugeOpts{Name: NameAuditVerifiedAt,
			Help: "Unix time of the last completed check of the audit log's hash chain (0: none yet)."}),
	}
	for _, o := range []vocab.Outcome{vocab.OutcomeApprove, vocab.OutcomeReject, vocab.OutcomeReturn} {
		b.decisions.WithLabelValues(string(o))
	}
	for _, p := range vocab.Purposes {
		b.sms.WithLabelValues(string(p), driver, smsAccepted)
		b.sms.WithLabelValues(string(p), driver, smsFail)
	}
	b.auditOK.Set(1) // no break known until a check says otherwise
	return b
}

// Register adds the metrics to reg.
func (b *Business) Register(reg prometheus.Registerer) {
	reg.MustRegister(b.decisions, b.sms, b.hashWait, b.auditOK, b.auditAt)
}

// Decided counts a recorded decision.
func (b *Business) Decided(outcome vocab.Outcome) {
	if b != nil {
		b.decisions.WithLabelValues(string(outcome)).Inc()
	}
}

// SMS counts a message the gateway accepted or that failed for good
// (sms.Courier.Observe).
func (b *Business) SMS(purpose vocab.Purpose, accepted bool) {
	if b == nil {
		return
	}
	outcome := smsFail
	if accepted {
		outcome = smsAccepted
	}
	b.sms.WithLabelValues(string(purpose), b.driver, outcome).Inc()
}

// HashWaited records one wait for a hashing slot (passhash.Gate.Observe).
func (b *Business) HashWaited(d time.Duration) {
	if b != nil {
		b.hashWait.Observe(d.Seconds())
	}
}

// AuditVerified records the result of a chain check that ran at at.
func (b *Business) AuditVerified(intact bool, at time.Time) {
	if b == nil {
		return
	}
	if intact {
		b.auditOK.Set(1)
	} else {
		b.auditOK.Set(0)
	}
	b.auditAt.Set(float64(at.Unix()))
}

// ObserveGate makes g report its waits here.
func (b *Business) ObserveGate(g *passhash.Gate) {
	if b != nil && g != nil {
		g.Observe(b.HashWaited)
	}
}
