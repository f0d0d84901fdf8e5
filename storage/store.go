package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// User metadata written with every object (sent as x-amz-meta-*).
const (
	metaSHA256 = "sha256"    // hex SHA-256 of the content, verified at upload
	metaUpload = "rd-upload" // random id of the Put that wrote the object
)

// Timeouts for the short housekeeping calls that must not hang a request.
const (
	pingTimeout    = 2 * time.Second
	cleanupTimeout = 5 * time.Second
)

// Config says where the object store is; it mirrors the RD_S3_* settings.
type Config struct {
	Endpoint  string // host:port, without scheme
	AccessKey string
	SecretKey string
	Bucket    string
	TLS       bool
}

// ObjectInfo describes a stored object, so callers never touch minio-go types.
type ObjectInfo struct {
	Key          string
	Size         int64
	ContentType  string
	SHA256       string // hex digest verified at upload; empty for objects not written by Put
	LastModified time.Time
}

// Store is the evidence store on one bucket of an S3-compatible server. It is
// safe for concurrent use.
type Store struct {
	core   minio.Core
	bucket string
}

// New connects to the object store described by cfg and creates the bucket
// when it is missing, so a fresh MinIO works without a manual set-up step.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("storage: endpoint and bucket are required")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.TLS,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	s := &Store{core: minio.Core{Client: client}, bucket: cfg.Bucket}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Bucket returns the name of the bucket the store writes to.
func (s *Store) Bucket() string { return s.bucket }

// ensureBucket creates the bucket unless it exists; a concurrent creator
// winning the race is fine.
func (s *Store) ensureBucket(ctx context.Context) error {
	exists, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("storage: check bucket %s: %w", s.bucket, err)
	}
	if exists {
		return nil
	}
	err = s.core.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("storage: create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put stores size bytes from r under key, streaming them to the server, and
// keeps the object only if those bytes hash to sha256Hex. The digest is
// checked twice: by the server, which receives it as the signed payload hash
// (X-Amz-Content-Sha256) and refuses a body that does not match, and on our
// side, where the last chunk is withheld when the digest or the size is
// wrong so the request cannot complete. If the Put fails for any reason, an
// object it may still have written is removed before Put returns. A digest
// mismatch yields ErrChecksumMismatch, a wrong size ErrSizeMismatch.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, sha256Hex, contentType string) error {
	want, err := decodeSHA256(sha256Hex)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	vr := newVerifyingReader(r, size, want)
	if size == 0 {
		if err := vr.finish(); err != nil { // an empty body is never read by the transport
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	upload := randomHex(16)
	err = s.upload(ctx, key, vr, size, want, contentType, upload)
	if err == nil && !vr.ok {
		err = errors.New("server accepted an upload that was not fully verified")
	}
	if err == nil {
		return nil
	}
	return s.failedPut(ctx, key, upload, vr.err, err)
}

// upload sends body as one PUT whose signed payload hash is want, so the
// server itself refuses a body with another digest. The object is tagged
// with the upload id so a failed Put can recognise its own leftovers.
func (s *Store) upload(ctx context.Context, key string, body io.Reader, size int64, want []byte, contentType, upload string) error {
	wantHex := hex.EncodeToString(want)
	opts := minio.PutObjectOptions{
		ContentType:          contentType,
		UserMetadata:         map[string]string{metaSHA256: wantHex, metaUpload: upload},
		DisableContentSha256: true, // sign with the declared digest instead of streaming chunk signatures
		DisableMultipart:     true, // one atomic PUT: no part can outlive a failure
	}
	_, err := s.core.PutObject(ctx, s.bucket, key, body, size, "", wantHex, opts)
	return err
}

// failedPut explains a failed upload (clientErr is what our verifying
// reader found, if anything) and removes whatever the upload may have left.
func (s *Store) failedPut(ctx context.Context, key, upload string, clientErr, err error) error {
	switch {
	case errors.Is(clientErr, ErrChecksumMismatch) || errors.Is(clientErr, ErrSizeMismatch):
		err = clientErr
	case isServerDigestMismatch(err):
		err = fmt.Errorf("%w: %w", ErrChecksumMismatch, err)
	}
	if cerr := s.removeUpload(ctx, key, upload); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return fmt.Errorf("put %s: %w", key, err)
}

// removeUpload deletes key if, and only if, the object there was written by
// the Put identified by upload, so an older valid object is never touched.
// It uses its own deadline because the caller's context may be what failed.
func (s *Store) removeUpload(ctx context.Context, key, upload string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check for a partial upload: %w", err)
	}
	if info.Metadata.Get("X-Amz-Meta-"+metaUpload) != upload {
		return nil
	}
	if err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove a failed upload: %w", err)
	}
	return nil
}

// Open returns the content of key. It fails with ErrNotFound right away when
// the key is missing (the request is made here, not on the first Read).
// The caller must close the reader.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	rc, info, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, ObjectInfo{}, readErr("open", key, err)
	}
	return rc, toObjectInfo(info), nil
}

// Stat describes key without reading it; ErrNotFound when it is missing.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, readErr("stat", key, err)
	}
	return toObjectInfo(info), nil
}

// Delete removes key. Deleting a missing key succeeds, so retries and
// clean-up jobs need no special case.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// Ping checks cheaply that the server answers and the bucket exists, for
// /readyz. Without a deadline on ctx it gives up after two seconds.
func (s *Store) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	exists, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("ping %s: %w", s.bucket, err)
	}
	if !exists {
		return fmt.Errorf("ping %s: bucket missing: %w", s.bucket, ErrNotFound)
	}
	return nil
}

// List yields the objects whose key starts with prefix and that were last
// modified before olderThan (every object when olderThan is zero), for the
// job that removes orphaned uploads. Listing stops at the first error,
// which is yielded; breaking out of the loop releases the listing.
func (s *Store) List(ctx context.Context, prefix string, olderThan time.Time) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
		for obj := range s.core.ListObjectsIter(ctx, s.bucket, opts) {
			if obj.Err != nil {
				yield(ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, obj.Err))
				return
			}
			if !olderThan.IsZero() && !obj.LastModified.Before(olderThan) {
				continue
			}
			if !yield(toObjectInfo(obj), nil) {
				return
			}
		}
	}
}

// toObjectInfo converts minio-go's description of an object.
func toObjectInfo(o minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{
		Key:          o.Key,
		Size:         o.Size,
		ContentType:  o.ContentType,
		SHA256:       o.Metadata.Get("X-Amz-Meta-" + metaSHA256),
		LastModified: o.LastModified,
	}
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
