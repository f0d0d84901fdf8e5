package main

import (
	"strings"
	"testing"

	"recoverydesk/internal/config"
	"recoverydesk/internal/vocab"
)

// TestServeRefusesACarrierWithoutATemplateForEveryPurpose: a carrier driver
// with one purpose's template missing stops serve at start with exit 2 and
// one line naming that variable, and the account's secret is not printed.
func TestServeRefusesACarrierWithoutATemplateForEveryPurpose(t *testing.T) {
	env := []string{"RD_DATA_DIR=" + t.TempDir(), "RD_ADDR=127.0.0.1:0", "RD_SMS_DRIVER=tencent", "RD_SMS_SIGN_NAME=广东人社",
		"RD_SMS_TENCENT_SECRET_ID=AKIDexample", "RD_SMS_TENCENT_SECRET_KEY=tencent-secret-value", "RD_SMS_TENCENT_SDK_APP_ID=1400000001"}
	for _, p := range vocab.Purposes {
		if p != vocab.PurposeReopened {
			env = append(env, config.TemplateVar(p)+"=1234567")
		}
	}
	code, stdout, stderr := recoverydesk(t, env, "", "serve")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "RD_SMS_TEMPLATE_REOPENED") || strings.Contains(stdout+stderr, "tencent-secret-value") {
		t.Fatalf("serve without the reopened template: exit %d\n%s%s", code, stdout, stderr)
	}
}
