package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// imageLike is content that carries every marker a reader of the disk would
// recognise as an image: the JPEG signature with a JFIF and an Exif segment,
// and a PNG signature further on.
func imageLike() []byte {
	b := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xe1\x00\x10Exif\x00\x00MM\x00*")
	b = append(b, bytes.Repeat([]byte("身份证 440101199001011234 "), 100)...)
	b = append(b, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"...)
	return b
}

// imageMarkers are what must not be found in the store's files: each
// marker as imageLike writes it, at least 8 bytes long, so that a megabyte
// of ciphertext does not hold one by chance (a 3-byte "\xff\xd8\xff" turns
// up in about one random megabyte in sixteen), while plain image bytes
// always do.
var imageMarkers = map[string][]byte{
	"JPEG signature": []byte("\xff\xd8\xff\xe0\x00\x10JFIF"), "PNG signature": []byte("\x89PNG\r\n\x1a\n"),
	"JFIF marker": []byte("JFIF\x00\x01\x01\x00"), "Exif marker": []byte("Exif\x00\x00MM"), "ID number": []byte("440101199001011234"),
}

// markersOnDisk walks dir and names every file holding an image marker.
func markersOnDisk(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, m := range imageMarkers {
			if bytes.Contains(b, m) {
				found = append(found, name+" in "+path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return found
}

func TestBundledServerEncryptsEvidenceAtRest(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	dir := filepath.Join(t.TempDir(), "minio")
	srv := startLocal(t, bin, dir)
	ctx := t.Context()
	s, err := storage.New(ctx, srv.Config("evidence"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if !s.Encrypted() {
		t.Fatal("the bundled server's store does not encrypt")
	}
	data := imageLike()
	big := append(bytes.Repeat(data, 400), data...) // ~1 MB: stored in its own part file, not inline
	for key, b := range map[string][]byte{"evidence/small.jpg": data, "evidence/big.jpg": big} {
		if err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b)), sum(b), "image/jpeg"); err != nil {
			t.Fatalf("Put %s: %v", key, err)
		}
		rc, info, err := s.Open(ctx, key)
		if err != nil {
			t.Fatalf("Open %s: %v", key, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, b) || info.SHA256 != sum(b) {
			t.Fatalf("%s read back %d bytes (sha %s), want the %d written", key, len(got), info.SHA256, len(b))
		}
	}
	if found := markersOnDisk(t, dir); len(found) > 0 {
		t.Fatalf("image bytes readable in the store's files: %v", found)
	}
	fi, err := os.Stat(filepath.Join(dir, "kms.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kms.key: %v, mode %v; want a 0600 file", err, fi)
	}
}

func TestEncryptExistingReencryptsPlainObjects(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	dir := filepath.Join(t.TempDir(), "minio")
	srv := startLocal(t, bin, dir)
	ctx := t.Context()
	s, err := storage.New(ctx, srv.Config("evidence"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// An object written before encryption at rest: a plain PUT.
	raw, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	data := imageLike()
	if _, err := raw.PutObject(ctx, "evidence", "evidence/old.jpg", bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "image/jpeg", UserMetadata: map[string]string{"sha256": sum(data)}}); err != nil {
		t.Fatal(err)
	}
	if len(markersOnDisk(t, dir)) == 0 {
		t.Fatal("the plain object's bytes are not on disk: the test cannot see re-encryption")
	}
	n, err := s.EncryptExisting(ctx)
	if err != nil || n != 1 {
		t.Fatalf("EncryptExisting = %d, %v; want 1 object re-encrypted", n, err)
	}
	if n, err := s.EncryptExisting(ctx); err != nil || n != 0 {
		t.Fatalf("second EncryptExisting = %d, %v; want 0 (already encrypted)", n, err)
	}
	// MinIO moves the replaced plain version to its trash, which it
	// empties when it starts: the bundled server is restarted by migrate.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	srv = startLocal(t, bin, dir)
	if s, err = storage.New(ctx, srv.Config("evidence")); err != nil {
		t.Fatal(err)
	}
	if found := markersOnDisk(t, dir); len(found) > 0 {
		t.Fatalf("after re-encryption and a restart, image bytes readable: %v", found)
	}
	rc, info, err := s.Open(ctx, "evidence/old.jpg")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) || info.SHA256 != sum(data) || info.ContentType != "image/jpeg" {
		t.Fatalf("re-encrypted object: %d bytes, sha %q, type %q; want the original", len(got), info.SHA256, info.ContentType)
	}
}

// startPlainMinIO runs the MinIO binary without a KMS, as an external store
// that cannot encrypt; it returns its endpoint and credentials.
func startPlainMinIO(t *testing.T) storage.Config {
	t.Helper()
	bin := testenv.MinIOBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "server", t.TempDir(), "--address", addr)
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=plainuser", "MINIO_ROOT_PASSWORD=plainsecret1", "MINIO_BROWSER=off", "MINIO_CI_CD=on")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plain minio not ready on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return storage.Config{Endpoint: addr, AccessKey: "plainuser", SecretKey: "plainsecret1", Bucket: "evidence"}
}

func TestStoreWithoutKMSIsRefusedUnlessPlaintextAllowed(t *testing.T) {
	t.Parallel()
	cfg := startPlainMinIO(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := storage.New(ctx, cfg); !errors.Is(err, storage.ErrNoEncryption) {
		t.Fatalf("New on a store without KMS = %v, want ErrNoEncryption", err)
	}
	cfg.AllowPlaintext = true
	s, err := storage.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New with AllowPlaintext: %v", err)
	}
	if s.Encrypted() {
		t.Fatal("a store without KMS says it encrypts")
	}
	data := []byte("allowed in clear")
	if err := s.Put(ctx, "evidence/x", bytes.NewReader(data), int64(len(data)), sum(data), "text/plain"); err != nil {
		t.Fatalf("Put on an allowed plain store: %v", err)
	}
}

func TestAttachFindsTheRunningServer(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	dir := filepath.Join(t.TempDir(), "minio")
	srv := startLocal(t, bin, dir)
	again, err := storage.AttachOrStartLocal(t.Context(), storage.LocalOptions{Binary: bin, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if again.Endpoint != srv.Endpoint {
		t.Fatalf("attached to %s, want the running server on %s", again.Endpoint, srv.Endpoint)
	}
	if err := again.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.New(t.Context(), srv.Config("evidence")); err != nil {
		t.Fatalf("the server stopped with its attached user: %v", err)
	}
}

func TestAnchorStoreLocksEveryAnchor(t *testing.T) {
	t.Parallel()
	bin := testenv.MinIOBinary(t)
	srv := startLocal(t, bin, filepath.Join(t.TempDir(), "minio"))
	ctx := t.Context()
	a, err := storage.NewAnchorStore(ctx, srv.Config(storage.AnchorBucket("evidence")))
	if err != nil {
		t.Fatalf("NewAnchorStore: %v", err)
	}
	if err := a.Put(ctx, "anchors/1.json", []byte(`{"seq":1}`), time.Now().Add(24*time.Hour)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := a.Remove(ctx, "anchors/1.json"); err == nil {
		t.Fatal("an anchor under compliance retention was deleted")
	}
	keys, err := a.Keys(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("Keys = %v, %v", keys, err)
	}
	if b, err := a.Get(ctx, keys[0]); err != nil || string(b) != `{"seq":1}` {
		t.Fatalf("Get = %q, %v", b, err)
	}
	// An existing bucket without object lock is refused.
	if _, err := storage.New(ctx, srv.Config("plain-bucket")); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.NewAnchorStore(ctx, srv.Config("plain-bucket")); !errors.Is(err, storage.ErrNoObjectLock) {
		t.Fatalf("NewAnchorStore on a bucket without lock = %v, want ErrNoObjectLock", err)
	}
}
