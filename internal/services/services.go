// Package services builds the domain services from their dependencies in
// one place, so that serve, seed and the tests wire the product the same way
// and differ only in what they pass (clock, hash cost, SMS driver, store).
package services

import (
	"log/slog"
	"time"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/opsmetrics"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/verify"
	"recoverydesk/storage"
)

// Options are the dependencies the services share.
type Options struct {
	DB     *db.DB
	Keys   *secret.Keys
	Clock  clock.Clock
	Hasher passhash.Hasher
	Sender sms.Sender // nil: the outbox driver
	// SMSPolicy is how the courier talks to the gateway; zero: sms.DefaultPolicy.
	SMSPolicy sms.Policy
	Store     *storage.Store // the evidence store; nil where no image is read or written
	// Holidays and Workdays override the bundled working-day calendar.
	Holidays, Workdays []time.Time
	// QASamplePercent is the share of decisions drawn for quality review.
	QASamplePercent int
	Hotline         string // the hotline's shown text, named in SMS; empty: the default
	Logger          *slog.Logger
	// Metrics counts decisions and SMS outcomes; nil: nothing is counted.
	Metrics *opsmetrics.Business
}

// Services are the domain services of one process.
type Services struct {
	Courier   *sms.Courier
	Outbox    *sms.Outbox // the outbox driver when it is the sender, else nil
	Codes     *verify.Codes
	Accounts  *accounts.Service
	Recovery  *recovery.Service
	Staff     *staff.Service
	Dashboard *dashboard.Service
}

// New builds every service on o.
func New(o Options) (*Services, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ins, err := jobs.NewInserter(o.DB, o.Logger)
	if err != nil {
		return nil, err
	}
	s := &Services{}
	sender := o.Sender
	if sender == nil {
		s.Outbox = sms.NewOutbox(o.DB.Ent, o.Keys, o.Clock)
		sender = s.Outbox
	}
	s.Courier = sms.NewCourier(o.Keys, sender, o.DB, o.Clock, ins)
	if o.SMSPolicy != (sms.Policy{}) {
		s.Courier.SetPolicy(o.SMSPolicy)
	}
	if o.Metrics != nil {
		s.Courier.Observe(o.Metrics.SMS)
	}
	s.Codes = verify.New(o.DB, o.Clock, o.Keys, s.Courier)
	if s.Accounts, err = accounts.New(accounts.Deps{DB: o.DB, Clock: o.Clock, Hasher: o.Hasher,
		Codes: s.Codes, Courier: s.Courier, Logger: o.Logger}); err != nil {
		return nil, err
	}
	if s.Staff, err = staff.New(o.DB, o.Clock, o.Hasher, o.Keys, o.Logger); err != nil {
		return nil, err
	}
	calendar := rules.NewCalendar(rules.WithLogger(o.Logger), rules.WithHolidays(o.Holidays...), rules.WithWorkdays(o.Workdays...))
	s.Recovery = recovery.New(recovery.Deps{DB: o.DB, Clock: o.Clock, Codes: s.Codes, Courier: s.Courier,
		Hasher: o.Hasher, Store: o.Store, Calendar: calendar, QASamplePercent: o.QASamplePercent, Hotline: o.Hotline, Logger: o.Logger,
		OnDecided: o.Metrics.Decided})
	s.Dashboard = dashboard.New(o.DB, o.Clock, calendar)
	return s, nil
}
