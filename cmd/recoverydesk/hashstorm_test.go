package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
)

// vmHWM is the peak resident set size of process pid, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc status")
	return 0
}

// startServe runs `recoverydesk serve` (this test binary acting as it) on a
// free loopback address with production argon2id parameters and the extra
// environment env, and waits until /readyz answers 200.
func startServe(t *testing.T, env ...string) (addr string, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("..", "..", "bin", "minio")); err != nil {
		testenv.Missing(t, "bin/minio")
	}
	addr = freeAddr(t)
	cmd = exec.Command(os.Args[0], "serve")
	cmd.Env = append(append(os.Environ(), "RD_TEST_AS_BINARY=1", "RD_ADDR="+addr, "RD_DATA_DIR="+t.TempDir(),
		"RD_DEV=0", "RD_DATABASE_URL="), env...)
	stderr = &bytes.Buffer{}
	cmd.Stderr = &lockedWriter{w: stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Should anything go wrong, the server, not a neighbour, is what the
	// kernel ends when memory runs out.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid), []byte("1000"), 0o644)
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, cmd, stderr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready; stderr:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A storm of 200 concurrent logins for unknown usernames, each from its own
// address (so no per-address limit helps), keeps the server's peak memory
// under 400 MB: every argon2id check (64 MiB), the dummy one for unknown
// names included, waits for one of RD_HASH_CONCURRENCY slots, and a request
// that finds none within 2 s gets 503 busy with Retry-After; nothing else
// fails. Before the bound the same storm took the server to gigabytes.
func TestLoginStormKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("login storm: not in -short")
	}
	addr, cmd, stderr := startServe(t, "RD_HASH_CONCURRENCY=2")
	pid := cmd.Process.Pid
	before := vmHWM(t, pid)

	const storm = 200
	type outcome struct {
		status     int
		code       string
		retryAfter string
		err        error
	}
	results := make([]outcome, storm)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range storm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 127.0.0.2 … 127.0.0.201: the whole of 127/8 is loopback.
			local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(i/250), byte(2+i%250))}
			client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
				DialContext: (&net.Dialer{LocalAddr: local}).DialContext, DisableKeepAlives: true}}
			body := fmt.Sprintf(`{"kind":"person","username":"ghost_%03d","password":"Wrong#Pass135"}`, i)
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+addr+"/api/v1/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			<-start
			resp, err := client.Do(req)
			if err != nil {
				results[i] = outcome{err: err}
				return
			}
			defer resp.Body.Close()
			var env struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			b, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(b, &env)
			results[i] = outcome{status: resp.StatusCode, code: env.Error.Code, retryAfter: resp.Header.Get("Retry-After")}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	peak := vmHWM(t, pid)

	counts := map[string]int{}
	for i, r := range results {
		key := fmt.Sprintf("%d %s", r.status, r.code)
		counts[key]++
		switch {
		case r.err != nil:
			t.Errorf("login %d: %v", i, r.err)
		case r.status == http.StatusUnauthorized && r.code == "bad_credentials":
		case r.status == http.StatusServiceUnavailable && r.code == "busy":
			if r.retryAfter == "" {
				t.Errorf("login %d: 503 busy without Retry-After", i)
			}
		default:
			t.Errorf("login %d: %d %q, want 401 bad_credentials or 503 busy", i, r.status, r.code)
		}
	}
	t.Logf("peak RSS before the storm %d MB, after %d MB; %d logins in %v: %v",
		before>>20, peak>>20, storm, took.Round(time.Millisecond), counts)
	if counts["401 bad_credentials"] == 0 {
		t.Errorf("no login was checked at all: %v", counts)
	}
	if peak >= 400<<20 {
		t.Errorf("peak RSS %d MB, want under 400 MB", peak>>20)
	}
	if t.Failed() {
		t.Logf("server log:\n%.4000s", stderr.String())
	}
}
