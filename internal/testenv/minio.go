package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"recoverydesk/storage"
)

// setupTimeout bounds starting a server and creating or removing a bucket.
const setupTimeout = 60 * time.Second

// sharedMinIO is the one MinIO server of this test process, started on
// first use and stopped by Cleanup.
var sharedMinIO struct {
	mu  sync.Mutex
	srv *storage.LocalServer
	dir string
	err error
}

// MinIO returns a Store on a fresh, empty bucket of the test process's
// shared MinIO server, starting the server on first use. The bucket and its
// objects are removed when the test ends. Without the MinIO binary the test
// is skipped, or fails when RD_TEST_REQUIRE_ALL=1.
func MinIO(t testing.TB) *storage.Store {
	t.Helper()
	srv := sharedServer(t)
	bucket := bucketName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	store, err := storage.New(ctx, srv.Config(bucket))
	if err != nil {
		t.Fatalf("testenv: create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { removeBucket(t, srv, bucket) })
	return store
}

// Anchors returns an anchor store (object lock, compliance mode) on a
// fresh bucket of the shared MinIO server. Its anchors cannot be deleted
// before their retention ends, so the bucket is left to go with the
// server's temporary data when the test process ends.
func Anchors(t testing.TB) *storage.AnchorStore {
	t.Helper()
	srv := sharedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	a, err := storage.NewAnchorStore(ctx, srv.Config(storage.AnchorBucket(bucketName(t.Name()))))
	if err != nil {
		t.Fatalf("testenv: anchor bucket: %v", err)
	}
	return a
}

// OwnMinIO starts a MinIO server for this test alone, for tests that stop
// it on purpose (to see /readyz report the store down); it is stopped and
// its data removed when the test ends. The Store uses a fresh bucket.
func OwnMinIO(t testing.TB) (*storage.LocalServer, *storage.Store) {
	t.Helper()
	dir := t.TempDir() // registered first, so removed after the server stops
	srv, err := startServer(dir)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("testenv: stop minio: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	store, err := storage.New(ctx, srv.Config(bucketName(t.Name())))
	if err != nil {
		t.Fatalf("testenv: create bucket: %v", err)
	}
	return srv, store
}

// Cleanup stops the shared MinIO server and removes its data; call it from
// TestMain after m.Run. Without it the server still dies with the test
// process (the launcher sets Pdeathsig) and its temporary directory is
// removed by the next test process that starts a shared server. It is safe to call when no server was started, and more than once.
func Cleanup() {
	s := &sharedMinIO
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Stop()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
	s.srv, s.dir, s.err = nil, "", nil
}

// sharedServer returns the shared server, starting it if needed; a failed
// start is remembered so later tests fail (or skip) fast.
func sharedServer(t testing.TB) *storage.LocalServer {
	t.Helper()
	s := &sharedMinIO
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil && s.err == nil {
		removeStaleDirs()
		s.dir, s.err = os.MkdirTemp("", fmt.Sprintf("%s%d-", sharedDirPrefix, os.Getpid()))
		if s.err == nil {
			s.srv, s.err = startServer(s.dir)
		}
	}
	if s.err != nil {
		skipOrFail(t, s.err)
	}
	return s.srv
}

// sharedDirPrefix starts the name of a shared server's temporary directory,
// followed by the owning test process's pid.
const sharedDirPrefix = "rd-minio-"

// removeStaleDirs deletes the data of shared servers whose test process is
// gone without calling Cleanup, so skipping Cleanup never fills the disk.
func removeStaleDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedDirPrefix+"*-*"))
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), sharedDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

// startServer starts a MinIO server with its data in dir.
func startServer(dir string) (*storage.LocalServer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	return storage.StartLocal(ctx, storage.LocalOptions{DataDir: dir})
}

// skipOrFail ends the test over a server that could not start: a missing
// binary skips it unless RD_TEST_REQUIRE_ALL=1; anything else fails it.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, storage.ErrNoBinary) {
		Missing(t, "MinIO server binary (run `make bin/minio`)")
	}
	t.Fatalf("testenv: start minio: %v", err)
}

// removeBucket deletes bucket with everything in it.
func removeBucket(t testing.TB, srv *storage.LocalServer, bucket string) {
	t.Helper()
	client, err := minio.New(srv.Endpoint, &minio.Options{
		Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, ""),
	})
	if err != nil {
		t.Errorf("testenv: remove bucket %s: %v", bucket, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	err = client.RemoveBucketWithOptions(ctx, bucket, minio.RemoveBucketOptions{ForceDelete: true})
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchBucket" {
		t.Errorf("testenv: remove bucket %s: %v", bucket, err)
	}
}

// notBucketChars are the characters a bucket name cannot hold.
var notBucketChars = regexp.MustCompile(`[^a-z0-9]+`)

// bucketName makes a valid, unique bucket name that still shows which test
// it belongs to.
func bucketName(testName string) string {
	base := strings.Trim(notBucketChars.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	suffix := randomHex(6)
	if base == "" {
		return "t-" + suffix
	}
	return "t-" + base + "-" + suffix
}

// MinIOBinary returns the MinIO server binary for tests that drive the
// launcher themselves; it skips or fails the test like MinIO when missing.
func MinIOBinary(t testing.TB) string {
	t.Helper()
	bin, err := storage.FindBinary()
	if err == nil {
		_, err = os.Stat(bin)
		if err != nil {
			err = errors.Join(storage.ErrNoBinary, err)
		}
	}
	if err != nil {
		skipOrFail(t, err)
	}
	return bin
}
