package handlers_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"recoverydesk/ent/evidence"
	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// A frozen object store (SIGSTOP of MinIO) costs an applicant's upload and a
// reviewer's evidence view one RD_S3_TIMEOUT, then a 503 storage_unavailable
// they can read — JSON for the API, the Chinese error page in the console —
// and leaves nothing half-written; once the store runs again both work
// without a restart of ours.
func TestFrozenStoreAnswersStorageUnavailable(t *testing.T) {
	const timeout, slack = 2 * time.Second, 2 * time.Second
	srv, base := testenv.OwnMinIO(t)
	cfg := srv.Config(base.Bucket())
	cfg.Timeout = timeout
	store, err := storage.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := recoveryFixture(t, withEvidence(store))
	ctx := context.Background()

	a := startUnit(t, s, nil)
	a.verifyPhone(t, "13800006666")
	kinds := []string{"id_front", "id_handheld", "unit_license", "authorization_letter"}
	for i, kind := range kinds[:3] {
		if resp, body := a.upload(t, kind, jpegBytes(t, photo(400, 300, uint64(20+i)))); resp.StatusCode != 201 {
			t.Fatalf("upload %s: %d %s", kind, resp.StatusCode, body)
		}
	}

	resume := freezeMinIO(t, srv)
	start := time.Now()
	resp, body := a.upload(t, kinds[3], jpegBytes(t, photo(400, 300, 23)))
	took := time.Since(start)
	e := decodeError(t, body)
	if resp.StatusCode != 503 || e.Error.Code != "storage_unavailable" || !strings.Contains(e.Error.Message, "存储服务") ||
		e.Error.TraceID != resp.Header.Get("X-Request-Id") {
		t.Fatalf("upload to a frozen store: %d %s", resp.StatusCode, body)
	}
	if took > timeout+slack {
		t.Fatalf("upload to a frozen store answered after %v, want within %v", took, timeout+slack)
	}
	t.Logf("upload to a frozen store: 503 after %v", took.Round(time.Millisecond))
	rows := s.db.Ent.Evidence.Query().Where(evidence.HasCaseWith(recoverycase.ID(mustUUID(t, a.id)))).AllX(ctx)
	if len(rows) != 3 {
		t.Fatalf("%d evidence rows after the failed upload, want the 3 stored before", len(rows))
	}
	resume()
	for _, row := range rows {
		if _, err := store.Stat(ctx, row.ObjectKey); err != nil {
			t.Fatalf("evidence row %s points at a missing object: %v", row.Kind, err)
		}
	}

	// Resumed, the same upload works, and the case can be submitted.
	if resp, body := a.upload(t, kinds[3], jpegBytes(t, photo(400, 300, 23))); resp.StatusCode != 201 {
		t.Fatalf("upload after SIGCONT: %d %s", resp.StatusCode, body)
	}
	resp, body = a.req(t, "POST", "/submit", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("submit: %d %s", resp.StatusCode, body)
	}
	var submitted struct {
		CaseNumber string `json:"case_number"`
	}
	mustJSON(t, body, &submitted)

	jm := staffClient(t, s, "jm_reviewer", "reviewer", "4407")
	path := "/console/cases/" + submitted.CaseNumber + "/evidence/id_front"
	if resp, _ := jm.get(t, path); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("evidence view: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resume = freezeMinIO(t, srv)
	start = time.Now()
	resp, body = jm.get(t, path)
	took = time.Since(start)
	if resp.StatusCode != 503 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, "证件照存储服务暂时无法访问") || !strings.Contains(body, resp.Header.Get("X-Request-Id")) {
		t.Fatalf("evidence view of a frozen store: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if took > timeout+slack {
		t.Fatalf("evidence view of a frozen store answered after %v, want within %v", took, timeout+slack)
	}
	t.Logf("evidence view of a frozen store: 503 after %v", took.Round(time.Millisecond))
	resume()
	if resp, _ := jm.get(t, path); resp.StatusCode != 200 {
		t.Fatalf("evidence view after SIGCONT: %d", resp.StatusCode)
	}
}

// freezeMinIO stops the MinIO process with SIGSTOP and returns the function
// that resumes it (also run when the test ends).
func freezeMinIO(t *testing.T, srv *storage.LocalServer) (resume func()) {
	t.Helper()
	return testenv.Freeze(t, srv.PID())
}

// The bundled MinIO killed with kill -9 is restarted by its supervisor;
// until it is back /readyz answers 503 naming minio, and it is back within
// 10 s.
func TestReadinessNamesMinIOUntilTheKilledServerIsBack(t *testing.T) {
	srv, store := testenv.OwnMinIO(t)
	s := newTestServer(t, withEvidence(store))
	if resp, body := s.get(t, "/readyz"); resp.StatusCode != 200 {
		t.Fatalf("ready: %d %s", resp.StatusCode, body)
	}
	pid := srv.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for syscall.Kill(pid, 0) == nil { // until the supervisor has reaped it
		time.Sleep(10 * time.Millisecond)
	}
	resp, body := s.get(t, "/readyz")
	if resp.StatusCode != 503 || !strings.Contains(body, `"down":["minio"]`) {
		t.Fatalf("readyz right after kill -9 of MinIO: %d %s", resp.StatusCode, body)
	}
	for {
		resp, body = s.get(t, "/readyz")
		if resp.StatusCode == 200 {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("not ready 10 s after kill -9 of MinIO: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("ready again %v after kill -9", time.Since(killed).Round(time.Millisecond))
	// The supervisor's own readiness poll may notice a moment later.
	for deadline := time.Now().Add(time.Second); srv.Restarts() != 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Restarts() != 1 || srv.PID() == pid {
		t.Fatalf("ready again with %d restarts, pid %d (was %d); want one restart, a new process", srv.Restarts(), srv.PID(), pid)
	}
}
