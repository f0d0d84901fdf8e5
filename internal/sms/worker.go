package sms

import (
	"context"
	"errors"

	"github.com/riverqueue/river"
)

// Worker is the River worker that delivers queued messages.
type Worker struct {
	river.WorkerDefaults[DeliverArgs]
	courier *Courier
}

// NewWorker returns the delivery worker for a courier.
func NewWorker(c *Courier) *Worker { return &Worker{courier: c} }

// Work delivers one message; River retries on error with backoff.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	err := w.courier.Deliver(ctx, job.Args.MessageID, job.Attempt >= job.MaxAttempts)
	if errors.Is(err, ErrGiveUp) {
		return river.JobCancel(err)
	}
	return err
}
