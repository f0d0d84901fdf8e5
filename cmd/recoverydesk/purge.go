package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"recoverydesk/internal/clock"
	"recoverydesk/internal/kvstore"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/services"
)

// runPurge destroys, now, the evidence past RD_EVIDENCE_RETENTION (what the
// daily job does) and prints every object it destroyed or, with --dry-run,
// would destroy.
func runPurge(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("purge [--dry-run]", "purge [--dry-run]\n\nDestroys the evidence images of finally decided cases (approved with the password effective,\nrejected, expired) older than RD_EVIDENCE_RETENTION (default 180d), except cases under legal hold\n(保全). Each image is recorded in the audit log; the rows stay, marked destroyed.\nPrints what it destroyed; --dry-run prints what it would destroy and changes nothing.", stderr)
	dry := fs.Bool("dry-run", false, "list what would be destroyed; change nothing")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	keys, err := loadKeys(&cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, stop, err := openEvidenceStore(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	defer stop()
	var clk clock.Clock = clock.Real{}
	if cfg.Dev { // the dev clock every instance shares: a moved clock moves the purge too
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		if clk, err = clock.NewShared(cctx, kvstore.ClockOffset{DB: d}, devClockRefresh); err != nil {
			return err
		}
	}
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Production},
		Store: store, Holidays: cfg.ExtraHolidays, Workdays: cfg.ExtraWorkdays, Logger: logger})
	if err != nil {
		return err
	}
	rep, err := svc.Recovery.Purge(ctx, cfg.EvidenceRetention, *dry)
	verb := "destroyed"
	if *dry {
		verb = "would destroy"
	}
	for _, x := range rep.Destroyed {
		fmt.Fprintf(stdout, "%s %s %s %s (%d bytes; final decision %s)\n", verb, x.CaseNumber, x.Kind, x.ObjectKey, x.Size,
			x.FinalAt.In(rules.Shanghai).Format("2006-01-02 15:04"))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %d evidence objects past retention %s", verb, len(rep.Destroyed), cfg.EvidenceRetention)
	if rep.Healed > 0 {
		fmt.Fprintf(stdout, "; deleted %d left over by an interrupted purge", rep.Healed)
	}
	if rep.Held > 0 {
		fmt.Fprintf(stdout, "; %d cases past retention kept under legal hold", rep.Held)
	}
	fmt.Fprintln(stdout)
	return nil
}
