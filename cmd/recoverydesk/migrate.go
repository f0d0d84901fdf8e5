package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
)

func runMigrate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate\n\nBrings the database named by RD_DATABASE_URL up to date (tables and job queue), re-encrypts\nevidence objects stored before encryption at rest (SSE-S3, copied in place), and exits.", stderr)
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
	fmt.Fprintf(stdout, "database %s is up to date\n", cfg.DBKind)
	return encryptEvidence(ctx, cfg, stdout, stderr)
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

// openMigrated opens the configured database and brings it up to date;
// every command that touches the database starts here.
func openMigrated(ctx context.Context, cfg config.Config) (*db.DB, error) {
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
