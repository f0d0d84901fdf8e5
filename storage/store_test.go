package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// sum returns the hex SHA-256 of b.
func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// payload returns n deterministic pseudo-random bytes.
func payload(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1})
	_, _ = r.Read(b)
	return b
}

// mustBeMissing fails the test unless key does not exist.
func mustBeMissing(t *testing.T, s *storage.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat(%s) error = %v, want ErrNotFound (no object left behind)", key, err)
	}
}

func TestPutOpenStatDeleteRoundTrip(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()
	data := payload(100_000)
	before := time.Now().Add(-time.Minute)

	if err := s.Put(ctx, "cases/1/id_front", bytes.NewReader(data), int64(len(data)), sum(data), "image/png"); err != nil {
		t.Fatalf("Put: %v", err)
	}

	info, err := s.Stat(ctx, "cases/1/id_front")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	want := storage.ObjectInfo{Key: "cases/1/id_front", Size: int64(len(data)), ContentType: "image/png", SHA256: sum(data)}
	if info.LastModified.Before(before) {
		t.Errorf("LastModified = %v, want recent", info.LastModified)
	}
	info.LastModified = time.Time{}
	if info != want {
		t.Errorf("Stat = %+v, want %+v", info, want)
	}

	rc, oinfo, err := s.Open(ctx, "cases/1/id_front")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Open read %d bytes (err %v), want the %d bytes put", len(got), err, len(data))
	}
	if oinfo.SHA256 != sum(data) || oinfo.Size != int64(len(data)) || oinfo.ContentType != "image/png" {
		t.Errorf("Open info = %+v", oinfo)
	}

	if err := s.Delete(ctx, "cases/1/id_front"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	mustBeMissing(t, s, "cases/1/id_front")
	if err := s.Delete(ctx, "cases/1/id_front"); err != nil {
		t.Errorf("second Delete = %v, want nil (idempotent)", err)
	}
}

func TestMissingKeyIsErrNotFound(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()

	if _, err := s.Stat(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat error = %v, want ErrNotFound", err)
	}
	rc, _, err := s.Open(ctx, "nope")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Open error = %v, want ErrNotFound at Open time", err)
	}
	if rc != nil {
		rc.Close()
		t.Error("Open returned a reader for a missing key")
	}
	if err := s.Delete(ctx, "nope"); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
}

func TestPutEmptyObject(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()

	if err := s.Put(ctx, "empty", strings.NewReader(""), 0, sum(nil), "text/plain"); err != nil {
		t.Fatalf("Put empty: %v", err)
	}
	if info, err := s.Stat(ctx, "empty"); err != nil || info.Size != 0 {
		t.Fatalf("Stat empty = %+v, %v", info, err)
	}
	err := s.Put(ctx, "empty-bad", strings.NewReader(""), 0, sum([]byte("x")), "text/plain")
	if !errors.Is(err, storage.ErrChecksumMismatch) {
		t.Fatalf("Put empty with a wrong digest = %v, want ErrChecksumMismatch", err)
	}
	mustBeMissing(t, s, "empty-bad")
}

func TestPutChecksumMismatchLeavesNoObject(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()
	data := payload(300_000)
	wrong := sum(append([]byte("tampered"), data...))

	err := s.Put(ctx, "evidence/bad", bytes.NewReader(data), int64(len(data)), wrong, "image/jpeg")
	if !errors.Is(err, storage.ErrChecksumMismatch) {
		t.Fatalf("Put error = %v, want ErrChecksumMismatch", err)
	}
	mustBeMissing(t, s, "evidence/bad")
}

func TestPutChecksumMismatchKeepsExistingObject(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()
	good, evil := payload(50_000), bytes.Repeat([]byte{7}, 50_000)

	if err := s.Put(ctx, "k", bytes.NewReader(good), int64(len(good)), sum(good), "image/png"); err != nil {
		t.Fatalf("Put good: %v", err)
	}
	err := s.Put(ctx, "k", bytes.NewReader(evil), int64(len(evil)), sum(good), "image/png")
	if !errors.Is(err, storage.ErrChecksumMismatch) {
		t.Fatalf("Put evil error = %v, want ErrChecksumMismatch", err)
	}
	rc, info, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, good) || info.SHA256 != sum(good) {
		t.Fatal("a refused upload replaced or removed the object that was there")
	}
}

func TestServerRefusesBodyNotMatchingDeclaredDigest(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	data := payload(10_000)

	err := s.PutServerCheckOnly(t.Context(), "srv/bad", bytes.NewReader(data), int64(len(data)), sum([]byte("other")))
	if !errors.Is(err, storage.ErrChecksumMismatch) {
		t.Fatalf("server-checked Put error = %v, want ErrChecksumMismatch", err)
	}
	mustBeMissing(t, s, "srv/bad")
}

func TestPutSizeMismatch(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()
	data := payload(20_000)

	tests := []struct {
		name     string
		body     []byte
		size     int64
		sha256   string
		wantErrs []error
	}{
		{"fewer bytes than declared", data[:15_000], 20_000, sum(data), []error{storage.ErrSizeMismatch}},
		{"more bytes than declared", data, 15_000, sum(data[:15_000]), []error{storage.ErrSizeMismatch}},
		{"negative size", data, -1, sum(data), []error{storage.ErrSizeMismatch}},
	}
	for _, tt := range tests {
		key := "size/" + strings.ReplaceAll(tt.name, " ", "-")
		err := s.Put(ctx, key, bytes.NewReader(tt.body), tt.size, tt.sha256, "image/png")
		for _, want := range tt.wantErrs {
			if !errors.Is(err, want) {
				t.Errorf("%s: Put error = %v, want %v", tt.name, err, want)
			}
		}
		mustBeMissing(t, s, key)
	}
}

func TestPutRejectsMalformedDigest(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	if err := s.Put(t.Context(), "x", strings.NewReader("abc"), 3, "not-hex", "text/plain"); err == nil {
		t.Fatal("Put with a malformed sha256 succeeded")
	}
	mustBeMissing(t, s, "x")
}

func TestPutFailingReaderLeavesNoObject(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	data := payload(40_000)
	boom := errors.New("client went away")
	r := io.MultiReader(bytes.NewReader(data[:30_000]), iotestErrReader{boom})

	err := s.Put(t.Context(), "broken", r, int64(len(data)), sum(data), "image/png")
	if !errors.Is(err, boom) {
		t.Fatalf("Put error = %v, want the reader's error", err)
	}
	mustBeMissing(t, s, "broken")
}

// iotestErrReader fails every read with err.
type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestListOlderThan(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx := t.Context()
	for _, key := range []string{"tmp/a", "tmp/b", "tmp/c", "keep/d"} {
		if err := s.Put(ctx, key, strings.NewReader(key), int64(len(key)), sum([]byte(key)), "text/plain"); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
	}

	keys := func(prefix string, olderThan time.Time, limit int) []string {
		var out []string
		for info, err := range s.List(ctx, prefix, olderThan) {
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			out = append(out, info.Key)
			if len(out) == limit {
				break
			}
		}
		return out
	}
	if got := keys("tmp/", time.Now().Add(time.Minute), 0); strings.Join(got, ",") != "tmp/a,tmp/b,tmp/c" {
		t.Errorf("List(tmp/, future) = %v", got)
	}
	if got := keys("tmp/", time.Now().Add(-time.Hour), 0); len(got) != 0 {
		t.Errorf("List(tmp/, an hour ago) = %v, want none", got)
	}
	if got := keys("", time.Time{}, 2); len(got) != 2 {
		t.Errorf("List stopped early = %v, want 2 keys", got)
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestNewCreatesMissingBucket(t *testing.T) {
	t.Parallel()
	srv, _ := testenv.OwnMinIO(t)
	ctx := t.Context()
	cfg := srv.Config("fresh-bucket")

	s, err := storage.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New on a missing bucket: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after New: %v", err)
	}
	if _, err := storage.New(ctx, cfg); err != nil {
		t.Fatalf("New on an existing bucket: %v", err)
	}
}

func TestPingFailsWhenServerStops(t *testing.T) {
	t.Parallel()
	srv, s := testenv.OwnMinIO(t)
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	start := time.Now()
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded with the server stopped")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Ping took %s to notice, want about 2s at most", d)
	}
}

// TestPutStreams checks that a 2 MB upload is streamed: the bytes allocated
// during Put stay well below the object's size. Not parallel, because it
// measures the allocations of the whole process.
func TestPutStreams(t *testing.T) {
	s := testenv.MinIO(t)
	ctx := t.Context()
	const size = 2 << 20
	data := payload(size)
	if err := s.Put(ctx, "warm-up", strings.NewReader("w"), 1, sum([]byte("w")), "text/plain"); err != nil {
		t.Fatalf("warm-up Put: %v", err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := s.Put(ctx, "big", &onlyReader{bytes.NewReader(data)}, size, sum(data), "image/png")
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Put of %d bytes allocated %d bytes", size, alloc)
	if alloc > size/4 {
		t.Errorf("Put of %d bytes allocated %d bytes; it should stream, not buffer", size, alloc)
	}
	if info, err := s.Stat(ctx, "big"); err != nil || info.Size != size || info.SHA256 != sum(data) {
		t.Errorf("Stat big = %+v, %v", info, err)
	}
}

// onlyReader hides every method but Read, like a request body would.
type onlyReader struct{ r io.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// The context of a Put bounds it: a cancelled one fails the Put and leaves
// nothing behind.
func TestPutCancelledContext(t *testing.T) {
	t.Parallel()
	s := testenv.MinIO(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	data := payload(1000)
	if err := s.Put(ctx, "cancelled", bytes.NewReader(data), 1000, sum(data), "image/png"); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	mustBeMissing(t, s, "cancelled")
}
