package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func TestMinIOGivesEachTestItsOwnBucketAndRemovesIt(t *testing.T) {
	var buckets []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			s := MinIO(t)
			data := []byte("evidence")
			h := sha256.Sum256(data)
			if err := s.Put(t.Context(), "obj", strings.NewReader("evidence"), 8, hex.EncodeToString(h[:]), "text/plain"); err != nil {
				t.Fatalf("Put: %v", err)
			}
			buckets = append(buckets, s.Bucket())
		})
	}
	if len(buckets) != 2 || buckets[0] == buckets[1] {
		t.Fatalf("buckets = %v, want two different ones", buckets)
	}

	srv := sharedServer(t)
	client, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		exists, err := client.BucketExists(context.Background(), b)
		if err != nil || exists {
			t.Errorf("bucket %s still exists (%v) after its test ended", b, err)
		}
	}
}

func TestOwnMinIOCanBeStopped(t *testing.T) {
	srv, s := OwnMinIO(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Fatal("Ping succeeded after Stop")
	}
}

func TestBucketNameIsValidAndUnique(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	long := "TestSomething/with_a_very_long_subtest_name_ÄÖ/" + strings.Repeat("x", 80)
	a, b := bucketName(long), bucketName(long)
	for _, n := range []string{a, b, bucketName("T"), bucketName("--")} {
		if !valid.MatchString(n) || strings.Contains(n, "--") {
			t.Errorf("bucketName gave invalid %q", n)
		}
	}
	if a == b {
		t.Errorf("bucketName repeated %q", a)
	}
}
