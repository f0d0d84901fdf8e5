package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// faultTimeout is the store timeout of the fault tests, and faultSlack what
// a failing call may take beyond it.
const (
	faultTimeout = 2 * time.Second
	faultSlack   = 2 * time.Second
)

// freeze stops the server's process with SIGSTOP, as a hung host would, and
// returns the function that resumes it (also run when the test ends).
func freeze(t *testing.T, srv *storage.LocalServer) (resume func()) {
	t.Helper()
	return testenv.Freeze(t, srv.PID())
}

// shortTimeoutStore is a Store on the same bucket as base with the fault
// tests' timeout.
func shortTimeoutStore(t *testing.T, srv *storage.LocalServer, base *storage.Store) *storage.Store {
	t.Helper()
	cfg := srv.Config(base.Bucket())
	cfg.Timeout = faultTimeout
	s, err := storage.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if s.Timeout() != faultTimeout {
		t.Fatalf("Timeout() = %v, want %v", s.Timeout(), faultTimeout)
	}
	return s
}

func TestFrozenServerFailsEveryCallWithinTheTimeoutThenRecovers(t *testing.T) {
	t.Parallel()
	srv, base := testenv.OwnMinIO(t)
	s := shortTimeoutStore(t, srv, base)
	ctx := t.Context()

	small := payload(50_000)
	if err := base.Put(ctx, "small", bytes.NewReader(small), int64(len(small)), sum(small), "image/png"); err != nil {
		t.Fatalf("Put small: %v", err)
	}
	// A body far larger than the socket buffers, so that a freeze mid-body
	// leaves most of it unsent.
	big := payload(48 << 20)
	if err := base.Put(ctx, "big", bytes.NewReader(big), int64(len(big)), sum(big), "application/octet-stream"); err != nil {
		t.Fatalf("Put big: %v", err)
	}
	body, _, err := s.Open(ctx, "big")
	if err != nil {
		t.Fatalf("Open big: %v", err)
	}
	defer body.Close()
	if _, err := io.ReadFull(body, make([]byte, 1<<20)); err != nil {
		t.Fatalf("read the first MiB: %v", err)
	}

	resume := freeze(t, srv)
	up := payload(200_000)
	calls := map[string]func() error{
		"Put": func() error {
			return s.Put(ctx, "during-freeze", bytes.NewReader(up), int64(len(up)), sum(up), "image/png")
		},
		"Open": func() error {
			rc, _, err := s.Open(ctx, "small")
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			return err
		},
		"Stat":   func() error { _, err := s.Stat(ctx, "small"); return err },
		"Delete": func() error { return s.Delete(ctx, "small") },
		"Ping":   func() error { return s.Ping(context.WithoutCancel(ctx)) },
		"List": func() error {
			for _, err := range s.List(ctx, "", time.Time{}) {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"read mid-body": func() error { _, err := io.Copy(io.Discard, body); return err },
	}
	type outcome struct {
		err  error
		took time.Duration
	}
	var mu sync.Mutex
	got := map[string]outcome{}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Go(func() {
			start := time.Now()
			err := call()
			mu.Lock()
			got[name] = outcome{err, time.Since(start)}
			mu.Unlock()
		})
	}
	wg.Wait()
	for name, o := range got {
		if !errors.Is(o.err, storage.ErrUnavailable) {
			t.Errorf("%s on a frozen server: %v, want ErrUnavailable", name, o.err)
		}
		if o.took > faultTimeout+faultSlack {
			t.Errorf("%s on a frozen server took %v, want at most %v", name, o.took, faultTimeout+faultSlack)
		}
		t.Logf("%s on a frozen server: %v after %v", name, o.err, o.took.Round(time.Millisecond))
	}

	// Resumed, the same Store works again at once: no connection stuck
	// behind the freeze is reused.
	resume()
	start := time.Now()
	again := payload(70_000)
	if err := s.Put(ctx, "after-freeze", bytes.NewReader(again), int64(len(again)), sum(again), "image/png"); err != nil {
		t.Fatalf("Put after SIGCONT: %v", err)
	}
	rc, info, err := s.Open(ctx, "after-freeze")
	if err != nil {
		t.Fatalf("Open after SIGCONT: %v", err)
	}
	read, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(read, again) || info.SHA256 != sum(again) {
		t.Fatalf("Open after SIGCONT read %d bytes, %v", len(read), err)
	}
	if _, err := s.Stat(ctx, "big"); err != nil {
		t.Fatalf("Stat after SIGCONT: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after SIGCONT: %v", err)
	}
	if took := time.Since(start); took > faultTimeout {
		t.Errorf("the calls after SIGCONT took %v; they should not wait for stuck connections", took)
	}
}

func TestCallsToAStoppedServerAreUnavailable(t *testing.T) {
	t.Parallel()
	srv, base := testenv.OwnMinIO(t)
	s := shortTimeoutStore(t, srv, base)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.Stat(t.Context(), "x"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Stat on a stopped server: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > faultTimeout+faultSlack {
		t.Fatalf("Stat on a stopped server took %v", took)
	}
}

func TestKilledLocalServerIsRestartedOnTheSameAddress(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	srv := startLocal(t, bin, filepath.Join(t.TempDir(), "minio"))
	ctx := t.Context()
	cfg := srv.Config("evidence")
	cfg.Timeout = faultTimeout
	s, err := storage.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	data := []byte("survives a crash of the server")
	if err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), sum(data), "text/plain"); err != nil {
		t.Fatalf("Put: %v", err)
	}

	first := srv.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for {
		// The new process may answer a moment before the supervisor's
		// readiness poll has seen it, so wait for both.
		if info, err := s.Stat(ctx, "k"); err == nil && info.SHA256 == sum(data) && srv.Restarts() == 1 {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("MinIO not back within 10 s of kill -9 (restarts %d)", srv.Restarts())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("back %v after kill -9", time.Since(killed).Round(time.Millisecond))
	if srv.PID() == first || srv.Restarts() != 1 {
		t.Fatalf("after the restart: pid %d (was %d), restarts %d; want a new process, 1 restart", srv.PID(), first, srv.Restarts())
	}
	select {
	case <-srv.Done():
		t.Fatal("Done closed by a crash; only Stop ends the server")
	default:
	}

	// A clean Stop ends it for good: nothing restarts it.
	second := srv.PID()
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(second) {
		t.Fatalf("minio %d still running after Stop", second)
	}
	time.Sleep(time.Second)
	if srv.Restarts() != 1 || srv.PID() != second {
		t.Fatalf("Stop was followed by a restart: pid %d, restarts %d", srv.PID(), srv.Restarts())
	}
	if err := s.Ping(ctx); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("Ping after Stop: %v, want ErrUnavailable", err)
	}
}
