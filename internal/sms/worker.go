package sms

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"recoverydesk/internal/config"
)

// Worker is the River worker that delivers queued messages.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	courier *Courier
}

// NewWorker returns the delivery worker for a courier.
func NewWorker(c *Courier) *Worker { return &Worker{courier: c} }

// Work makes one try at a message; River tries again after NextRetry when
// it returns an error. A message that failed for good ends its job.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	err := w.courier.Deliver(ctx, job.Args.MessageID)
	if errors.Is(err, ErrGiveUp) {
		return river.JobCancel(err)
	}
	return err
}

// NextRetry backs off exponentially, capped by the courier's policy.
func (w *Worker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return time.Now().Add(w.courier.policy.Backoff(job.Attempt))
}

// Timeout gives one try the gateway call's bound plus time for the database
// writes around it; the job's rescue delay must exceed it (config checks).
func (w *Worker) Timeout(*river.Job[DeliverArgs]) time.Duration {
	return w.courier.policy.Timeout + config.SMSTrySlack
}
