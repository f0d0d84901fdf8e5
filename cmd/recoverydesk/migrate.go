package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/secret"
)

func runMigrate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return onDatabase("migrate", "migrate\n\nBrings the database named by RD_DATABASE_URL up to date (tables and job queue), seals ID and phone\nnumbers stored in clear by an older build, re-encrypts evidence objects stored before encryption at rest\n(SSE-S3, copied in place), and exits.", args, stderr, func(ctx context.Context, cfg config.Config, d *db.DB) error {
		fmt.Fprintf(stdout, "database %s is up to date\n", cfg.DBKind)
		return encryptEvidence(ctx, cfg, stdout, stderr)
	})
}

// onDatabase runs a command that works on the migrated database: it parses
// the command's flags (only --help), loads the configuration, opens and
// migrates the database, runs fn, and closes the database again.
func onDatabase(name, help string, args []string, stderr io.Writer, fn func(ctx context.Context, cfg config.Config, d *db.DB) error) error {
	fs := newFlags(name, help, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(ctx, cfg, d)
}

// encryptEvidence re-encrypts the evidence objects written in clear (before
// encryption at rest). A store allowed to stay plain is left as it is.
func encryptEvidence(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, stop, err := openEvidenceStore(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	defer stop()
	if !store.Encrypted() {
		fmt.Fprintln(stdout, "evidence store cannot encrypt (RD_S3_ALLOW_PLAINTEXT=1): objects left as they are")
		return nil
	}
	n, err := store.EncryptExisting(ctx)
	if err != nil {
		return fmt.Errorf("re-encrypt evidence (%d done; run migrate again to continue): %w", n, err)
	}
	fmt.Fprintf(stdout, "evidence store: %d objects re-encrypted at rest\n", n)
	return nil
}

// openMigrated opens the configured database, gives it the keys that seal
// ID and phone numbers, and brings it up to date (which seals the numbers
// an older build stored in clear); every command that touches the database
// starts here.
func openMigrated(ctx context.Context, cfg config.Config) (*db.DB, error) {
	keys, err := loadKeys(&cfg)
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		return nil, err
	}
	d.SealWith(keys)
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// loadKeys derives the keys from RD_SECRET_KEY (generated into the data
// directory on first use) and, during a rotation, RD_SECRET_KEY_PREVIOUS.
func loadKeys(cfg *config.Config) (*secret.Keys, error) {
	if err := cfg.EnsureSecret(); err != nil {
		return nil, err
	}
	keys, err := secret.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	return keys.WithPrevious(cfg.SecretKeyPrevious)
}
