package storage

import (
	"context"
	"io"
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
