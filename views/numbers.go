package views

import (
	"time"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/dashboard"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/verify"
)

// copyNumbers are the figures the pages and scripts name, each taken from
// the constant that enforces it: the copy says what the code does.
func copyNumbers() Numbers {
	return Numbers{
		"code_ttl_minutes":     int(verify.CodeTTL / time.Minute),
		"claim_minutes":        int(recovery.ClaimTTL / time.Minute),
		"draft_ttl_hours":      int(recovery.DraftTTL / time.Hour),
		"similarity_low":       recovery.LowSimilarity,
		"name_max":             nameMaxLen,
		"cert_number_max":      certNumberMaxLen,
		"unit_name_max":        unitNameMaxLen,
		"id_number_len":        rules.IDNumberLen,
		"note_max":             recovery.MaxNoteLen,
		"message_max":          recovery.MessageMaxLen,
		"hold_reason_max":      recovery.HoldReasonMaxLen,
		"typed_username_max":   recovery.TypedUsernameMaxLen,
		"reason_code_max":      recovery.ReasonCodeMaxLen,
		"reason_text_max":      recovery.ReasonTextMaxLen,
		"dashboard_weeks":      dashboard.DefaultWeeks,
		"due_workdays":         rules.DueWorkdays,
		"password_delay_hours": int(accounts.PendingDelay / time.Hour),
		"lock_failures":        rules.DefaultLockout.MaxFailures,
		"lock_hours":           int(rules.DefaultLockout.Duration / time.Hour),
		"username_min":         rules.UsernameMinLen,
		"username_max":         rules.UsernameMaxLen,
		"password_min":         rules.PasswordMinLen,
		"password_max":         rules.PasswordMaxLen,
		"password_classes":     rules.PasswordMinClasses,
		"password_run":         rules.PasswordMaxKeyboardRun,
		"upload_max_bytes":     imagecheck.MaxBytes,
		"upload_max_mb":        imagecheck.MaxBytes >> 20,
		"upload_min_side":      imagecheck.MinSide,
		"upload_max_side":      imagecheck.MaxSide,
		"upload_max_pixels":    imagecheck.MaxPixels,
		"downscale_above":      imagecheck.DownscaleAbove,
		"downscale_to":         imagecheck.DownscaleTo,
		"downscale_quality":    imagecheck.DownscaleQuality,
	}
}
