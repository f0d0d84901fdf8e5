package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNoObjectLock reports an anchor bucket without object lock: an anchor
// there could be deleted or overwritten, so it would prove nothing.
var ErrNoObjectLock = errors.New("storage: the anchor bucket has no object lock (create it with object lock enabled)")

// AnchorBucket is the name of the write-once bucket that keeps the audit
// chain's anchors beside the evidence bucket: "<evidence bucket>-anchors".
func AnchorBucket(evidenceBucket string) string {
	const suffix = "-anchors"
	if len(evidenceBucket)+len(suffix) > 63 {
		evidenceBucket = evidenceBucket[:63-len(suffix)]
	}
	return evidenceBucket + suffix
}

// AnchorStore is a bucket with object lock in which every object is written
// once in compliance mode: until its retention ends nobody, not even the
// store's root user, can delete or overwrite it. The audit chain's head is
// written there so that a chain rebuilt in the database cannot match it.
type AnchorStore struct {
	client  *minio.Client
	bucket  string
	timeout time.Duration
}

// NewAnchorStore connects to the bucket cfg.Bucket and creates it, with
// object lock, when it is missing; an existing bucket without object lock
// is refused (ErrNoObjectLock), since object lock cannot be added later.
func NewAnchorStore(ctx context.Context, cfg Config) (*AnchorStore, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	transport, err := newTransport(cfg.TLS, timeout)
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.TLS, Transport: transport})
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	a := &AnchorStore{client: client, bucket: cfg.Bucket, timeout: timeout}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	exists, err := client.BucketExists(cctx, a.bucket)
	if err != nil {
		return nil, fmt.Errorf("storage: check bucket %s: %w", a.bucket, classify(cctx, err))
	}
	if !exists {
		err = client.MakeBucket(cctx, a.bucket, minio.MakeBucketOptions{ObjectLocking: true})
		if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
			return nil, fmt.Errorf("storage: create bucket %s: %w", a.bucket, classify(cctx, err))
		}
	}
	enabled, _, _, _, err := client.GetObjectLockConfig(cctx, a.bucket)
	if err != nil && minio.ToErrorResponse(err).Code != "ObjectLockConfigurationNotFoundError" {
		return nil, fmt.Errorf("storage: object lock of %s: %w", a.bucket, classify(cctx, err))
	}
	if enabled != "Enabled" {
		return nil, fmt.Errorf("%w: %s", ErrNoObjectLock, a.bucket)
	}
	return a, nil
}

// Bucket returns the anchor bucket's name.
func (a *AnchorStore) Bucket() string { return a.bucket }

// Put writes body under key, locked in compliance mode until retainUntil.
// A key is written once: an existing anchor is never replaced.
func (a *AnchorStore) Put(ctx context.Context, key string, body []byte, retainUntil time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	_, err := a.client.PutObject(ctx, a.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType: "application/json", Mode: minio.Compliance, RetainUntilDate: retainUntil.UTC(),
		DisableMultipart: true, SendContentMd5: true, // object lock requires a Content-MD5
	})
	if err != nil {
		return fmt.Errorf("put anchor %s: %w", key, classify(ctx, err))
	}
	return nil
}

// Keys lists the anchors' keys in key order.
func (a *AnchorStore) Keys(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var keys []string
	for obj := range a.client.ListObjectsIter(ctx, a.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list anchors: %w", classify(ctx, obj.Err))
		}
		keys = append(keys, obj.Key)
	}
	return keys, nil
}

// Get reads one anchor.
func (a *AnchorStore) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	obj, err := a.client.GetObject(ctx, a.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, readErr(ctx, "get anchor", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, 1<<16))
	if err != nil {
		return nil, readErr(ctx, "get anchor", key, err)
	}
	return b, nil
}
