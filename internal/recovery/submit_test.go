package recovery_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/evidence"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/verify"
)

// readyCase is a verified draft with every required evidence row in place.
func readyCase(t *testing.T, ctx context.Context, d *db.DB, n int) *ent.RecoveryCase {
	t.Helper()
	acc := d.Ent.Account.Create().SetKind("person").SetUsername("user_" + string(rune('a'+n))).
		SetUsernameKey("user_" + string(rune('a'+n))).SetPasswordHash("x").SetName("张三").SetCertType("id_card").
		SetCertNumber("cert-" + string(rune('a'+n))).SetPhone("1380000000" + string(rune('0'+n))).SaveX(ctx)
	rc := d.Ent.RecoveryCase.Create().SetKind("person").SetRegionCode("440703").SetTypedCertType("id_card").
		SetTypedCertNumber("x").SetTokenHash([]byte{byte(n)}).SetAccount(acc).SetPhoneVerifiedAt(time.Now()).SaveX(ctx)
	for _, kind := range recovery.RequiredEvidence("person") {
		d.Ent.Evidence.Create().SetCaseID(rc.ID).SetObjectKey(rc.ID.String() + kind).
			SetSha256("0").SetSize(1).SetWidth(1).SetHeight(1).SetContentType("image/png").
			SetKind(evidence.Kind(kind)).ExecX(ctx)
	}
	return rc
}

func TestConcurrentSubmissionsGetDistinctSequentialNumbers(t *testing.T) {
	testenv.ForEachDB(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		keys, _ := secret.New(bytes.Repeat([]byte("k"), 32))
		ins, _ := jobs.NewInserter(d, slog.Default())
		clk := clock.NewAdjustable()
		clk.Set(time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("CST", 8*3600)))
		courier := sms.NewCourier(keys, sms.NewOutbox(d, keys, clk), d, clk, ins)
		svc := recovery.New(recovery.Deps{DB: d, Clock: clk, Codes: verify.New(d, clk, keys, courier), Courier: courier})
		const n = 8
		cases := make([]*ent.RecoveryCase, n)
		for i := range cases {
			cases[i] = readyCase(t, ctx, d, i)
		}
		numbers := make([]string, n)
		var wg sync.WaitGroup
		for i, rc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sub, err := svc.Submit(ctx, rc)
				if err != nil {
					t.Errorf("submit %d: %v", i, err)
					return
				}
				numbers[i] = sub.CaseNumber
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for _, num := range numbers {
			if !strings.HasPrefix(num, "ZH20260302") || len(num) != 16 || seen[num] {
				t.Fatalf("numbers %v", numbers)
			}
			seen[num] = true
		}
		for i := 1; i <= n; i++ {
			if want := fmt.Sprintf("ZH20260302%06d", i); !seen[want] {
				t.Fatalf("not a gapless daily sequence, %s missing: %v", want, numbers)
			}
		}
		// Each submission queued its confirmation, once.
		if got := d.Ent.SMSMessage.Query().Where(smsmessage.Purpose(recovery.PurposeSubmitted)).CountX(ctx); got != n {
			t.Fatalf("%d submission SMS for %d submissions", got, n)
		}
	})
}
