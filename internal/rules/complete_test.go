package rules

import (
	"testing"
	"time"
)

func TestCompleteProducesValidNumbers(t *testing.T) {
	today := time.Date(2026, 11, 27, 0, 0, 0, 0, Shanghai)
	for _, body := range []string{"44070319900101123", "44010619851231002", "11010519491231002"} {
		if _, err := ValidateIDNumber(CompleteIDNumber(body), today); err != nil {
			t.Errorf("CompleteIDNumber(%s): %v", body, err)
		}
	}
	for _, body := range []string{"91440300708461136", "91440703MA4UABCD1", "12440106MB2CDEM02"} {
		if _, err := ValidateUSCC(CompleteUSCC(body)); err != nil {
			t.Errorf("CompleteUSCC(%s): %v", body, err)
		}
	}
	if got := CompleteUSCC("91440300708461136"); got != "91440300708461136T" {
		t.Errorf("Huawei's code completes to %s", got)
	}
	if CompleteIDNumber("123") != "123" || CompleteUSCC("91440300I08461136") != "91440300I08461136" {
		t.Error("malformed bodies must come back unchanged")
	}
}
