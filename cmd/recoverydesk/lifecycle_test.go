package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"recoverydesk/internal/audit/audittest"
	"recoverydesk/internal/testenv"
	"recoverydesk/storage"
)

// TestAuditVerifyNamesTheAnchorARebuiltChainContradicts: after `audit
// anchor`, an administrator rewrites an entry and recomputes every hash and
// the head in the database; the chain alone would verify, but `audit
// verify` exits 1 naming the anchor.
func TestAuditVerifyNamesTheAnchorARebuiltChainContradicts(t *testing.T) {
	testenv.MinIOBinary(t)
	env, d := auditLog(t, 12)
	code, stdout, stderr := recoverydesk(t, env, "", "audit", "anchor")
	key := regexp.MustCompile(`anchors/\S+\.json`).FindString(stdout)
	if code != 0 || key == "" || !strings.Contains(stdout, "第 12 条") {
		t.Fatalf("audit anchor: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = recoverydesk(t, env, "", "audit", "verify")
	if code != 0 || !strings.Contains(stdout, "与 1 个锚点一致") {
		t.Fatalf("audit verify before the rewrite: exit %d\n%s%s", code, stdout, stderr)
	}
	if err := audittest.RebuildChain(context.Background(), d, 3, "ZH20261127999999"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = recoverydesk(t, env, "", "audit", "verify")
	if code != 1 || !strings.Contains(stdout, key) || !strings.Contains(stdout, "REBUILT") || !strings.Contains(stdout, "哈希链在锚定后被重建") {
		t.Fatalf("audit verify after the rebuild: exit %d, want 1 naming %s\n%s%s", code, key, stdout, stderr)
	}
}

func TestPurgeHelpAndDryRun(t *testing.T) {
	code, _, stderr := recoverydesk(t, nil, "", "purge", "--help")
	if code != 0 || !strings.Contains(stderr, "--dry-run") || !strings.Contains(stderr, "RD_EVIDENCE_RETENTION") {
		t.Fatalf("purge --help: exit %d\n%s", code, stderr)
	}
	testenv.MinIOBinary(t)
	env := []string{"RD_DATA_DIR=" + t.TempDir(), "RD_EVIDENCE_RETENTION=1d"}
	code, stdout, stderr := recoverydesk(t, env, "", "purge", "--dry-run")
	if code != 0 || !strings.Contains(stdout, "would destroy 0 evidence objects past retention 24h0m0s") {
		t.Fatalf("purge --dry-run: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := recoverydesk(t, []string{"RD_EVIDENCE_RETENTION=forever"}, "", "purge"); code != 2 || !strings.Contains(stderr, "RD_EVIDENCE_RETENTION") {
		t.Fatalf("purge with a bad retention: exit %d\n%s", code, stderr)
	}
}

// TestServeRefusesAStoreThatCannotEncrypt: an external MinIO without a KMS
// is refused at start with one line and exit 2, unless
// RD_S3_ALLOW_PLAINTEXT=1.
func TestServeRefusesAStoreThatCannotEncrypt(t *testing.T) {
	bin := testenv.MinIOBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	srv := exec.Command(bin, "server", t.TempDir(), "--address", addr)
	srv.Env = append(os.Environ(), "MINIO_ROOT_USER=plainuser", "MINIO_ROOT_PASSWORD=plainsecret1", "MINIO_BROWSER=off", "MINIO_CI_CD=on")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/minio/health/cluster"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("plain minio not ready")
		}
	}
	env := []string{"RD_DATA_DIR=" + t.TempDir(), "RD_S3_ENDPOINT=" + addr, "RD_S3_ACCESS_KEY=plainuser", "RD_S3_SECRET_KEY=plainsecret1",
		"RD_ADDR=127.0.0.1:0"}
	code, _, stderr := recoverydesk(t, env, "", "serve")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if code != 2 || !strings.Contains(last, "RD_S3_ENDPOINT") || !strings.Contains(last, "RD_S3_ALLOW_PLAINTEXT=1") {
		t.Fatalf("serve on a store without KMS: exit %d, want 2 with one line naming the way out\n%s", code, stderr)
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.Contains(l, "error") || strings.Contains(l, "ERROR") {
			t.Fatalf("more than one line of error:\n%s", stderr)
		}
	}
	// Allowed: migrate (which opens the store too) runs and says the objects stay plain.
	code, stdout, stderr := recoverydesk(t, append(env, "RD_S3_ALLOW_PLAINTEXT=1"), "", "migrate")
	if code != 0 || !strings.Contains(stdout, "cannot encrypt") {
		t.Fatalf("migrate on an allowed plain store: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestMigrateReencryptsPlainEvidence: an object the bundled MinIO holds in
// clear (written before encryption at rest) is re-encrypted by migrate.
func TestMigrateReencryptsPlainEvidence(t *testing.T) {
	testenv.MinIOBinary(t)
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := storage.StartLocal(ctx, storage.LocalOptions{DataDir: filepath.Join(dir, "minio")})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.MakeBucket(ctx, "recoverydesk-evidence", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	body := []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 an old plain photo")
	if _, err := raw.PutObject(ctx, "recoverydesk-evidence", "evidence/old.jpg", bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := recoverydesk(t, []string{"RD_DATA_DIR=" + dir}, "", "migrate")
	if code != 0 || !strings.Contains(stdout, "evidence store: 1 objects re-encrypted at rest") {
		t.Fatalf("migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = recoverydesk(t, []string{"RD_DATA_DIR=" + dir}, "", "migrate")
	if code != 0 || !strings.Contains(stdout, "evidence store: 0 objects re-encrypted at rest") {
		t.Fatalf("second migrate: exit %d\n%s%s", code, stdout, stderr)
	}
}
