package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/passhash"
)

// idNumber completes a 17-digit body with its GB 11643 check character.
func idNumber(body string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(body[i]-'0') * w
	}
	return body + string("10X98765432"[sum%11])
}

// uscc completes a 17-character body with its GB 32100 check character.
func uscc(body string) string {
	const chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	weights := []int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	sum := 0
	for i, w := range weights {
		sum += strings.IndexByte(chars, body[i]) * w
	}
	return body + string(chars[(31-sum%31)%31])
}

// waitSMS waits for a delivered message to phone containing want and returns
// its text.
func (s *testServer) waitSMS(t *testing.T, phone, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := s.courier.Outbox(context.Background(), phone, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if strings.Contains(m.Text, want) {
				return m.Text
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("no SMS to %s containing %q", phone, want)
	return ""
}

var sixDigits = regexp.MustCompile(`验证码为(\d{6})`)

// codeFor requests a registration code for phone and reads it from the outbox.
func (s *testServer) codeFor(t *testing.T, phone string) string {
	t.Helper()
	resp, body := s.postJSON(t, "/api/v1/sms/codes", fmt.Sprintf(`{"phone":%q,"purpose":"register"}`, phone))
	if resp.StatusCode != 202 {
		t.Fatalf("send code: %d %s", resp.StatusCode, body)
	}
	m := sixDigits.FindStringSubmatch(s.waitSMS(t, phone, "验证码为"))
	return m[1]
}

// person creates a verified person account directly through the service.
func (s *testServer) person(t *testing.T, username, password, name, id, phone string) {
	t.Helper()
	_, err := s.accounts.CreateVerifiedPerson(context.Background(), accounts.PersonRegistration{
		Username: username, Password: password, Name: name, IDNumber: id, Phone: phone,
	})
	if err != nil {
		t.Fatalf("create person %s: %v", username, err)
	}
}

// jsonBody marshals v.
func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errorExtra decodes the error envelope into a generic map.
func errorExtra(t *testing.T, body string) map[string]any {
	t.Helper()
	var m struct {
		Error map[string]any `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not an error envelope: %s", body)
	}
	return m.Error
}

func passhashTesting() passhash.Hasher { return passhash.Hasher{Params: passhash.Testing} }
