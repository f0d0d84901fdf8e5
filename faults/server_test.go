//go:build faults

package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// root is the repository root; binary the recoverydesk build under test.
var root, binary string

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	root = filepath.Dir(wd)
	binary = filepath.Join(root, "bin", "recoverydesk")
	if _, err := os.Stat(binary); err != nil {
		fmt.Fprintln(os.Stderr, "faults: build the binary first (make faults does): go build -o bin/recoverydesk ./cmd/recoverydesk")
		os.Exit(2)
	}
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// secretKey is every scenario's RD_SECRET_KEY (the CLI must open what serve sealed).
const secretKey = "faults-secret-key-0123456789abcdef"

// freeAddr returns a free loopback host:port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// server is one recoverydesk serve process with its environment. Start,
// stop and kill it like an operator would; its address stays the same
// across restarts.
type server struct {
	t    *testing.T
	env  map[string]string
	addr string
	base string
	logs string // directory of the per-start logs

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	starts int
}

// newServer prepares (does not start) a server on db with the given
// settings on top of the suite's defaults.
func newServer(t *testing.T, db *pg, extra map[string]string) *server {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	env := map[string]string{
		"RD_ADDR":            addr,
		"RD_DATA_DIR":        filepath.Join(dir, "data"),
		"RD_DATABASE_URL":    db.URL,
		"RD_SECRET_KEY":      secretKey,
		"RD_DEV":             "1",
		"RD_DEV_FORCE":       "1",
		"RD_SMS_DRIVER":      "outbox",
		"RD_SMS_BACKOFF_MAX": "2s",
		// A job's rescue must wait longer than one try may take (the
		// gateway call plus the database writes around it).
		"RD_SMS_TIMEOUT":       "5s",
		"RD_JOB_RESCUE_AFTER":  "20s",
		"RD_SHUTDOWN_GRACE":    "3s",
		"RD_S3_TIMEOUT":        "3s",
		"RD_QA_SAMPLE_PERCENT": "0",
	}
	for k, v := range extra {
		env[k] = v
	}
	s := &server{t: t, env: env, addr: addr, base: "http://" + addr, logs: dir}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			s.dumpLogs()
		}
	})
	return s
}

func (s *server) environ() []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return out
}

// start runs serve and waits until /readyz answers 200.
func (s *server) start() {
	s.t.Helper()
	s.launch()
	if took := s.waitReady(90 * time.Second); took < 0 {
		s.t.Fatalf("server did not become ready within 90 s")
	}
}

// launch runs serve without waiting.
func (s *server) launch() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.starts++
	logf, err := os.Create(filepath.Join(s.logs, fmt.Sprintf("serve-%d.log", s.starts)))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(binary, "serve")
	cmd.Dir = root
	cmd.Env = s.environ()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	done := make(chan struct{})
	s.cmd, s.done, s.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(done)
	}()
}

// waitReady polls /readyz until it answers 200 and returns how long that
// took, or -1 after timeout (or when the process exited).
func (s *server) waitReady(timeout time.Duration) time.Duration {
	client := &http.Client{Timeout: 2 * time.Second}
	t0 := time.Now()
	for time.Since(t0) < timeout {
		if s.exited() {
			return -1
		}
		if resp, err := client.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1
}

func (s *server) exited() bool {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd.Process.Pid
}

// signal sends sig to the serve process.
func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := syscall.Kill(s.pid(), sig); err != nil {
		s.t.Fatalf("signal %v: %v", sig, err)
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code (-1 for a signal), or fails the test.
func (s *server) wait(timeout time.Duration) int {
	s.t.Helper()
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(timeout):
		s.t.Fatalf("server still running %s after the signal", timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case s.err == nil:
		return 0
	case errors.As(s.err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// kill ends the process with SIGKILL, as a crash would.
func (s *server) kill() {
	s.t.Helper()
	s.signal(syscall.SIGKILL)
	s.wait(10 * time.Second)
}

// stop ends a running server (SIGTERM, then SIGKILL) at the end of a test.
func (s *server) stop() {
	if s.exited() {
		return
	}
	_ = syscall.Kill(s.pid(), syscall.SIGTERM)
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(s.pid(), syscall.SIGKILL)
		<-done
	}
}

// cli runs a recoverydesk subcommand with the server's environment.
func (s *server) cli(stdin string, args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = root
	cmd.Env = s.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	}
	s.t.Fatalf("recoverydesk %v: %v", args, err)
	return "", -1
}

// verifyAudit runs `recoverydesk audit verify`, which must exit 0.
func (s *server) verifyAudit() {
	s.t.Helper()
	out, code := s.cli("", "audit", "verify")
	if code != 0 {
		s.t.Errorf("audit verify exited %d:\n%s", code, out)
		return
	}
	s.t.Logf("audit verify: exit 0 (%s)", strings.TrimSpace(lastLine(out)))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// dumpLogs prints the tail of every serve log of a failed test.
func (s *server) dumpLogs() {
	for i := 1; i <= s.starts; i++ {
		b, err := os.ReadFile(filepath.Join(s.logs, fmt.Sprintf("serve-%d.log", i)))
		if err != nil {
			continue
		}
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		s.t.Logf("serve log %d of %s (tail):\n%s", i, s.addr, b)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
