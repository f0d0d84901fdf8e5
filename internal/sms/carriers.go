package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	dysms "github.com/alibabacloud-go/dysmsapi-20170525/v4/client"
	teautil "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tcsms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"

	"recoverydesk/internal/vocab"
)

// A carrier (阿里云短信, 腾讯云短信) sends only pre-approved templates under
// a pre-approved signature: its driver sends the template of the message's
// purpose and the message's carrier parameters (CarrierParams), never text.
// Each driver maps the carrier's answer to accepted (nil), worth another
// try (a plain error: throttling, the carrier's own fault, a timeout) or
// refused for good (ErrRejected: a bad number, a template or signature the
// carrier does not know). Neither SDK retries by itself here: the courier
// does, with the same key, inside RD_SMS_RETRY_FOR.

// CarrierConfig is what a carrier driver needs (README: RD_SMS_*).
type CarrierConfig struct {
	// KeyID and Secret are the account's API credentials (Aliyun
	// AccessKey ID/secret, Tencent SecretId/SecretKey). Never logged.
	KeyID  string
	Secret string
	// AppID is Tencent's SmsSdkAppId (unused by Aliyun).
	AppID    string
	SignName string
	Region   string
	// Endpoint is the API's host[:port]; Scheme "https" (default) or
	// "http" (a gateway on an intranet, or a test's stub).
	Endpoint string
	Scheme   string
	// Templates is the approved template of each purpose.
	Templates map[vocab.Purpose]string
}

// template is the template of m's purpose, or a refusal: a message whose
// purpose has no template, or that carries no parameters (queued before
// messages had them), cannot be sent by a carrier, now or later.
func (c CarrierConfig) template(m Outgoing) (string, error) {
	tpl := c.Templates[m.Purpose]
	if tpl == "" {
		return "", fmt.Errorf("no carrier template for purpose %s: %w", m.Purpose, ErrRejected)
	}
	if m.Params == nil {
		return "", fmt.Errorf("message has no template parameters: %w", ErrRejected)
	}
	return tpl, nil
}

// AliyunSender sends through Alibaba Cloud SMS (dysmsapi SendSms) with
// OutId = the message's delivery key.
type AliyunSender struct {
	cfg    CarrierConfig
	client *dysms.Client
}

// NewAliyun builds the Aliyun driver.
func NewAliyun(cfg CarrierConfig) (*AliyunSender, error) {
	cfg = cfg.withDefaults("dysmsapi.aliyuncs.com", "cn-hangzhou")
	oc := &openapi.Config{AccessKeyId: tea.String(cfg.KeyID), AccessKeySecret: tea.String(cfg.Secret),
		Endpoint: tea.String(cfg.Endpoint), RegionId: tea.String(cfg.Region), Protocol: tea.String(cfg.Scheme)}
	client, err := dysms.NewClient(oc)
	if err != nil {
		return nil, fmt.Errorf("aliyun sms client: %w", err)
	}
	return &AliyunSender{cfg: cfg, client: client}, nil
}

// Send sends m's template with its parameters as TemplateParam JSON.
func (a *AliyunSender) Send(ctx context.Context, m Outgoing) error {
	tpl, err := a.cfg.template(m)
	if err != nil {
		return err
	}
	params := make(map[string]string, len(m.Params))
	for _, p := range m.Params {
		params[p.Name] = p.Value
	}
	tp, _ := json.Marshal(params)
	req := &dysms.SendSmsRequest{PhoneNumbers: tea.String(m.Phone), SignName: tea.String(a.cfg.SignName),
		TemplateCode: tea.String(tpl), TemplateParam: tea.String(string(tp)), OutId: tea.String(m.Key)}
	// The SDK takes no context: its own timeouts end the call at the
	// courier's deadline, and the select below returns at it regardless.
	ms := remainingMillis(ctx)
	rt := &teautil.RuntimeOptions{Autoretry: tea.Bool(false), ReadTimeout: tea.Int(ms), ConnectTimeout: tea.Int(ms)}
	type answer struct {
		resp *dysms.SendSmsResponse
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := a.client.SendSmsWithOptions(req, rt)
		done <- answer{resp, err}
	}()
	select {
	case <-ctx.Done():
		return fmt.Errorf("aliyun sms: no answer in time: %w", ctx.Err())
	case ans := <-done:
		return aliyunOutcome(ans.resp, ans.err)
	}
}

// aliyunRetry are Aliyun's answers that another try may get past: its
// throttles, its own faults, an account to be topped up. isp.* (the
// carrier's system) and Throttling* retry too.
var aliyunRetry = map[string]bool{
	"isv.BUSINESS_LIMIT_CONTROL": true, "isv.DAY_LIMIT_CONTROL": true, "isv.AMOUNT_NOT_ENOUGH": true,
	"isv.OUT_OF_SERVICE": true, "SignatureNonceUsed": true, "ServiceUnavailable": true, "InternalError": true,
}

// aliyunOutcome maps Aliyun's answer. The SDK's error text is never kept:
// for a broken connection it holds the request URL, whose query carries
// the AccessKeyId and the signature, and last_error is shown to staff.
func aliyunOutcome(resp *dysms.SendSmsResponse, err error) error {
	if err != nil {
		var se *tea.SDKError
		if errors.As(err, &se) && tea.StringValue(se.Code) != "" {
			return classify("aliyun", tea.StringValue(se.Code), tea.IntValue(se.StatusCode), aliyunRetryable)
		}
		return fmt.Errorf("aliyun sms unreachable: %s", netCause(err))
	}
	if resp == nil || resp.Body == nil {
		return errors.New("aliyun sms: empty answer")
	}
	code := tea.StringValue(resp.Body.Code)
	if code == "OK" {
		return nil
	}
	return classify("aliyun", code, int(tea.Int32Value(resp.StatusCode)), aliyunRetryable)
}

func aliyunRetryable(code string) bool {
	return aliyunRetry[code] || strings.HasPrefix(code, "isp.") || strings.HasPrefix(code, "Throttling")
}

// TencentSender sends through Tencent Cloud SMS (sms 2021-01-11 SendSms)
// with SessionContext = the message's delivery key.
type TencentSender struct {
	cfg    CarrierConfig
	client *tcsms.Client
}

// NewTencent builds the Tencent driver.
func NewTencent(cfg CarrierConfig) (*TencentSender, error) {
	cfg = cfg.withDefaults("sms.tencentcloudapi.com", "ap-guangzhou")
	cp := profile.NewClientProfile()
	cp.HttpProfile.Endpoint = cfg.Endpoint
	cp.HttpProfile.Scheme = cfg.Scheme
	client, err := tcsms.NewClient(tccommon.NewCredential(cfg.KeyID, cfg.Secret), cfg.Region, cp)
	if err != nil {
		return nil, fmt.Errorf("tencent sms client: %w", err)
	}
	return &TencentSender{cfg: cfg, client: client}, nil
}

// Send sends m's template with its parameters in the template's order.
func (t *TencentSender) Send(ctx context.Context, m Outgoing) error {
	tpl, err := t.cfg.template(m)
	if err != nil {
		return err
	}
	req := tcsms.NewSendSmsRequest()
	req.PhoneNumberSet = []*string{tccommon.StringPtr("+86" + m.Phone)}
	req.SmsSdkAppId = tccommon.StringPtr(t.cfg.AppID)
	req.SignName = tccommon.StringPtr(t.cfg.SignName)
	req.TemplateId = tccommon.StringPtr(tpl)
	req.SessionContext = tccommon.StringPtr(m.Key)
	for _, p := range m.Params {
		req.TemplateParamSet = append(req.TemplateParamSet, tccommon.StringPtr(p.Value))
	}
	resp, err := t.client.SendSmsWithContext(ctx, req)
	return tencentOutcome(resp, err)
}

// tencentStatus reads "http status code: 502" out of the SDK's error for a
// non-200 answer, the only place it keeps the status.
var tencentStatus = regexp.MustCompile(`http status code: (\d{3})`)

// tencentOutcome maps Tencent's answer: an API error (the whole request
// refused) or the one number's send status.
func tencentOutcome(resp *tcsms.SendSmsResponse, err error) error {
	if err != nil {
		var se *tcerr.TencentCloudSDKError
		if !errors.As(err, &se) {
			return fmt.Errorf("tencent sms unreachable: %s", netCause(err))
		}
		switch code := se.GetCode(); code {
		case "ClientError.NetworkError":
			return errors.New("tencent sms unreachable")
		case "ClientError.HttpStatusCodeError":
			status := 0
			if m := tencentStatus.FindStringSubmatch(se.GetMessage()); m != nil {
				status, _ = strconv.Atoi(m[1])
			}
			return classify("tencent", code, status, func(string) bool { return false })
		default:
			return classify("tencent", code, 200, tencentRetryable)
		}
	}
	if resp == nil || resp.Response == nil || len(resp.Response.SendStatusSet) == 0 {
		return errors.New("tencent sms: empty answer")
	}
	code := ""
	if st := resp.Response.SendStatusSet[0]; st != nil && st.Code != nil {
		code = *st.Code
	}
	if code == "Ok" {
		return nil
	}
	return classify("tencent", code, 200, tencentRetryable)
}

func tencentRetryable(code string) bool {
	// ClientError.ParseJsonError is an answer that was not the API's JSON:
	// a proxy's error page in front of it.
	for _, p := range []string{"LimitExceeded.", "InternalError.", "RequestLimitExceeded", "ResourceUnavailable", "ClientError.NetworkError", "ClientError.ParseJsonError"} {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	return code == "InternalError" || code == "FailedOperation.InsufficientBalanceInSmsPackage"
}

// classify turns a carrier's refusal into a retry or a final refusal:
// codes the carrier documents as passing (retryable), an HTTP 429 or 5xx,
// retry; anything else — a bad number, template, signature or parameter,
// credentials it refuses — is final, and the supervisor's resend is the
// way back once the cause is fixed.
func classify(carrier, code string, status int, retryable func(string) bool) error {
	if retryable(code) || status == 429 || status >= 500 {
		return fmt.Errorf("%s sms answered %s (HTTP %d)", carrier, code, status)
	}
	return fmt.Errorf("%s sms answered %s (HTTP %d): %w", carrier, code, status, ErrRejected)
}

// netCause names a connection failure without its URL.
func netCause(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "network error"
	}
	return "connection failed"
}

// remainingMillis is the time left before ctx's deadline, in milliseconds
// (at least one), or 30 s without a deadline.
func remainingMillis(ctx context.Context) int {
	d := 30 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	return max(int(d/time.Millisecond), 1)
}

// withDefaults fills what the operator left empty with the carrier's public
// API (endpoint, region) over HTTPS, and spells the scheme as both SDKs
// want it ("HTTPS").
func (c CarrierConfig) withDefaults(endpoint, region string) CarrierConfig {
	if c.Endpoint == "" {
		c.Endpoint = endpoint
	}
	if c.Region == "" {
		c.Region = region
	}
	if c.Scheme == "" {
		c.Scheme = "https"
	}
	c.Scheme = strings.ToUpper(c.Scheme)
	return c
}
