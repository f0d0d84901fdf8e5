package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/ent/smsmessage"
	"recoverydesk/internal/secret"
)

// A message about a case that failed for good shows on the case page and in
// the supervisors' list; a supervisor of the region resends it from the case
// page (a reviewer cannot), the same text reaches the phone, and the resend
// is audited. A second resend of the requeued message is refused.
func TestASupervisorResendsAFailedMessageWithTheSameText(t *testing.T) {
	s := recoveryFixture(t)
	number := submittedCase(t, s)
	ctx := context.Background()
	rc := s.db.Ent.RecoveryCase.Query().Where(recoverycase.CaseNumber(number)).OnlyX(ctx)
	keys, err := secret.New(bytes.Repeat([]byte("t"), 32)) // the test server's key
	if err != nil {
		t.Fatal(err)
	}
	const text = "【广东人社】您的密码找回申请未通过审核（测试）。"
	msg := s.db.Ent.SMSMessage.Create().SetPhone("13800006666").SetPurpose("decision").SetRef("case:" + rc.ID.String()).
		SetTextSealed(keys.Seal([]byte(text))).SetStatus(smsmessage.StatusFailed).SetSendCount(3).
		SetLastError("sms gateway answered 400: sms gateway refused the message").SetDeliveryKey("key-1").SaveX(ctx)

	rev := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	sup := staffClient(t, s, "jm_super", "supervisor", "4407")
	other := staffClient(t, s, "gz_super", "supervisor", "4401")
	marker := fmt.Sprintf(`data-sms-failed data-message-id="%d"`, msg.ID)
	resend := `action="/console/cases/` + number + `/sms/resend"`
	if _, page := rev.get(t, "/console/cases/"+number); !strings.Contains(page, marker) || strings.Contains(page, resend) {
		t.Fatal("a reviewer should see the failed message but no resend form")
	}
	_, page := sup.get(t, "/console/cases/"+number)
	if !strings.Contains(page, marker) || !strings.Contains(page, resend) || !strings.Contains(page, "短信发送失败，已停止重试") {
		t.Fatalf("the supervisor's case page lacks the failed message or its resend form:\n%.2000s", page)
	}
	if _, list := sup.get(t, "/console/sms/failed"); !strings.Contains(list, number) || !strings.Contains(list, "138****6666") || strings.Contains(list, "13800006666") {
		t.Fatalf("the supervisors' list should name the case and mask the phone:\n%.2000s", list)
	}
	if _, list := other.get(t, "/console/sms/failed"); strings.Contains(list, number) {
		t.Fatal("another region's supervisor sees the message")
	}
	if resp, _ := other.post(t, "/console/cases/"+number+"/sms/resend", url.Values{"message_id": {fmt.Sprint(msg.ID)}}); resp.StatusCode != 404 {
		t.Fatalf("a resend from another region: %d, want 404", resp.StatusCode)
	}

	resp, body := sup.post(t, "/console/cases/"+number+"/sms/resend", url.Values{"message_id": {fmt.Sprint(msg.ID)}})
	if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "resent=1") {
		t.Fatalf("resend: %d %.300s", resp.StatusCode, body)
	}
	if got := s.waitSMS(t, "13800006666", "测试"); got != text {
		t.Fatalf("the phone got %q, want the same text %q", got, text)
	}
	deadline := time.Now().Add(10 * time.Second)
	row := s.db.Ent.SMSMessage.GetX(ctx, msg.ID)
	for row.Status != smsmessage.StatusSent && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		row = s.db.Ent.SMSMessage.GetX(ctx, msg.ID)
	}
	if row.Status != smsmessage.StatusSent || row.Resends != 1 || row.DeliveryKey != "key-1-r1" {
		t.Fatalf("after the resend: %s, resends %d, key %q", row.Status, row.Resends, row.DeliveryKey)
	}
	if n := s.db.Ent.AuditEvent.Query().Where(auditevent.Action("recovery.sms_resent"), auditevent.Actor("jm_super")).CountX(ctx); n != 1 {
		t.Fatalf("%d audit entries of the resend", n)
	}
	resp, body = sup.post(t, "/console/cases/"+number+"/sms/resend", url.Values{"message_id": {fmt.Sprint(msg.ID)}})
	if resp.StatusCode != 409 || !strings.Contains(body, "未处于发送失败状态") {
		t.Fatalf("a resend of a sent message: %d %.300s", resp.StatusCode, body)
	}
}
