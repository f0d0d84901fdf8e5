// Package carrierstub is the far end of the carrier SMS drivers for tests:
// a loopback HTTP server that speaks enough of Alibaba Cloud's dysmsapi
// SendSms (signature V3, ACS3-HMAC-SHA256, which its current SDK uses) and Tencent Cloud's sms
// 2021-01-11 SendSms (TC3-HMAC-SHA256) for the real SDKs to talk to it. It
// checks each request's signature with the account's secret, records what
// the carrier would read (template, parameters, the idempotency key) and
// answers with scripted codes. It is the only fake in the SMS tests: the
// drivers and the SDKs under them are the production code.
package carrierstub

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/internal/sms"
	"recoverydesk/internal/vocab"
)

// Request is one SendSms as the carrier read it.
type Request struct {
	Phone    string
	SignName string
	Template string
	// Key is Aliyun's OutId or Tencent's SessionContext: the message's
	// delivery key.
	Key string
	// Params are the template parameters: Aliyun's TemplateParam object,
	// or Tencent's TemplateParamSet by position ("1", "2", …).
	Params map[string]string
	// AppID is Tencent's SmsSdkAppId.
	AppID string
	// Signed is true when the request carried the SDK's signature
	// (Authorization: ACS3-HMAC-SHA256 … for Aliyun, TC3-HMAC-SHA256 … for
	// Tencent) and it matched the account's secret.
	Signed bool
	// Auth is the signature material as sent, for a test to show.
	Auth string
}

// Stub is a carrier on loopback.
type Stub struct {
	server  *httptest.Server
	keyID   string
	secret  string
	mu      sync.Mutex
	answers []string
	reqs    []Request
}

// Carrier names the two carriers.
type Carrier string

// The carriers the stub speaks.
const (
	Aliyun  Carrier = "aliyun"
	Tencent Carrier = "tencent"
)

// New starts a stub of carrier for an account with keyID and secret; it
// stops when t ends.
func New(t testing.TB, carrier Carrier, keyID, secret string) *Stub {
	s := &Stub{keyID: keyID, secret: secret}
	h := s.aliyun
	if carrier == Tencent {
		h = s.tencent
	}
	s.server = httptest.NewServer(http.HandlerFunc(h))
	t.Cleanup(s.server.Close)
	return s
}

// Answer scripts the next answers, one code per request ("OK" / "Ok" when
// none is left; "http:503" answers that HTTP status).
func (s *Stub) Answer(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, codes...)
}

// Requests is what the stub received, in order.
func (s *Stub) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Config is a driver configuration that reaches this stub, with a template
// for every purpose ("TPL_<purpose>").
func (s *Stub) Config() sms.CarrierConfig {
	tpl := map[vocab.Purpose]string{}
	for _, p := range vocab.Purposes {
		tpl[p] = "TPL_" + string(p)
	}
	return sms.CarrierConfig{KeyID: s.keyID, Secret: s.secret, AppID: "1400000001", SignName: "广东人社",
		Endpoint: strings.TrimPrefix(s.server.URL, "http://"), Scheme: "http", Templates: tpl}
}

func (s *Stub) next(r Request, def string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	if len(s.answers) == 0 {
		return def
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a
}

func (s *Stub) aliyun(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	got := Request{Phone: q.Get("PhoneNumbers"), SignName: q.Get("SignName"), Template: q.Get("TemplateCode"),
		Key: q.Get("OutId"), Auth: r.Header.Get("Authorization")}
	_ = json.Unmarshal([]byte(q.Get("TemplateParam")), &got.Params)
	got.Signed = r.Header.Get("X-Acs-Action") == "SendSms" && r.Header.Get("X-Acs-Version") == "2017-05-25" &&
		s.acs3Valid(r, q, body)
	code := s.next(got, "OK")
	w.Header().Set("Content-Type", "application/json")
	if !got.Signed {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation.","RequestId":"stub"}`)
		return
	}
	if st, ok := strings.CutPrefix(code, "http:"); ok {
		n, _ := strconv.Atoi(st)
		w.WriteHeader(n)
		_, _ = fmt.Fprintf(w, `{"Code":"ServiceUnavailable","Message":"stub %d","RequestId":"stub"}`, n)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"Code": code, "Message": code, "BizId": "stub-biz", "RequestId": "stub"})
}

// acs3Valid recomputes Alibaba Cloud's V3 signature of r: HMAC-SHA256 with
// the secret over "ACS3-HMAC-SHA256\n" + hex(sha256(canonical request)),
// the canonical request being the method, "/", the sorted percent-encoded
// query, the signed headers (host, x-acs-*) and the payload's hash.
func (s *Stub) acs3Valid(r *http.Request, q url.Values, body []byte) bool {
	fields, ok := authFields(r, "ACS3-HMAC-SHA256 ", ",")
	if !ok {
		return false
	}
	if fields["Credential"] != s.keyID || r.Header.Get("X-Acs-Content-Sha256") != sha256hex(body) {
		return false
	}
	parts := make([]string, 0, len(q))
	for _, k := range slices.Sorted(maps.Keys(q)) {
		parts = append(parts, k+"="+url.QueryEscape(q.Get(k)))
	}
	query := strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(strings.Join(parts, "&"))
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-acs-date") || !slices.Contains(signed, "x-acs-signature-nonce") {
		return false
	}
	headers := ""
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v = r.Host
		}
		headers += h + ":" + strings.TrimSpace(v) + "\n"
	}
	canonical := r.Method + "\n/\n" + query + "\n" + headers + "\n" + fields["SignedHeaders"] + "\n" + sha256hex(body)
	want := hex.EncodeToString(hmacSHA256([]byte(s.secret), "ACS3-HMAC-SHA256\n"+sha256hex([]byte(canonical))))
	return hmac.Equal([]byte(fields["Signature"]), []byte(want))
}

func (s *Stub) tencent(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in struct {
		PhoneNumberSet   []string
		SmsSdkAppId      string
		SignName         string
		TemplateId       string
		TemplateParamSet []string
		SessionContext   string
	}
	_ = json.Unmarshal(body, &in)
	got := Request{SignName: in.SignName, Template: in.TemplateId, Key: in.SessionContext, AppID: in.SmsSdkAppId,
		Params: map[string]string{}, Auth: r.Header.Get("Authorization")}
	if len(in.PhoneNumberSet) == 1 {
		got.Phone = in.PhoneNumberSet[0]
	}
	for i, v := range in.TemplateParamSet {
		got.Params[strconv.Itoa(i+1)] = v
	}
	got.Signed = r.Header.Get("X-TC-Action") == "SendSms" && r.Header.Get("X-TC-Version") == "2021-01-11" &&
		s.tc3Valid(r, body)
	code := s.next(got, "Ok")
	w.Header().Set("Content-Type", "application/json")
	reply := func(v any) { _ = json.NewEncoder(w).Encode(map[string]any{"Response": v}) }
	switch {
	case !got.Signed:
		reply(map[string]any{"Error": map[string]string{"Code": "AuthFailure.SignatureFailure", "Message": "signature"}, "RequestId": "stub"})
	case strings.HasPrefix(code, "http:"):
		n, _ := strconv.Atoi(strings.TrimPrefix(code, "http:"))
		w.WriteHeader(n)
		_, _ = io.WriteString(w, "upstream unavailable")
	case code == "Ok" || strings.HasPrefix(code, "LimitExceeded.") || strings.HasPrefix(code, "InvalidParameterValue.IncorrectPhoneNumber"):
		// The answer for the one number.
		reply(map[string]any{"SendStatusSet": []map[string]any{{"SerialNo": "stub", "PhoneNumber": got.Phone, "Fee": 1,
			"SessionContext": in.SessionContext, "Code": code, "Message": code, "IsoCode": "CN"}}, "RequestId": "stub"})
	default:
		// A refusal of the whole request.
		reply(map[string]any{"Error": map[string]string{"Code": code, "Message": code}, "RequestId": "stub"})
	}
}

// tc3Valid recomputes the TC3-HMAC-SHA256 signature of r (POST, signed
// headers content-type;host) with the secret and compares.
func (s *Stub) tc3Valid(r *http.Request, body []byte) bool {
	fields, ok := authFields(r, "TC3-HMAC-SHA256 ", ", ")
	if !ok {
		return false
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 4 || cred[0] != s.keyID || cred[2] != "sms" || fields["SignedHeaders"] != "content-type;host" {
		return false
	}
	ts := r.Header.Get("X-TC-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Unix(sec, 0).UTC().Format("2006-01-02") != cred[1] {
		return false
	}
	canonical := fmt.Sprintf("POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s",
		r.Header.Get("Content-Type"), r.Host, sha256hex(body))
	toSign := fmt.Sprintf("TC3-HMAC-SHA256\n%s\n%s/sms/tc3_request\n%s", ts, cred[1], sha256hex([]byte(canonical)))
	key := hmacSHA256([]byte("TC3"+s.secret), cred[1])
	key = hmacSHA256(key, "sms")
	key = hmacSHA256(key, "tc3_request")
	return hmac.Equal([]byte(fields["Signature"]), []byte(hex.EncodeToString(hmacSHA256(key, toSign))))
}

// authFields splits the Authorization header of r, "<algorithm> k=v<sep>k=v…"
// (both carriers' signatures put their credential, signed headers and
// signature there), into its fields; false when it is not of algorithm.
func authFields(r *http.Request, algorithm, sep string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), algorithm)
	if !ok {
		return nil, false
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, sep) {
		k, v, _ := strings.Cut(f, "=")
		fields[k] = v
	}
	return fields, true
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
