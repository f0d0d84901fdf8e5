// Package opsmetrics exposes the business figures an operator pages on —
// the case backlog, cases past their due date, undelivered SMS, the age of
// the oldest job waiting to run — as Prometheus gauges read from the
// database at scrape time, so every instance reports the same numbers and
// none keeps counters of its own.
package opsmetrics

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"recoverydesk/ent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/vocab"
)

// DefaultBudget bounds all the queries of one scrape together, well inside
// Prometheus's default scrape timeout (10 s).
const DefaultBudget = 3 * time.Second

// OtherCity is the city label of cases whose region code names no city of
// Guangdong (the province itself, say).
const OtherCity = "other"

// Metric names.
const (
	nameCases       = "recoverydesk_cases"
	nameOverdue     = "recoverydesk_cases_overdue"
	nameSMS         = "recoverydesk_sms_messages"
	nameOldestQueue = "recoverydesk_jobs_oldest_queued_age_seconds"
	nameSLA         = "recoverydesk_cases_sla"
)

// smsStatusesAlwaysShown are reported even at zero, so an alert on them
// sees a series rather than nothing.
var smsStatusesAlwaysShown = []smsmessage.Status{smsmessage.StatusQueued, smsmessage.StatusFailed}

// Collector is a prometheus.Collector of the business gauges. A query that
// fails or runs out of time is logged and its gauge left out of that
// scrape: /metrics always answers.
type Collector struct {
	db     *db.DB
	clock  clock.Clock
	logger *slog.Logger
	budget time.Duration

	cases, overdue, sms, oldest, sla *prometheus.Desc
}

// New returns the collector over d. clk is the application clock, which
// decides what "past due" means (the same clock the queue's SLA reads).
func New(d *db.DB, clk clock.Clock, logger *slog.Logger) *Collector {
	if logger == nil {
		logger = slog.Default()
	}
	return &Collector{db: d, clock: clk, logger: logger, budget: DefaultBudget,
		cases: prometheus.NewDesc(nameCases,
			"Recovery cases by status and city (first 4 digits of the region code; \"other\" when none).",
			[]string{"status", "city"}, nil),
		overdue: prometheus.NewDesc(nameOverdue,
			"Open cases (not finally decided) whose due_by date is before today in Asia/Shanghai, by status.",
			[]string{"status"}, nil),
		sms: prometheus.NewDesc(nameSMS,
			"SMS messages by delivery status (queued: waiting to be accepted by the gateway; failed: given up).",
			[]string{"status"}, nil),
		sla: prometheus.NewDesc(nameSLA,
			"Undecided cases the escalation job marked, by mark (due_soon: 临近超期, due on the next working day or today; overdue: 已超期) and city; every city of Guangdong is reported, zero included.",
			[]string{"sla", "city"}, nil),
		oldest: prometheus.NewDesc(nameOldestQueue,
			"Age of the oldest background job that is due to run and waits (available, retryable or scheduled in the past); 0 when none.",
			nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.cases
	ch <- c.overdue
	ch <- c.sms
	ch <- c.oldest
	ch <- c.sla
}

// Collect implements prometheus.Collector: one query per gauge, all under
// one deadline.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.budget)
	defer cancel()
	for _, g := range []struct {
		name    string
		collect func(context.Context, chan<- prometheus.Metric) error
	}{
		{nameCases, c.collectCases},
		{nameOverdue, c.collectOverdue},
		{nameSMS, c.collectSMS},
		{nameOldestQueue, c.collectOldestJob},
		{nameSLA, c.collectSLA},
	} {
		if err := g.collect(ctx, ch); err != nil {
			c.logger.Warn("metrics: gauge left out of this scrape", "metric", g.name, "err", err)
		}
	}
}

// collectCases counts cases GROUP BY status and city in the database.
func (c *Collector) collectCases(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := dashboard.CountByStatusAndCity(ctx, c.db.Ent)
	if err != nil {
		return err
	}
	sendByCity(ch, c.cases, dashboard.OpenStatuses, rows)
	return nil
}

// sendByCity sends one gauge value per value and city label: every value
// of shown in every city of Guangdong is reported, zero included, so a
// dashboard or an alert sees a series on an empty database too.
func sendByCity[T ~string](ch chan<- prometheus.Metric, desc *prometheus.Desc, shown []T, rows []dashboard.CityCount) {
	counts := map[[2]string]int{}
	for _, v := range shown {
		for _, city := range rules.Cities() {
			counts[[2]string{string(v), city.Code}] = 0
		}
	}
	for _, r := range rows {
		counts[[2]string{r.Value, cityLabel(r.City)}] += r.N
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// cityLabel is the city label of a region code's first 4 digits: the code
// of a city of Guangdong, or OtherCity.
func cityLabel(code string) string {
	if reg, ok := rules.LookupRegion(code); ok && reg.Level == rules.LevelCity {
		return code
	}
	return OtherCity
}

// collectOverdue counts open cases due before today, by status; every open
// status is reported, zero included.
func (c *Collector) collectOverdue(ctx context.Context, ch chan<- prometheus.Metric) error {
	var rows []statusCount
	today := rules.StartOfDay(c.clock.Now())
	err := c.db.Ent.RecoveryCase.Query().
		Where(recoverycase.StatusIn(dashboard.OpenStatuses...), recoverycase.DueByLT(today)).
		GroupBy(recoverycase.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return err
	}
	sendByStatus(ch, c.overdue, dashboard.OpenStatuses, rows)
	return nil
}

// statusCount is a row of a GROUP BY status count.
type statusCount struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
}

// sendByStatus sends one gauge value per status: every status of shown is
// reported, zero included, so an alert on it sees a series rather than
// nothing.
func sendByStatus[T ~string](ch chan<- prometheus.Metric, desc *prometheus.Desc, shown []T, rows []statusCount) {
	counts := make(map[string]int, len(shown))
	for _, st := range shown {
		counts[string(st)] = 0
	}
	for _, r := range rows {
		counts[r.Status] += r.Count
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), st)
	}
}

// collectSLA counts the escalation marks by mark and city.
func (c *Collector) collectSLA(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := dashboard.CountSLAMarksByCity(ctx, c.db.Ent)
	if err != nil {
		return err
	}
	sendByCity(ch, c.sla, vocab.SLAMarks, rows)
	return nil
}

// collectSMS counts SMS messages by status.
func (c *Collector) collectSMS(ctx context.Context, ch chan<- prometheus.Metric) error {
	var rows []statusCount
	err := c.db.Ent.SMSMessage.Query().GroupBy(smsmessage.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return err
	}
	sendByStatus(ch, c.sms, smsStatusesAlwaysShown, rows)
	return nil
}

// collectOldestJob reads River's job table: the earliest scheduled_at of
// each waiting state. Within a state, that earliest job is the oldest one
// due if its time has come, and none is due otherwise, so one GROUP BY
// answers on SQLite and PostgreSQL alike. River writes scheduled_at on the
// wall clock, so the age is measured on it too.
func (c *Collector) collectOldestJob(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.db.SQL.QueryContext(ctx, `SELECT state, MIN(scheduled_at) FROM river_job
		WHERE state IN ('available', 'retryable', 'scheduled') GROUP BY state`)
	if err != nil {
		return err
	}
	defer rows.Close()
	now := time.Now()
	var oldest time.Time
	for rows.Next() {
		var st string
		var raw any
		if err := rows.Scan(&st, &raw); err != nil {
			return err
		}
		at, err := scannedTime(raw)
		if err != nil {
			return fmt.Errorf("river_job.scheduled_at of %s jobs: %w", st, err)
		}
		if !at.After(now) && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	age := 0.0
	if !oldest.IsZero() {
		age = now.Sub(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
	return nil
}

// sqliteTimeLayouts are the forms SQLite hands back a timestamp in: River's
// own ("2006-01-02 15:04:05.000", UTC), CURRENT_TIMESTAMP's, and RFC 3339.
var sqliteTimeLayouts = []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano}

// scannedTime converts a timestamp scanned into an any: PostgreSQL gives a
// time.Time, SQLite the text of an aggregate (in UTC when it has no zone).
func scannedTime(v any) (time.Time, error) {
	var s string
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		s = t
	case []byte:
		s = string(t)
	default:
		return time.Time{}, fmt.Errorf("unexpected %T", v)
	}
	for _, layout := range sqliteTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable time %q", s)
}
