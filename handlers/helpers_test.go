package handlers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"recoverydesk/ent/smsmessage"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"recoverydesk/internal/accounts"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
)

// idNumber and uscc complete test numbers with their check characters.
var (
	idNumber = rules.CompleteIDNumber
	uscc     = rules.CompleteUSCC
)

// waitSMS waits for a delivered message to phone containing want and returns
// its text.
func (s *testServer) waitSMS(t testing.TB, phone, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := s.outbox.Messages(context.Background(), phone, 50)
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

// newSMS runs send and returns the text of the message it caused to phone:
// it waits until the outbox holds one more message for phone than before.
func (s *testServer) newSMS(t testing.TB, phone string, send func()) string {
	t.Helper()
	ctx := context.Background()
	// A message queued earlier (the confirmation of a submission) and still
	// on its way must not pass for the one send causes.
	for settle := time.Now().Add(5 * time.Second); time.Now().Before(settle); time.Sleep(20 * time.Millisecond) {
		if s.db.Ent.SMSMessage.Query().Where(smsmessage.PhoneHmacIn(s.db.Lookups(phone)...), smsmessage.StatusEQ(smsmessage.StatusQueued)).CountX(ctx) == 0 {
			break
		}
	}
	before, err := s.outbox.Messages(ctx, phone, 1000)
	if err != nil {
		t.Fatal(err)
	}
	send()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := s.outbox.Messages(ctx, phone, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > len(before) {
			return msgs[0].Text
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("no new SMS to %s", phone)
	return ""
}

var sixDigits = regexp.MustCompile(`验证码为(\d{6})`)

// codeFor requests a registration code for phone and reads it from the outbox.
func (s *testServer) codeFor(t testing.TB, phone string) string {
	t.Helper()
	text := s.newSMS(t, phone, func() {
		resp, body := s.postJSON(t, "/api/v1/sms/codes", fmt.Sprintf(`{"phone":%q,"purpose":"register"}`, phone))
		if resp.StatusCode != 202 {
			t.Fatalf("send code: %d %s", resp.StatusCode, body)
		}
	})
	return sixDigits.FindStringSubmatch(text)[1]
}

// person creates a verified person account directly through the service.
func (s *testServer) person(t testing.TB, username, password, name, id, phone string) {
	t.Helper()
	_, err := s.accounts.CreateVerifiedPerson(context.Background(), accounts.PersonRegistration{
		Username: username, Password: password, Name: name, IDNumber: id, Phone: phone,
	})
	if err != nil {
		t.Fatalf("create person %s: %v", username, err)
	}
}

// jsonBody marshals v.
func jsonBody(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errorExtra decodes the error envelope into a generic map.
func errorExtra(t testing.TB, body string) map[string]any {
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

func mustJSON(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

func mustUUID(t testing.TB, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// wrongCode returns a six-digit code that differs from code.
func wrongCode(code string) string {
	return fmt.Sprintf("%06d", (mustAtoi(code)+1)%1000000)
}
