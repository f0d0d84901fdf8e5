package main

import (
	"context"
	"fmt"
	"io"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
)

func runMigrate(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("migrate", "migrate\n\nBrings the database named by RD_DATABASE_URL up to date (tables and job queue) and exits.", stderr)
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
