// Package jobs runs the background work on River, on the same database as
// everything else: jobs are inserted in the transaction of the change that
// causes them (the transactional outbox) and worked here afterwards.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/sms"
)

// NewInserter returns a River client that only inserts jobs. Domain services
// hold it to queue jobs inside their transactions; it needs no workers.
func NewInserter(d *db.DB, logger *slog.Logger) (*river.Client[*sql.Tx], error) {
	c, err := river.NewClient(d.RiverDriver(), &river.Config{Logger: quiet(logger)})
	if err != nil {
		return nil, fmt.Errorf("river inserter: %w", err)
	}
	return c, nil
}

// Runner works the queues until stopped.
type Runner struct {
	client *river.Client[*sql.Tx]
}

// Deps are the services the workers call.
type Deps struct {
	Courier  *sms.Courier
	Recovery *recovery.Service // nil: no recovery clean-up (tests of other parts)
}

// CleanupInterval is how often drafts are expired and orphans deleted.
const CleanupInterval = 15 * time.Minute

// ClaimReleaseInterval is how often expired claims go back to the queue.
const ClaimReleaseInterval = time.Minute

// Start registers every worker and starts working. PollInterval bounds how
// long a queued job waits when the database has no listen/notify (SQLite,
// database/sql on PostgreSQL).
func Start(ctx context.Context, d *db.DB, logger *slog.Logger, deps Deps, pollInterval time.Duration) (*Runner, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, sms.NewWorker(deps.Courier)); err != nil {
		return nil, err
	}
	var periodic []*river.PeriodicJob
	if deps.Recovery != nil {
		if err := river.AddWorkerSafely(workers, &recovery.CleanupWorker{Service: deps.Recovery}); err != nil {
			return nil, err
		}
		if err := river.AddWorkerSafely(workers, &recovery.ReleaseClaimsWorker{Service: deps.Recovery}); err != nil {
			return nil, err
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(ClaimReleaseInterval),
			func() (river.JobArgs, *river.InsertOpts) { return recovery.ReleaseClaimsArgs{}, nil }, nil))
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(CleanupInterval),
			func() (river.JobArgs, *river.InsertOpts) { return recovery.CleanupArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}))
	}
	if pollInterval <= 0 {
		pollInterval = time.Second
	}
	client, err := river.NewClient(d.RiverDriver(), &river.Config{
		Logger:            quiet(logger),
		FetchPollInterval: pollInterval,
		FetchCooldown:     min(pollInterval, 100*time.Millisecond),
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 4},
			sms.Queue:          {MaxWorkers: 4},
		},
		Workers:      workers,
		PeriodicJobs: periodic,
		JobTimeout:   30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("start river: %w", err)
	}
	return &Runner{client: client}, nil
}

// Stop lets running jobs finish (up to ctx's deadline) and stops fetching.
func (r *Runner) Stop(ctx context.Context) error { return r.client.Stop(ctx) }

// quiet keeps River's own logging to warnings and errors.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}
func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(n), f.min}
}
