//go:build faults

package faults

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// minioProc is a MinIO server this suite runs itself (bin/minio), so a
// scenario holds its pid.
type minioProc struct {
	Endpoint, AccessKey, SecretKey string
	cmd                            *exec.Cmd
	done                           chan struct{}
}

const minioUser, minioPassword = "faultsadmin", "faults-minio-secret"

// startMinIO runs bin/minio on a free port with data in dir.
func startMinIO(dir string) (*minioProc, error) {
	addr, console, err := twoFreeAddrs()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "bin", "minio"), "server", filepath.Join(dir, "data"), "--address", addr,
		"--console-address", console)
	// A KMS key: serve refuses a store that cannot encrypt evidence at rest.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MINIO_ROOT_USER=" + minioUser,
		"MINIO_ROOT_PASSWORD=" + minioPassword, "MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on",
		"MINIO_KMS_SECRET_KEY=faults-key:" + base64.StdEncoding.EncodeToString(key)}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	m := &minioProc{Endpoint: addr, AccessKey: minioUser, SecretKey: minioPassword, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(m.done) }()
	client := &http.Client{Timeout: time.Second}
	for t0 := time.Now(); time.Since(t0) < 60*time.Second; time.Sleep(200 * time.Millisecond) {
		if resp, err := client.Get("http://" + addr + "/minio/health/cluster"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
	}
	m.stop()
	return nil, fmt.Errorf("minio on %s not ready within 60 s", addr)
}

func twoFreeAddrs() (string, string, error) {
	var out []string
	for range 2 {
		l, err := netListen()
		if err != nil {
			return "", "", err
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out[0], out[1], nil
}

func (m *minioProc) pid() int { return m.cmd.Process.Pid }

func (m *minioProc) stop() {
	_ = syscall.Kill(m.pid(), syscall.SIGCONT)
	_ = syscall.Kill(m.pid(), syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(m.pid(), syscall.SIGKILL)
		<-m.done
	}
}

// env is the server settings that point at this MinIO, with bucket.
func (m *minioProc) env(bucket string) map[string]string {
	return map[string]string{"RD_S3_ENDPOINT": m.Endpoint, "RD_S3_ACCESS_KEY": m.AccessKey, "RD_S3_SECRET_KEY": m.SecretKey,
		"RD_S3_BUCKET": bucket}
}

// The shared MinIO serves every scenario that does not fault the object
// store (each with its own bucket), so the 2-core machine runs one MinIO
// for them instead of one per server.
var (
	sharedOnce  sync.Once
	sharedMinIO *minioProc
	sharedErr   error
	sharedDir   string
)

func shared(t *testing.T) *minioProc {
	t.Helper()
	sharedOnce.Do(func() {
		sharedDir, sharedErr = os.MkdirTemp("", "rd-faults-minio-")
		if sharedErr == nil {
			sharedMinIO, sharedErr = startMinIO(sharedDir)
		}
	})
	if sharedErr != nil {
		t.Fatalf("shared MinIO: %v", sharedErr)
	}
	return sharedMinIO
}

func stopShared() {
	if sharedMinIO != nil {
		sharedMinIO.stop()
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
}

var bucketSeq struct {
	sync.Mutex
	n int
}

// sharedEnv is the object-store settings of a scenario on the shared MinIO.
func sharedEnv(t *testing.T) map[string]string {
	bucketSeq.Lock()
	bucketSeq.n++
	n := bucketSeq.n
	bucketSeq.Unlock()
	return shared(t).env(fmt.Sprintf("faults-%d-%d", os.Getpid(), n))
}
