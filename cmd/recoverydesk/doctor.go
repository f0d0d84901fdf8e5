package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
	"recoverydesk/storage"
)

// doctorTimeout bounds the whole check: a store or database that does not
// answer is a failed check, not a hung command.
const doctorTimeout = 90 * time.Second

// check is one line of doctor's report.
type check struct {
	name string
	run  func(ctx context.Context, cfg *config.Config) (string, error)
}

// runDoctor checks what serve needs, one line per check ("ok name: detail"
// or "FAIL name: detail"), and exits 0 only when every check passed. It
// changes nothing serve would not (it never migrates, never writes the
// secret file); it may start the bundled MinIO for the time of the check,
// as migrate does. It never prints a secret: configuration errors name the
// variable without its value, and addresses are shown without credentials.
func runDoctor(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("doctor", "doctor\n\nChecks the configuration (RD_* variables), the secret key, the database (reachable, schema up\nto date), the object store (reachable, encryption at rest working, the audit anchor bucket) and\nthe SMS driver's configuration. Prints one line per check, \"ok name: detail\" or \"FAIL name: detail\";\nexits 0 when every check passed, 1 otherwise. Never prints secrets.", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), doctorTimeout)
	defer cancel()
	if !doctor(ctx, loadConfig, stdout) {
		return exitCode(1)
	}
	return nil
}

// doctor runs every check and reports whether all passed.
func doctor(ctx context.Context, load func() (config.Config, error), w io.Writer) bool {
	cfg, cfgErr := load()
	checks := []check{
		{"config", func(context.Context, *config.Config) (string, error) { return configSummary(cfg), nil }},
		{"secret", checkSecret},
		{"database", checkDatabase},
		{"object store", checkObjectStore},
		{"audit anchors", checkAnchors},
		{"sms", checkSMS},
	}
	ok := true
	for _, c := range checks {
		var detail string
		var err error
		if cfgErr != nil {
			err = errors.New("not checked: the configuration is invalid")
			if c.name == "config" {
				err = configProblem(cfgErr)
			}
		} else {
			detail, err = c.run(ctx, &cfg)
		}
		if err != nil {
			ok = false
			fmt.Fprintf(w, "FAIL %s: %s\n", c.name, oneLine(err.Error()))
			continue
		}
		fmt.Fprintf(w, "ok %s: %s\n", c.name, detail)
	}
	return ok
}

// configProblem describes a configuration error without the value, which
// may be a secret (a URL with a password, a key).
func configProblem(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return fmt.Errorf("%s is not valid: accepted %s", ce.Var, ce.Accepted)
	}
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// configSummary names what the configuration points at, without secrets.
func configSummary(cfg config.Config) string {
	store := "bundled MinIO (data in " + filepath.Join(cfg.DataDir, "minio") + ")"
	if cfg.S3Endpoint != "" {
		store = cfg.S3Endpoint
	}
	mode := "production mode"
	if cfg.Dev {
		mode = "DEV MODE (/dev/* enabled)"
	}
	return fmt.Sprintf("%s database %s, object store %s, sms driver %s, listen %s, %s",
		cfg.DBKind, databaseWhere(cfg), store, cfg.SMSDriver, cfg.Addr, mode)
}

// databaseWhere is the database's location without credentials.
func databaseWhere(cfg config.Config) string {
	if cfg.DBKind == config.SQLite {
		return strings.TrimPrefix(cfg.DatabaseURL, "sqlite://")
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host + u.Path
}

// checkSecret reads the key serve would use, without generating one.
func checkSecret(_ context.Context, cfg *config.Config) (string, error) {
	from := "RD_SECRET_KEY"
	if len(cfg.SecretKey) == 0 {
		path := filepath.Join(cfg.DataDir, "secret")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("neither RD_SECRET_KEY nor %s: serve would generate a new key, and values sealed with an earlier one could not be read", path)
		}
		if err := cfg.EnsureSecret(); err != nil {
			return "", err
		}
		from = path
	}
	if _, err := secret.New(cfg.SecretKey); err != nil {
		return "", fmt.Errorf("the key from %s is unusable: %w", from, err)
	}
	return "key from " + from + " is usable", nil
}

// checkDatabase opens the database and asks what a migration would change.
func checkDatabase(ctx context.Context, cfg *config.Config) (string, error) {
	where := databaseWhere(*cfg)
	if cfg.DBKind == config.SQLite {
		if _, err := os.Stat(where); err != nil {
			return "", fmt.Errorf("%s does not exist: run recoverydesk migrate (or serve) first", where)
		}
	}
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	defer d.Close()
	if err := d.Ping(ctx); err != nil {
		return "", fmt.Errorf("%s does not answer: %w", where, err)
	}
	pending, err := d.Pending(ctx)
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if len(pending) > 0 {
		return "", fmt.Errorf("%s answers but its schema is not up to date (%d changes pending): run recoverydesk migrate", where, len(pending))
	}
	return fmt.Sprintf("%s %s answers; schema up to date", cfg.DBKind, where), nil
}

// doctorLogger keeps the bundled MinIO's start-up notes out of the report.
func doctorLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// checkObjectStore connects as serve does: the bucket is reachable and the
// store encrypts a probe object at rest (storage.New writes and reads it).
func checkObjectStore(ctx context.Context, cfg *config.Config) (string, error) {
	sc, stop, err := objectStoreConfig(ctx, *cfg, doctorLogger(), true)
	if err != nil {
		return "", err
	}
	defer stop()
	where := fmt.Sprintf("bucket %s at %s", sc.Bucket, sc.Endpoint)
	store, err := storage.New(ctx, sc)
	if errors.Is(err, storage.ErrNoEncryption) {
		return "", fmt.Errorf("%s answers but cannot encrypt at rest (SSE-S3 needs a KMS on the store)", where)
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if err := store.Ping(ctx); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	if !store.Encrypted() {
		return "", fmt.Errorf("%s answers, but evidence would be stored WITHOUT encryption at rest (RD_S3_ALLOW_PLAINTEXT=1)", where)
	}
	return where + " answers; encryption at rest (SSE-S3) verified with a probe object", nil
}

// checkAnchors opens the write-once bucket of the audit anchors as serve
// does (serve starts without it, but then writes no anchors).
func checkAnchors(ctx context.Context, cfg *config.Config) (string, error) {
	sc, stop, err := objectStoreConfig(ctx, *cfg, doctorLogger(), true)
	if err != nil {
		return "", err
	}
	defer stop()
	sc.Bucket = storage.AnchorBucket(cfg.S3Bucket)
	if _, err := storage.NewAnchorStore(ctx, sc); err != nil {
		return "", fmt.Errorf("bucket %s: %w", sc.Bucket, err)
	}
	return "bucket " + sc.Bucket + " is usable (object lock)", nil
}

// checkSMS checks the SMS driver's configuration; it sends nothing.
func checkSMS(_ context.Context, cfg *config.Config) (string, error) {
	switch cfg.SMSDriver {
	case "outbox":
		msg := "outbox: messages are kept in the database and nothing leaves the machine"
		if !cfg.Dev {
			msg += " (no applicant receives a code: set RD_SMS_DRIVER for production)"
		}
		return msg, nil
	case "http":
		u, err := url.Parse(cfg.SMSHTTPURL)
		if err != nil || u.Host == "" {
			return "", errors.New("RD_SMS_HTTP_URL is not a URL")
		}
		return fmt.Sprintf("http gateway %s://%s (timeout %s, retried for %s)", u.Scheme, u.Host, cfg.SMSTimeout, cfg.SMSRetryFor), nil
	}
	return "driver " + cfg.SMSDriver + " configured", nil
}
