package main

import (
	"context"
	"fmt"
	"io"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
)

// runRekey re-seals every sealed value under RD_SECRET_KEY during a key
// rotation (docs/OPERATIONS.md, "Rotating RD_SECRET_KEY").
func runRekey(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	return onDatabase("rekey", "rekey\n\nRe-seals every value sealed at rest (ID and phone numbers, SMS texts, staff TOTP secrets) under\nRD_SECRET_KEY and recomputes the keyed hashes that find ID and phone numbers. Run it with the new key\nas RD_SECRET_KEY and the old one as RD_SECRET_KEY_PREVIOUS (every instance keeps serving meanwhile);\nonce it has finished, RD_SECRET_KEY_PREVIOUS can be removed. Safe to run again.", args, stderr, func(ctx context.Context, _ config.Config, d *db.DB) error {
		n, err := d.Rekey(ctx)
		if err != nil {
			return fmt.Errorf("rekey (%d rows done; run rekey again to finish): %w", n, err)
		}
		fmt.Fprintf(stdout, "%d rows re-sealed under RD_SECRET_KEY\n", n)
		return nil
	})
}
