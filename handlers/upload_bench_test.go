package handlers_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"recoverydesk/internal/testenv"
)

// jpegAbout returns a JPEG of roughly n bytes: a noisy photo grown until it
// is big enough.
func jpegAbout(b testing.TB, n int) []byte {
	for w := 1200; ; w += 200 {
		data := jpegBytes(b, photo(w, w*3/4, 42))
		if len(data) >= n {
			return data
		}
	}
}

// BenchmarkUpload puts the same 1.5 MB JPEG through the whole evidence path
// (HTTP, checks, metadata strip, MinIO, row and audit) and, side by side,
// straight into the same MinIO with minio-go's PutObject. Compare the two
// sub-benchmarks' ns/op and B/op: the aim is ≤ 1.25× the direct time
// and < 3× the file size allocated.
func BenchmarkUpload(b *testing.B) {
	data := jpegAbout(b, 1_500_000)
	srv, _ := testenv.OwnMinIO(b)

	b.Run("direct_minio", func(b *testing.B) {
		client, err := minio.New(srv.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(srv.AccessKey, srv.SecretKey, "")})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if ok, err := client.BucketExists(ctx, "bench-direct"); err != nil {
			b.Fatal(err)
		} else if !ok {
			if err := client.MakeBucket(ctx, "bench-direct", minio.MakeBucketOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.PutObject(ctx, "bench-direct", "evidence/x", bytes.NewReader(data), int64(len(data)),
				minio.PutObjectOptions{ContentType: "image/jpeg"}); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("api_upload", func(b *testing.B) {
		s := recoveryFixture(b)
		a := startUnit(b, s, nil)
		a.verifyPhone(b, "13800006666")
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPut, "/api/v1/recoveries/"+a.id+"/evidence/id_front", bytes.NewReader(data))
			req.Header.Set("Content-Type", "image/jpeg")
			req.Header.Set("Authorization", "Bearer "+a.token)
			resp, err := s.app.Test(req, -1)
			if err != nil || resp.StatusCode != 201 {
				b.Fatalf("upload: %v %v", resp.StatusCode, err)
			}
			resp.Body.Close()
		}
	})
}
