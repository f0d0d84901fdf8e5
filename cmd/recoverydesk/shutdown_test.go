package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
)

// freeAddr returns a loopback address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// SIGTERM drains instead of dropping: /readyz says 503 at once while
// requests are still served (each answer closing its connection, so
// keep-alive clients move on cleanly) for RD_SHUTDOWN_GRACE; then the
// listener closes and the process exits 0.
func TestSIGTERMDrainsGracefully(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "..", "bin", "minio")); err != nil {
		testenv.Missing(t, "bin/minio")
	}
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), "RD_TEST_AS_BINARY=1", "RD_ADDR="+addr, "RD_DATA_DIR="+t.TempDir(),
		"RD_SHUTDOWN_GRACE=3s", "RD_DEV=0", "RD_DATABASE_URL=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (*http.Response, error) {
		resp, err := client.Get("http://" + addr + path)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if resp, err := get("/readyz"); err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, err := get("/healthz"); err != nil || resp.Close {
		t.Fatalf("before SIGTERM a response keeps its connection: %v close=%v", err, resp != nil && resp.Close)
	}

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	resp, err := get("/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz right after SIGTERM = %v %v, want 503", resp, err)
	}
	// Still serving through the grace period, closing each connection.
	for time.Since(signalled) < 2500*time.Millisecond {
		resp, err := get("/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("a request %v into the grace period failed: %v %v", time.Since(signalled), resp, err)
		}
		if !resp.Close {
			t.Fatal("a response during the grace period did not close its connection")
		}
		time.Sleep(200 * time.Millisecond)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGTERM; stderr:\n%s", stderr.String())
	}
	if took := time.Since(signalled); took < 3*time.Second {
		t.Fatalf("exited %v after SIGTERM, before the 3 s grace ended", took)
	}
	if _, err := get("/healthz"); err == nil {
		t.Fatal("still answering after exit")
	}
}
