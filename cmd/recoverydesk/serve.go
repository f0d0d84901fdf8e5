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
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"recoverydesk/handlers"
	"recoverydesk/internal/audit"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/opsmetrics"
	"recoverydesk/internal/passhash"
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
	keys, err := loadKeys(&cfg)
	if err != nil {
		return err
	}
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	logger.Info("database ready", "kind", cfg.DBKind)

	evidence, stopMinIO, err := openEvidenceStore(ctx, cfg, logger, false)
	if err != nil {
		return err
	}
	defer stopMinIO()
	// The anchor bucket is on the same store (the bundled server just
	// started is found, not started twice).
	anchors, stopAnchors, err := openAnchorStore(ctx, cfg, logger)
	if err != nil {
		logger.Error("audit anchors are NOT written: the anchor bucket is unusable", "err", err)
	} else {
		defer stopAnchors()
	}

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
	if os.Getenv("GOMEMLIMIT") == "" {
		// Hashing is bounded (RD_HASH_CONCURRENCY); so is the garbage it leaves.
		debug.SetMemoryLimit(passhash.MemoryLimit(cfg.HashConcurrency))
	}
	if os.Getenv("GOMAXPROCS") == "" {
		// Hashing keeps its threads busy; requests get Ps besides them.
		runtime.GOMAXPROCS(passhash.Procs(runtime.GOMAXPROCS(0), cfg.HashConcurrency))
	}
	sender, err := smsSender(cfg)
	if err != nil {
		return err
	}
	biz := opsmetrics.NewBusiness(cfg.SMSDriver)
	gate := passhash.NewGate(cfg.HashConcurrency)
	biz.ObserveGate(gate)
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Production, Gate: gate},
		Sender: sender, Metrics: biz, SMSPolicy: sms.Policy{Timeout: cfg.SMSTimeout, RetryFor: cfg.SMSRetryFor, BackoffMax: cfg.SMSBackoffMax},
		Store: evidence, Holidays: cfg.ExtraHolidays, Workdays: cfg.ExtraWorkdays,
		QASamplePercent: cfg.QASamplePercent, Hotline: cfg.Hotline.Text, AutoAssign: cfg.Assignment == config.AssignAuto, Logger: logger})
	if err != nil {
		return err
	}
	enforcer, err := policies.NewEnforcer(ctx, d.Ent)
	if err != nil {
		return err
	}
	// Role grants made on another instance are in force here within seconds.
	enforcer.StartAutoReload(ctx, 5*time.Second)
	runner, err := jobs.Start(ctx, d, logger, jobs.Deps{Courier: svc.Courier, Accounts: svc.Accounts, Recovery: svc.Recovery,
		Anchors: anchors, EvidenceRetention: cfg.EvidenceRetention},
		jobs.Options{PollInterval: 500 * time.Millisecond, RescueAfter: cfg.JobRescueAfter})
	if err != nil {
		return err
	}
	go sweepExpiredEntries(ctx, d, clk, logger)
	go verifyAuditChain(ctx, d, biz, logger, auditVerifyFirst, auditVerifyEvery)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	biz.Register(reg)
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
// The other commands attach to the bundled server serve runs (attach).
func openEvidenceStore(ctx context.Context, cfg config.Config, logger *slog.Logger, attach bool) (*storage.Store, func(), error) {
	sc, stop, err := objectStoreConfig(ctx, cfg, logger, attach)
	if err != nil {
		return nil, nil, err
	}
	store, err := storage.New(ctx, sc)
	if err != nil {
		stop()
		if errors.Is(err, storage.ErrNoEncryption) {
			return nil, nil, &config.Error{Var: "RD_S3_ENDPOINT", Value: cfg.S3Endpoint,
				Accepted: "an object store that encrypts at rest (SSE-S3: configure its KMS), or RD_S3_ALLOW_PLAINTEXT=1"}
		}
		return nil, nil, fmt.Errorf("object store: %w", err)
	}
	if !store.Encrypted() {
		logger.Warn("RD_S3_ALLOW_PLAINTEXT=1: evidence is stored WITHOUT encryption at rest", "endpoint", cfg.S3Endpoint)
	}
	return store, stop, nil
}

// objectStoreConfig says how to reach the object store, starting (or, with
// attach, finding) the bundled MinIO when RD_S3_ENDPOINT is empty.
func objectStoreConfig(ctx context.Context, cfg config.Config, logger *slog.Logger, attach bool) (storage.Config, func(), error) {
	sc := storage.Config{Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, Bucket: cfg.S3Bucket, TLS: cfg.S3TLS,
		Timeout: cfg.S3Timeout, AllowPlaintext: cfg.S3AllowPlaintext}
	if cfg.S3Endpoint != "" {
		return sc, func() {}, nil
	}
	start := storage.StartLocal
	if attach {
		start = storage.AttachOrStartLocal
	}
	local, err := start(ctx, storage.LocalOptions{DataDir: filepath.Join(cfg.DataDir, "minio"), Logger: logger})
	if err != nil {
		return sc, nil, fmt.Errorf("start the bundled MinIO: %w", err)
	}
	logger.Info("bundled MinIO ready", "endpoint", local.Endpoint, "data", filepath.Join(cfg.DataDir, "minio"))
	sc = local.Config(cfg.S3Bucket)
	sc.Timeout = cfg.S3Timeout
	return sc, func() {
		if err := local.Stop(); err != nil {
			logger.Warn("stop MinIO", "err", err)
		}
	}, nil
}

// openAnchorStore opens the write-once bucket of the audit anchors beside
// the evidence bucket (storage.AnchorBucket).
func openAnchorStore(ctx context.Context, cfg config.Config, logger *slog.Logger) (*storage.AnchorStore, func(), error) {
	sc, stop, err := objectStoreConfig(ctx, cfg, logger, true)
	if err != nil {
		return nil, nil, err
	}
	sc.Bucket = storage.AnchorBucket(cfg.S3Bucket)
	a, err := storage.NewAnchorStore(ctx, sc)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("anchor bucket: %w", err)
	}
	return a, stop, nil
}

// smsSender is the configured gateway, or nil for the outbox driver. Each
// call is bounded by the courier (RD_SMS_TIMEOUT), not by the client.
func smsSender(cfg config.Config) (sms.Sender, error) {
	c := cfg.SMSCarrier
	carrier := sms.CarrierConfig{KeyID: c.KeyID, Secret: c.Secret, AppID: c.AppID, SignName: c.SignName, Region: c.Region,
		Endpoint: c.Endpoint, Scheme: c.Scheme, Templates: c.Templates}
	switch cfg.SMSDriver {
	case "http":
		return sms.HTTPSender{URL: cfg.SMSHTTPURL, Client: &http.Client{}}, nil
	case "aliyun":
		return sms.NewAliyun(carrier)
	case "tencent":
		return sms.NewTencent(carrier)
	}
	return nil, nil
}

// auditVerifyEvery is how often each instance checks the audit log's hash
// chain for /metrics (recoverydesk_audit_chain_ok); the first check runs
// auditVerifyFirst after start, once start-up traffic (a restart under load,
// a benchmark's warm-up) has passed, since it reads the whole log.
const (
	auditVerifyEvery = time.Hour
	auditVerifyFirst = time.Minute
)

// verifyAuditChain runs `audit verify`'s chain check in the process — the
// first time after first, then every every (auditVerifyFirst and
// auditVerifyEvery in serve) — and reports the result, so a tampered log
// pages the operator within the hour instead of waiting for someone to run
// the command. A check that cannot run counts as not intact.
func verifyAuditChain(ctx context.Context, d *db.DB, biz *opsmetrics.Business, logger *slog.Logger, first, every time.Duration) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(every)
		rep, err := audit.Verify(ctx, d)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Error("audit chain check could not run", "err", err)
			biz.AuditVerified(false, time.Now())
		case !rep.Intact:
			logger.Error("audit chain is broken", "first_broken", rep.FirstBroken.String())
			biz.AuditVerified(false, time.Now())
		default:
			biz.AuditVerified(true, time.Now())
		}
	}
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
