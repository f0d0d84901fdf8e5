//go:build faults

package faults

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
)

// evidenceView is a console evidence view: status, body, time taken.
func evidenceView(s *staffSession, number string) (int, string, time.Duration, error) {
	req, _ := http.NewRequest(http.MethodGet, s.base+"/console/cases/"+number+"/evidence/id_front", nil)
	t0 := time.Now()
	status, body, err := s.do(req)
	return status, body, time.Since(t0), err
}

// A frozen MinIO (SIGSTOP) during uploads and evidence views: both answer
// 503 storage_unavailable within RD_S3_TIMEOUT + 2 s; after SIGCONT both
// work again without a restart.
func TestMinIOFrozen(t *testing.T) {
	t.Parallel()
	const s3Timeout = 3 * time.Second
	store, err := startMinIO(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.stop)
	env := store.env("faults-frozen")
	env["RD_S3_TIMEOUT"] = s3Timeout.String()
	sc := newScenario(t, env)
	a, b := sc.registerApplicant(1), sc.registerApplicant(2)
	sc.afterCodes()
	viewed := sc.submitCase(a)     // a case with evidence to view
	uploader := sc.openRecovery(b) // an applicant at the upload step
	sup := sc.signIn(supervisorName)
	sup.get("/console/cases/" + viewed.number)
	if status, _, _, err := evidenceView(sup, viewed.number); err != nil || status != http.StatusOK {
		t.Fatalf("evidence view before the fault: %d %v", status, err)
	}

	thaw := testenv.Freeze(t, store.pid())
	frozenAt := time.Now()
	limit := s3Timeout + 2*time.Second
	var wg sync.WaitGroup
	var uploadTook, viewTook time.Duration
	wg.Add(2)
	go func() {
		defer wg.Done()
		status, body, took, err := uploader.upload("id_front", evidenceImage())
		uploadTook = took
		if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, `"storage_unavailable"`) {
			t.Errorf("upload with MinIO frozen: %d %v %.300s; want 503 storage_unavailable", status, err, body)
		}
		if took > limit {
			t.Errorf("upload with MinIO frozen took %s, want at most RD_S3_TIMEOUT + 2 s = %s", took.Round(time.Millisecond), limit)
		}
	}()
	go func() {
		defer wg.Done()
		status, body, took, err := evidenceView(sup, viewed.number)
		viewTook = took
		if err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("evidence view with MinIO frozen: %d %v; want 503", status, err)
		}
		if !strings.Contains(body, "storage_unavailable") && !hasHan(body) {
			t.Errorf("evidence view with MinIO frozen: the 503 page names nothing: %.300s", body)
		}
		if took > limit {
			t.Errorf("evidence view with MinIO frozen took %s, want at most %s", took.Round(time.Millisecond), limit)
		}
	}()
	wg.Wait()
	ready := -1
	if resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(sc.srv.base + "/readyz"); err == nil {
		ready = resp.StatusCode
		resp.Body.Close()
	}
	thaw()
	thawedAt := time.Now()
	// Everything works again, without a restart.
	var upStatus, viewStatus int
	recovered := eventually(20*time.Second, func() bool {
		if upStatus != http.StatusCreated {
			upStatus, _, _, _ = uploader.upload("id_front", evidenceImage())
		}
		if viewStatus != http.StatusOK {
			viewStatus, _, _, _ = evidenceView(sup, viewed.number)
		}
		return upStatus == http.StatusCreated && viewStatus == http.StatusOK
	})
	if recovered < 0 {
		t.Fatalf("20 s after SIGCONT: upload %d, evidence view %d; want 201 and 200 without a restart", upStatus, viewStatus)
	}
	if status, body, _, err := uploader.upload("id_handheld", evidenceImage()); err != nil || status != http.StatusCreated {
		t.Fatalf("second upload after SIGCONT: %d %v %.200s", status, err, body)
	}
	var sub struct {
		CaseNumber string `json:"case_number"`
	}
	uploader.c.api(http.MethodPost, "/api/v1/recoveries/"+uploader.id+"/submit", uploader.token, nil, http.StatusOK, &sub)
	uploader.number = sub.CaseNumber
	t.Logf("FIGURES MinIO SIGSTOP: upload 503 in %s, evidence view 503 in %s (limit %s), /readyz %d while frozen (frozen %s in all); working again %s after SIGCONT",
		uploadTook.Round(time.Millisecond), viewTook.Round(time.Millisecond), limit, ready, thawedAt.Sub(frozenAt).Round(100*time.Millisecond),
		recovered.Round(100*time.Millisecond))
	sc.finish([]*recoveryCase{viewed, uploader}, "submitted")
}

func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}

// bundledMinIO finds the MinIO process serve started: its child running bin/minio.
func bundledMinIO(t *testing.T, parent int) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.Contains(string(cmdline), "minio") {
			return pid
		}
	}
	return 0
}

// The bundled MinIO killed with kill -9 is restarted: /readyz answers 200
// again and evidence is served within 10 s, without restarting serve.
func TestBundledMinIOKilled(t *testing.T) {
	t.Parallel()
	sc := newScenario(t, map[string]string{"RD_S3_ENDPOINT": ""})
	a := sc.registerApplicant(1)
	sc.afterCodes()
	r := sc.submitCase(a)
	sup := sc.signIn(supervisorName)
	sup.get("/console/cases/" + r.number)
	if status, _, _, err := evidenceView(sup, r.number); err != nil || status != http.StatusOK {
		t.Fatalf("evidence view before the fault: %d %v", status, err)
	}
	old := bundledMinIO(t, sc.srv.pid())
	if old == 0 {
		t.Fatal("no bundled MinIO child process of serve")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	client := &http.Client{Timeout: 2 * time.Second}
	sawDown := false
	back := eventually(30*time.Second, func() bool {
		resp, err := client.Get(sc.srv.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			sawDown = true
			return false
		}
		status, _, _, err := evidenceView(sup, r.number)
		return err == nil && status == http.StatusOK
	})
	if back < 0 {
		t.Fatalf("the bundled MinIO is not back 30 s after kill -9 (readyz went 503: %v)", sawDown)
	}
	back = time.Since(killedAt)
	if back > 10*time.Second {
		t.Errorf("the bundled MinIO came back %s after kill -9, want within 10 s", back.Round(100*time.Millisecond))
	}
	if sc.srv.exited() {
		t.Fatal("serve exited when its MinIO died")
	}
	now := bundledMinIO(t, sc.srv.pid())
	t.Logf("FIGURES bundled MinIO kill -9: pid %d → %d, /readyz reported it down: %v, back (readyz 200 and evidence served) %s after the kill",
		old, now, sawDown, back.Round(100*time.Millisecond))
	sc.finish([]*recoveryCase{r}, "submitted")
}
