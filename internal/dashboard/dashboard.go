// Package dashboard computes the supervisors' figures: backlog, SLA
// compliance, time to decision, reviewer throughput and QA disagreement.
package dashboard

import (
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/rules"
)

// Service computes dashboard figures from the database.
type Service struct {
	db       *db.DB
	clock    clock.Clock
	calendar *rules.Calendar
}

// New returns the dashboard service.
func New(d *db.DB, c clock.Clock, cal *rules.Calendar) *Service {
	return &Service{db: d, clock: c, calendar: cal}
}
