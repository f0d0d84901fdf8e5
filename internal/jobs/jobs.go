// Package jobs runs the background work on River, on the same database as
// everything else: jobs are inserted in the transaction of the change that
// causes them (the transactional outbox) and worked here afterwards.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/sms"
	"recoverydesk/storage"
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
	Accounts *accounts.Service // nil: no password promotion (tests of other parts)
	Recovery *recovery.Service // nil: no recovery clean-up (tests of other parts)
	// EvidenceRetention is RD_EVIDENCE_RETENTION for the daily purge; zero:
	// no purge job (tests of other parts).
	EvidenceRetention time.Duration
	// Anchors is the write-once bucket the hourly audit anchor goes to; nil:
	// no anchoring (the bucket is unusable, or tests of other parts).
	Anchors *storage.AnchorStore
}

// CleanupInterval is how often drafts are expired and orphans deleted.
const CleanupInterval = 15 * time.Minute

// ClaimReleaseInterval is how often expired claims go back to the queue.
const ClaimReleaseInterval = time.Minute

// Options tune the runner; the zero value is the contract's defaults.
type Options struct {
	// PollInterval bounds how long a queued job waits when the database has
	// no listen/notify (SQLite, database/sql on PostgreSQL). Zero: 1 s.
	PollInterval time.Duration
	// RescueAfter is how long a job may stay running before another worker
	// takes it as stuck (its worker was killed): RD_JOB_RESCUE_AFTER.
	// Zero: DefaultRescueAfter.
	RescueAfter time.Duration
}

// DefaultRescueAfter is RD_JOB_RESCUE_AFTER's default.
const DefaultRescueAfter = 2 * time.Minute

// maxJobTimeout bounds the housekeeping jobs; it is lowered to RescueAfter
// when that is shorter, because River refuses a rescue delay below it. An
// SMS try has its own bound (sms.Worker.Timeout).
const maxJobTimeout = time.Minute

// PasswordPromoteInterval is how often pending passwords whose time has come
// are made the password (and older sessions ended).
const PasswordPromoteInterval = 30 * time.Second

// task is a periodic housekeeping job: its arguments (which name its kind),
// how often it runs, whether it runs when the workers start, and how its
// worker is registered (see every).
type task struct {
	args    river.JobArgs
	every   time.Duration
	onStart bool
	add     func(*river.Workers) error
}

// every is the task whose job runs run every interval (and at start when
// onStart).
func every[A river.JobArgs](args A, interval time.Duration, onStart bool, run func(context.Context) error) task {
	return task{args: args, every: interval, onStart: onStart, add: func(w *river.Workers) error {
		return river.AddWorkerSafely(w, &funcWorker[A]{run: run})
	}}
}

// funcWorker runs a housekeeping function for the jobs of kind A.
type funcWorker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	run func(context.Context) error
}

// Work runs the function.
func (w *funcWorker[A]) Work(ctx context.Context, _ *river.Job[A]) error { return w.run(ctx) }

// housekeeping is every periodic job the given services need.
func housekeeping(d *db.DB, deps Deps) []task {
	var tasks []task
	if a := deps.Accounts; a != nil {
		tasks = append(tasks, every(accounts.PromoteArgs{}, PasswordPromoteInterval, true, func(ctx context.Context) error {
			_, err := a.PromoteDue(ctx)
			return err
		}))
	}
	if r := deps.Recovery; r != nil {
		tasks = append(tasks,
			every(recovery.ReleaseClaimsArgs{}, ClaimReleaseInterval, false, func(ctx context.Context) error {
				_, err := r.ReleaseExpiredClaims(ctx)
				return err
			}),
			every(recovery.CleanupArgs{}, CleanupInterval, true, r.Cleanup))
		if retention := deps.EvidenceRetention; retention > 0 {
			tasks = append(tasks, every(recovery.PurgeArgs{}, recovery.PurgeInterval, true, func(ctx context.Context) error {
				return r.PurgeDue(ctx, retention)
			}))
		}
	}
	if store := deps.Anchors; store != nil {
		// Anchors are written on the real clock: they record when the head
		// left the database, which a dev clock must not move.
		tasks = append(tasks, every(audit.AnchorArgs{}, audit.AnchorInterval, true, func(ctx context.Context) error {
			_, err := audit.WriteAnchor(ctx, d, store, time.Now())
			return err
		}))
	}
	return tasks
}

// Start registers every worker and starts working. The workers run until
// Stop, not until ctx ends: a signal must give running jobs a soft stop
// (Stop), not cancel them mid-send.
func Start(ctx context.Context, d *db.DB, logger *slog.Logger, deps Deps, opts Options) (*Runner, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, sms.NewWorker(deps.Courier)); err != nil {
		return nil, err
	}
	var periodic []*river.PeriodicJob
	for _, t := range housekeeping(d, deps) {
		if err := t.add(workers); err != nil {
			return nil, err
		}
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(t.every),
			func() (river.JobArgs, *river.InsertOpts) { return t.args, nil },
			&river.PeriodicJobOpts{RunOnStart: t.onStart}))
	}
	pollInterval := cmp.Or(opts.PollInterval, time.Second)
	rescueAfter := cmp.Or(opts.RescueAfter, DefaultRescueAfter)
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
		JobTimeout:   min(maxJobTimeout, rescueAfter),
		// A job still running this long has lost its worker (kill -9): run
		// it again. The SMS worker's tries carry an idempotency key, so a
		// rescued try the gateway had already accepted is delivered once.
		RescueStuckJobsAfter: rescueAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	if err := liftOldSMSJobs(ctx, d); err != nil {
		return nil, err
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("start river: %w", err)
	}
	return &Runner{client: client}, nil
}

// liftOldSMSJobs gives delivery jobs queued by an earlier release, which
// gave up after 5 tries and then left their message queued for good, the
// bound of today's (the retry window decides instead).
func liftOldSMSJobs(ctx context.Context, d *db.DB) error {
	_, err := d.SQL.ExecContext(ctx, fmt.Sprintf(`UPDATE river_job SET max_attempts = %d
		WHERE kind = 'sms_deliver' AND max_attempts < %d AND state IN ('available', 'retryable', 'scheduled', 'running')`,
		sms.MaxAttempts, sms.MaxAttempts))
	if err != nil {
		return fmt.Errorf("lift old sms jobs: %w", err)
	}
	return nil
}

// Stop stops fetching and lets running jobs finish; when ctx ends first,
// the jobs still running are cancelled (a hard stop) and Stop waits briefly
// for them to return, so nothing is left half-written by this process.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if err == nil {
		return nil
	}
	hard, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, r.client.StopAndCancel(hard))
}

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
