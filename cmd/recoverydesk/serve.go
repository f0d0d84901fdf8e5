package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"recoverydesk/handlers"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/sms"
	"recoverydesk/policies"
	"recoverydesk/storage"
)

func runServe(args []string, _ io.Reader, _ io.Writer, stderr io.Writer) error {
	fs := newFlags("serve", "serve\n\nRuns the web server on RD_ADDR with the database, the object store and the background workers.\nWith an empty RD_S3_ENDPOINT it starts the bundled MinIO (bin/minio) on a free loopback port.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, newLogger(cfg, stderr))
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	if cfg.Dev {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// drainTimeout bounds how long in-flight requests may take to finish once
// the listener is closed (an upload on a slow phone link).
const drainTimeout = 30 * time.Second

// serve runs until ctx ends, then shuts down gracefully (CONTRACT §7):
// /readyz answers 503 at once and requests are still served for
// RD_SHUTDOWN_GRACE while the proxy moves traffic away; the background jobs
// stop fetching and finish what they hold; then the listener closes,
// in-flight requests finish and keep-alive connections are closed cleanly;
// the bundled MinIO stops last, then the database.
func serve(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	if err := cfg.EnsureSecret(); err != nil {
		return err
	}
	keys, err := secret.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	logger.Info("database ready", "kind", cfg.DBKind)

	evidence, stopMinIO, err := openEvidenceStore(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer stopMinIO()

	var clk clock.Clock = clock.Real{}
	var devClock *clock.Adjustable
	if cfg.Dev {
		// Every instance of a dev deployment reads one shared clock.
		if devClock, err = clock.NewShared(ctx, kvstore.ClockOffset{DB: d}, devClockRefresh); err != nil {
			return err
		}
		clk = devClock
		logger.Warn("dev mode: /dev/sms and /dev/clock are enabled; never run this in production")
	}
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Production},
		Sender: smsSender(cfg), SMSPolicy: sms.Policy{Timeout: cfg.SMSTimeout, RetryFor: cfg.SMSRetryFor, BackoffMax: cfg.SMSBackoffMax},
		Store: evidence, Holidays: cfg.ExtraHolidays, Workdays: cfg.ExtraWorkdays,
		QASamplePercent: cfg.QASamplePercent, Hotline: cfg.Hotline.Text, Logger: logger})
	if err != nil {
		return err
	}
	enforcer, err := policies.NewEnforcer(ctx, d.Ent)
	if err != nil {
		return err
	}
	// Role grants made on another instance are in force here within seconds.
	enforcer.StartAutoReload(ctx, 5*time.Second)
	runner, err := jobs.Start(ctx, d, logger, jobs.Deps{Courier: svc.Courier, Accounts: svc.Accounts, Recovery: svc.Recovery},
		jobs.Options{PollInterval: 500 * time.Millisecond, RescueAfter: cfg.JobRescueAfter})
	if err != nil {
		return err
	}
	go sweepExpiredEntries(ctx, d, clk, logger)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var draining atomic.Bool
	app, err := handlers.New(handlers.Deps{
		Config: cfg, DB: d, Evidence: evidence, Clock: clk, DevClock: devClock,
		Courier: svc.Courier, Outbox: svc.Outbox, Accounts: svc.Accounts, Recovery: svc.Recovery, Staff: svc.Staff, Dashboard: svc.Dashboard, Enforcer: enforcer,
		Logger: logger, Metrics: reg, Draining: &draining,
	})
	if err != nil {
		stopJobs(runner, logger, time.Second)
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(cfg.Addr) }()
	logger.Info("recoverydesk is serving", "url", "http://"+cfg.Addr+"/")
	select {
	case err := <-errc:
		stopJobs(runner, logger, time.Second)
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	case <-ctx.Done():
	}

	draining.Store(true)
	logger.Info("shutting down: /readyz says 503, still serving", "grace", cfg.ShutdownGrace)
	// Jobs stop fetching now and finish the tries they hold; a try is bounded
	// by the gateway timeout, so none is cancelled mid-send.
	jobsDone := make(chan struct{})
	go func() {
		stopJobs(runner, logger, cfg.ShutdownGrace+cfg.SMSTimeout+config.SMSTrySlack)
		close(jobsDone)
	}()
	select {
	case <-time.After(cfg.ShutdownGrace):
	case err := <-errc:
		logger.Warn("listener ended during the grace period", "err", err)
	}
	logger.Info("draining: new connections are refused, in-flight requests finish")
	if err := app.ShutdownWithTimeout(drainTimeout); err != nil {
		logger.Warn("http shutdown", "err", err)
	}
	<-jobsDone
	logger.Info("stopped")
	return nil
}

// devClockRefresh is how soon an instance sees another's move of the dev
// clock.
const devClockRefresh = 500 * time.Millisecond

// stopJobs gives the workers a soft stop of at most within.
func stopJobs(runner *jobs.Runner, logger *slog.Logger, within time.Duration) {
	stopCtx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := runner.Stop(stopCtx); err != nil {
		logger.Warn("stop workers", "err", err)
	}
}

// openEvidenceStore connects to the configured MinIO, or starts the bundled
// one when RD_S3_ENDPOINT is empty; the bundled server is supervised (a
// crashed process is restarted on the same port). The returned stop
// function ends the bundled server for good (a no-op for an external one).
func openEvidenceStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage.Store, func(), error) {
	sc := storage.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket, TLS: cfg.S3TLS,
		Timeout: cfg.S3Timeout}
	stop := func() {}
	if cfg.S3Endpoint == "" {
		local, err := storage.StartLocal(ctx, storage.LocalOptions{DataDir: filepath.Join(cfg.DataDir, "minio"), Logger: logger})
		if err != nil {
			return nil, nil, fmt.Errorf("start the bundled MinIO: %w", err)
		}
		logger.Info("bundled MinIO started", "endpoint", local.Endpoint, "data", filepath.Join(cfg.DataDir, "minio"))
		sc = local.Config(cfg.S3Bucket)
		sc.Timeout = cfg.S3Timeout
		stop = func() {
			if err := local.Stop(); err != nil {
				logger.Warn("stop MinIO", "err", err)
			}
		}
	}
	store, err := storage.New(ctx, sc)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("object store: %w", err)
	}
	return store, stop, nil
}

// smsSender is the configured gateway, or nil for the outbox driver. Each
// call is bounded by the courier (RD_SMS_TIMEOUT), not by the client.
func smsSender(cfg config.Config) sms.Sender {
	if cfg.SMSDriver == "http" {
		return sms.HTTPSender{URL: cfg.SMSHTTPURL, Client: &http.Client{}}
	}
	return nil
}

// sweepExpiredEntries removes expired sessions, CSRF tokens and counters.
// Their expiry is written on the application clock, so it is read on the
// same clock: a dev clock moved back must not make live sessions look old.
func sweepExpiredEntries(ctx context.Context, d *db.DB, clk clock.Clock, logger *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := kvstore.DeleteExpired(ctx, d.Ent, clk.Now()); err != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("sweep expired entries", "err", err)
			}
		}
	}
}
