package storage_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// startLocal starts a server on dir and stops it when the test ends.
func startLocal(t *testing.T, bin, dir string) *storage.LocalServer {
	t.Helper()
	srv, err := storage.StartLocal(t.Context(), storage.LocalOptions{Binary: bin, DataDir: dir})
	if err != nil {
		t.Fatalf("StartLocal: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	return srv
}

func TestLocalServerStopAndRestartOnSameData(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	dir := filepath.Join(t.TempDir(), "minio")
	ctx := t.Context()

	first := startLocal(t, bin, dir)
	s, err := storage.New(ctx, first.Config("evidence"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	data := []byte("kept across restarts")
	if err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), sum(data), "text/plain"); err != nil {
		t.Fatalf("Put: %v", err)
	}

	pid := first.PID()
	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("after Stop, kill(%d, 0) = %v, want ESRCH (process gone)", pid, err)
	}
	select {
	case <-first.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if err := first.Stop(); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}

	fi, err := os.Stat(filepath.Join(dir, "credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	second := startLocal(t, bin, dir)
	if second.AccessKey != first.AccessKey || second.SecretKey != first.SecretKey {
		t.Error("restart generated new credentials; they must persist")
	}
	s2, err := storage.New(ctx, second.Config("evidence"))
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	if info, err := s2.Stat(ctx, "k"); err != nil || info.SHA256 != sum(data) {
		t.Fatalf("object after restart: %+v, %v", info, err)
	}
}

func TestLocalServerMissingBinary(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "bin", "minio")
	_, err := storage.StartLocal(t.Context(), storage.LocalOptions{Binary: missing, DataDir: t.TempDir()})
	if !errors.Is(err, storage.ErrNoBinary) {
		t.Fatalf("StartLocal error = %v, want ErrNoBinary", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "make bin/minio") || !strings.Contains(msg, missing) {
		t.Errorf("error %q should name the path and tell to run make bin/minio", msg)
	}
}

func TestLocalServerRequiresDataDir(t *testing.T) {
	t.Parallel()
	_, err := storage.StartLocal(t.Context(), storage.LocalOptions{Binary: "/bin/true"})
	if err == nil {
		t.Fatal("StartLocal without DataDir succeeded")
	}
	if !strings.Contains(err.Error(), "DataDir is required") {
		t.Fatalf("StartLocal without DataDir: %v, want it to say DataDir is required", err)
	}
}

func TestLocalServerFailsWithOutputWhenServerDies(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "fake-minio")
	body := "#!/bin/sh\necho 'FATAL: cannot use this drive' >&2\nexit 1\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := storage.StartLocal(t.Context(), storage.LocalOptions{Binary: script, DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "cannot use this drive") {
		t.Fatalf("StartLocal error = %v, want one quoting the server's output", err)
	}
}

func TestFindBinary(t *testing.T) {
	t.Setenv(storage.EnvMinIOBinary, "/opt/minio/minio")
	if got, err := storage.FindBinary(); err != nil || got != "/opt/minio/minio" {
		t.Errorf("FindBinary with %s = %q, %v", storage.EnvMinIOBinary, got, err)
	}
	t.Setenv(storage.EnvMinIOBinary, "")
	got, err := storage.FindBinary()
	if err != nil {
		t.Fatalf("FindBinary: %v", err)
	}
	root, _ := filepath.Abs("..") // this package sits one level below go.mod
	if got != filepath.Join(root, "bin", "minio") {
		t.Errorf("FindBinary = %q, want %q", got, filepath.Join(root, "bin", "minio"))
	}
}

// envHelper makes the test binary act as a process that starts a server
// and then hangs, for TestLocalServerDiesWithItsParent.
const envHelper = "RD_TEST_MINIO_HELPER_DIR"

func TestLocalServerDiesWithItsParent(t *testing.T) {
	if dir := os.Getenv(envHelper); dir != "" {
		srv, err := storage.StartLocal(t.Context(), storage.LocalOptions{DataDir: dir})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("pid:", srv.PID())
		select {} // wait to be killed
	}
	t.Parallel()
	bin := testenv.MinIOBinary(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestLocalServerDiesWithItsParent$")
	cmd.Env = append(os.Environ(), envHelper+"="+t.TempDir(), storage.EnvMinIOBinary+"="+bin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	var pid int
	line, _ := bufio.NewReader(out).ReadString('\n')
	if _, err := fmt.Sscanf(line, "pid: %d", &pid); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("helper said %q, want its server's pid", line)
	}

	_ = cmd.Process.Kill() // SIGKILL: no chance to stop the server itself
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("minio %d outlived its killed parent", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive tells whether pid runs; a zombie waiting for init to reap it is dead.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}
