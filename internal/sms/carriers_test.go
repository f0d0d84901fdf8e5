package sms_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/db"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/sms/carrierstub"
	"recoverydesk/internal/testenv"
	"recoverydesk/internal/vocab"
)

// carrierCase is one carrier: how its driver is built and how it names
// things.
type carrierCase struct {
	carrier carrierstub.Carrier
	build   func(sms.CarrierConfig) (sms.Sender, error)
	phone   string // the number as the carrier receives it
	// param reads the parameter at position i (from 1) named name as the
	// carrier received it: Aliyun by name, Tencent by position.
	param func(r carrierstub.Request, i int, name string) (string, bool)
	// retry and final are answers the driver must retry and refuse.
	retry, final []string
}

var carriers = []carrierCase{
	{carrier: carrierstub.Aliyun, phone: "13800000021",
		build: func(c sms.CarrierConfig) (sms.Sender, error) { return sms.NewAliyun(c) },
		param: func(r carrierstub.Request, _ int, name string) (string, bool) { v, ok := r.Params[name]; return v, ok },
		retry: []string{"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "http:503"},
		final: []string{"isv.SMS_TEMPLATE_ILLEGAL", "isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_SIGNATURE_ILLEGAL"}},
	{carrier: carrierstub.Tencent, phone: "+8613800000021",
		build: func(c sms.CarrierConfig) (sms.Sender, error) { return sms.NewTencent(c) },
		param: func(r carrierstub.Request, i int, _ string) (string, bool) {
			v, ok := r.Params[fmt.Sprint(i)]
			return v, ok
		},
		retry: []string{"LimitExceeded.PhoneNumberThirtySecondLimit", "InternalError.Timeout", "http:502"},
		final: []string{"FailedOperation.TemplateIncorrectOrUnapproved", "InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.SignatureIncorrectOrUnapproved"}},
}

const carrierSecret = "stub-secret-never-shown-0123456789"

// TestCarrierDriversSendTemplatesRetryThrottlesAndFailBadTemplates runs
// each carrier driver, through its SDK, against a stub of the carrier's
// HTTP API on loopback that checks the SDK's signature with the account's
// secret: a password message goes out as the purpose's template with the
// password a parameter of its own and the delivery key as OutId /
// SessionContext; a throttled message stays queued and its next try, with
// the same key, is accepted; a bad template fails the message for good
// and tells the registered hook (the case history) once.
func TestCarrierDriversSendTemplatesRetryThrottlesAndFailBadTemplates(t *testing.T) {
	for _, cc := range carriers {
		t.Run(string(cc.carrier), func(t *testing.T) {
			d := testenv.SQLite(t)
			ctx := context.Background()
			stub := carrierstub.New(t, cc.carrier, "AKIDstub", carrierSecret)
			sender, err := cc.build(stub.Config())
			if err != nil {
				t.Fatal(err)
			}
			courier := courierTo(t, d, sender, clock.Real{})
			courier.SetPolicy(sms.Policy{Timeout: 5 * time.Second, RetryFor: time.Hour, BackoffMax: time.Second})
			var failed []int
			observed := map[string]int{}
			courier.Observe(func(p vocab.Purpose, accepted bool) { observed[fmt.Sprintf("%s %t", p, accepted)]++ })
			courier.OnFailedForGood(func(_ context.Context, _ *db.Tx, msg *ent.SMSMessage, _ time.Time) error {
				failed = append(failed, msg.ID)
				return nil
			})
			queue := func(c sms.Content) *ent.SMSMessage {
				t.Helper()
				var id int
				if err := d.InTx(ctx, func(tx *db.Tx) (err error) {
					id, err = courier.QueueRef(ctx, tx, "13800000021", "case:c", c)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return d.Ent.SMSMessage.GetX(ctx, id)
			}

			// Accepted: the template of the purpose, its parameters in
			// order, the password its own parameter.
			msg := queue(sms.Password("zhang_san01", "Abcd2345xy!", 4*time.Hour))
			if err := courier.Deliver(ctx, msg.ID); err != nil {
				t.Fatalf("accepted message: %v", err)
			}
			if got := d.Ent.SMSMessage.GetX(ctx, msg.ID); got.Status != smsmessage.StatusSent {
				t.Fatalf("status %s after acceptance", got.Status)
			}
			reqs := stub.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if !r.Signed || r.Auth == "" {
				t.Fatalf("the carrier could not verify the SDK's signature: %+v", r)
			}
			if r.Template != "TPL_password" || r.SignName != "广东人社" || r.Phone != cc.phone || r.Key != msg.DeliveryKey {
				t.Fatalf("request %+v, want template TPL_password, key %s", r, msg.DeliveryKey)
			}
			if cc.carrier == carrierstub.Tencent && r.AppID != "1400000001" {
				t.Fatalf("SmsSdkAppId %q", r.AppID)
			}
			for i, want := range []struct{ name, value string }{{"username", "zhang_san01"}, {"password", "Abcd2345xy!"}, {"hours", "4"}} {
				if v, ok := cc.param(r, i+1, want.name); !ok || v != want.value {
					t.Errorf("parameter %d %s = %q, want %q", i+1, want.name, v, want.value)
				}
			}
			if len(r.Params) != 3 {
				t.Errorf("parameters %v, want exactly username, password, hours", r.Params)
			}

			// Throttled, then accepted: the same key both times.
			for _, code := range cc.retry {
				before := len(stub.Requests())
				msg := queue(sms.Submitted("ZH20260420000001", time.Date(2026, 4, 22, 0, 0, 0, 0, time.UTC)))
				stub.Answer(code)
				err := courier.Deliver(ctx, msg.ID)
				if err == nil || errors.Is(err, sms.ErrGiveUp) {
					t.Fatalf("%s: Deliver = %v, want a retry", code, err)
				}
				row := d.Ent.SMSMessage.GetX(ctx, msg.ID)
				if row.Status != smsmessage.StatusQueued || row.SendCount != 1 || row.LastError == "" {
					t.Fatalf("%s: row %s, %d tries, last error %q", code, row.Status, row.SendCount, row.LastError)
				}
				if strings.Contains(row.LastError, carrierSecret) || strings.Contains(row.LastError, "AKIDstub") {
					t.Fatalf("%s: last_error shows a credential: %q", code, row.LastError)
				}
				if err := courier.Deliver(ctx, msg.ID); err != nil {
					t.Fatalf("%s: the retry: %v", code, err)
				}
				if row := d.Ent.SMSMessage.GetX(ctx, msg.ID); row.Status != smsmessage.StatusSent {
					t.Fatalf("%s: status %s after the retry", code, row.Status)
				}
				tries := stub.Requests()[before:]
				if len(tries) != 2 || tries[0].Key != msg.DeliveryKey || tries[1].Key != msg.DeliveryKey || tries[1].Template != "TPL_submitted" {
					t.Fatalf("%s: tries %+v, want two with key %s", code, tries, msg.DeliveryKey)
				}
				if v, _ := cc.param(tries[1], 1, "case_number"); v != "ZH20260420000001" {
					t.Fatalf("%s: case number parameter %q", code, v)
				}
				if v, _ := cc.param(tries[1], 2, "due_date"); v != "2026年4月22日" {
					t.Fatalf("%s: due date parameter %q", code, v)
				}
			}

			// Refused for good: failed, the hook told once, no retry.
			for _, code := range cc.final {
				failed = nil
				msg := queue(sms.Rejected("ZH20260420000001", []string{strings.Repeat("因", 200)}, strings.Repeat("说", 200), "0750-3873738"))
				stub.Answer(code)
				if err := courier.Deliver(ctx, msg.ID); !errors.Is(err, sms.ErrGiveUp) {
					t.Fatalf("%s: Deliver = %v, want the message failed for good", code, err)
				}
				row := d.Ent.SMSMessage.GetX(ctx, msg.ID)
				if row.Status != smsmessage.StatusFailed || !strings.Contains(row.LastError, code) || len(failed) != 1 || failed[0] != msg.ID {
					t.Fatalf("%s: row %s %q, hook saw %v", code, row.Status, row.LastError, failed)
				}
				last := stub.Requests()[len(stub.Requests())-1]
				// The reasons and the reviewer's message are not carrier
				// parameters: only the case number is.
				if v, _ := cc.param(last, 1, "case_number"); v != "ZH20260420000001" || len(last.Params) != 1 {
					t.Fatalf("%s: rejection parameters %v", code, last.Params)
				}
			}
			// The metrics saw each message once, when its fate was sealed;
			// a retry is not an outcome.
			want := map[string]int{"password true": 1, "submitted true": len(cc.retry), "rejected false": len(cc.final)}
			if fmt.Sprint(observed) != fmt.Sprint(want) {
				t.Fatalf("observed %v, want %v", observed, want)
			}
		})
	}
}

// TestACarrierDriverRefusesAMessageWithoutTemplate: a purpose with no
// template (serve refuses to start that way, so only an old row or a
// misconfigured test reaches it) fails for good without calling out.
func TestACarrierDriverRefusesAMessageWithoutTemplate(t *testing.T) {
	stub := carrierstub.New(t, carrierstub.Aliyun, "AKIDstub", carrierSecret)
	cfg := stub.Config()
	delete(cfg.Templates, vocab.PurposeUsername)
	sender, err := sms.NewAliyun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = sender.Send(context.Background(), sms.Outgoing{Key: "k", Phone: "13800000021", Purpose: vocab.PurposeUsername,
		Params: sms.CarrierParams(sms.Username("zhang_san01"))})
	if !errors.Is(err, sms.ErrRejected) || len(stub.Requests()) != 0 {
		t.Fatalf("Send = %v after %d requests", err, len(stub.Requests()))
	}
}

// TestTheStubCarriersCheckTheSignature: with a secret the carrier does not
// hold, each stub refuses the request (so the signature checks of the test
// above are real), and the driver reports the refusal without the secret.
func TestTheStubCarriersCheckTheSignature(t *testing.T) {
	for _, cc := range carriers {
		stub := carrierstub.New(t, cc.carrier, "AKIDstub", carrierSecret)
		cfg := stub.Config()
		cfg.Secret = "another-secret-0123456789abcdef"
		sender, err := cc.build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = sender.Send(context.Background(), sms.Outgoing{Key: "k", Phone: "13800000021", Purpose: vocab.PurposeUsername,
			Params: sms.CarrierParams(sms.Username("zhang_san01"))})
		reqs := stub.Requests()
		if !errors.Is(err, sms.ErrRejected) || len(reqs) != 1 || reqs[0].Signed || strings.Contains(err.Error(), cfg.Secret) {
			t.Fatalf("%s: Send = %v, requests %+v", cc.carrier, err, reqs)
		}
	}
}
