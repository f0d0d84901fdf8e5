package storage

import (
	"context"
	"io"

	"github.com/minio/minio-go/v7"
)

// PutServerCheckOnly uploads like Put but without the client-side digest
// check, so a test can see the server refuse a body that does not match the
// declared SHA-256, and Put's clean-up and error mapping handle it.
func (s *Store) PutServerCheckOnly(ctx context.Context, key string, r io.Reader, size int64, sha256Hex string) error {
	want, err := decodeSHA256(sha256Hex)
	if err != nil {
		return err
	}
	upload := randomHex(16)
	if err := s.upload(ctx, key, r, size, want, "application/octet-stream", upload); err != nil {
		return s.failedPut(ctx, ctx, key, upload, nil, err)
	}
	return nil
}

// Remove tries to delete an anchor, as an attacker would; it must fail for
// an anchor under retention (used by the tests and by nobody else).
func (a *AnchorStore) Remove(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	st, err := a.client.StatObject(ctx, a.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return readErr(ctx, "stat anchor", key, err)
	}
	return a.client.RemoveObject(ctx, a.bucket, key, minio.RemoveObjectOptions{VersionID: st.VersionID, GovernanceBypass: true})
}
