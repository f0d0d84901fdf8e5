package recovery

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/vocab"
)

// TestFlagLabelsNameTheThresholds keeps the flags' wording (vocab) in step
// with the thresholds that raise them here: a reviewer reads the number.
func TestFlagLabelsNameTheThresholds(t *testing.T) {
	days := func(d time.Duration) string { return strconv.Itoa(int(d/(24*time.Hour))) + "天" }
	for flag, want := range map[vocab.Flag]string{
		vocab.FlagLowSimilarity:    strconv.Itoa(LowSimilarity) + "%",
		vocab.FlagRecentlyLocked:   days(RecentLockWindow),
		vocab.FlagRecentlyRejected: days(RecentRejectionWindow),
	} {
		if !strings.Contains(flag.Label(), want) {
			t.Errorf("%s: label %q does not say %q", flag, flag.Label(), want)
		}
	}
}
