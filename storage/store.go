package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// User metadata written with every object (sent as x-amz-meta-*).
const (
	metaSHA256 = "sha256"    // hex SHA-256 of the content, verified at upload
	metaUpload = "rd-upload" // random id of the Put that wrote the object
)

// DefaultTimeout bounds one object-store call when Config.Timeout is zero
// (RD_S3_TIMEOUT's default).
const DefaultTimeout = 10 * time.Second

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
	// Timeout bounds each call (RD_S3_TIMEOUT): connecting, sending,
	// waiting for the answer and, for Open, reading the whole body. Past it
	// the call fails with ErrUnavailable. Zero means DefaultTimeout.
	Timeout time.Duration
	// AllowPlaintext lets New accept a store that cannot encrypt at rest
	// (RD_S3_ALLOW_PLAINTEXT=1); objects are then written in clear.
	// Otherwise such a store is refused with ErrNoEncryption.
	AllowPlaintext bool
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
	core minio.Core
	// probe is the same client without retries, for Ping: readiness must
	// say how the server is now, not once a retry got through.
	probe   *minio.Client
	bucket  string
	timeout time.Duration
	// sse encrypts every object written (SSE-S3 under the server's KMS);
	// nil only for a store allowed to be plain.
	sse encrypt.ServerSide
}

// New connects to the object store described by cfg and creates the bucket
// when it is missing, so a fresh MinIO works without a manual set-up step.
// It then checks, with a small probe object, that the store encrypts what
// it stores (SSE-S3): evidence is sensitive personal information and is
// never written in clear unless cfg.AllowPlaintext; a store that cannot
// encrypt is refused with ErrNoEncryption.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("storage: endpoint and bucket are required")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	transport, err := newTransport(cfg.TLS, timeout)
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	opts := &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.TLS,
		Transport: transport,
	}
	client, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	probeOpts := *opts
	probeOpts.MaxRetries = 1
	probe, err := minio.New(cfg.Endpoint, &probeOpts)
	if err != nil {
		return nil, fmt.Errorf("storage: connect %s: %w", cfg.Endpoint, err)
	}
	s := &Store{core: minio.Core{Client: client}, probe: probe, bucket: cfg.Bucket, timeout: timeout}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	err = s.probeEncryption(ctx)
	switch {
	case err == nil:
		s.sse = encrypt.NewSSE()
	case errors.Is(err, ErrNoEncryption) && cfg.AllowPlaintext:
	default:
		return nil, err
	}
	return s, nil
}

// newTransport is minio-go's transport with every wait bounded by timeout,
// so a server that stops answering (SIGSTOP, a dead host) costs one
// timeout, not minutes: connecting, the TLS handshake and the wait for the
// response headers each give up in time, and a connection that timed out is
// closed rather than reused, so the store works again as soon as the server
// does, without a restart of ours.
func newTransport(secure bool, timeout time.Duration) (*http.Transport, error) {
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 15 * time.Second}
	tr.DialContext = dialer.DialContext
	tr.TLSHandshakeTimeout = timeout
	tr.ResponseHeaderTimeout = timeout
	tr.ExpectContinueTimeout = time.Second
	tr.IdleConnTimeout = 30 * time.Second
	return tr, nil
}

// Bucket returns the name of the bucket the store writes to.
func (s *Store) Bucket() string { return s.bucket }

// Timeout returns the bound on one call (Config.Timeout).
func (s *Store) Timeout() time.Duration { return s.timeout }

// deadline gives one call its own deadline of s.timeout (or the caller's,
// if sooner).
func (s *Store) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// ensureBucket creates the bucket unless it exists; a concurrent creator
// winning the race is fine. Each of its calls has the store's deadline.
func (s *Store) ensureBucket(ctx context.Context) error {
	cctx, cancel := s.deadline(ctx)
	exists, err := s.core.BucketExists(cctx, s.bucket)
	cancel()
	if err != nil {
		return fmt.Errorf("storage: check bucket %s: %w", s.bucket, classify(cctx, err))
	}
	if exists {
		return nil
	}
	cctx, cancel = s.deadline(ctx)
	defer cancel()
	err = s.core.MakeBucket(cctx, s.bucket, minio.MakeBucketOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("storage: create bucket %s: %w", s.bucket, classify(cctx, err))
	}
	return nil
}

// Put stores size bytes from r under key, streaming them to the server, and
// keeps the object only if those bytes hash to sha256Hex. The digest is
// checked twice: by the server, which receives it as the signed payload hash
// (X-Amz-Content-Sha256) and refuses a body that does not match, and on our
// side, where the last chunk is withheld when the digest or the size is
// wrong so the request cannot complete. If the Put fails for any reason, an
// object it may still have written is removed before Put returns, except
// when the store is unavailable (see failedPut). A digest mismatch yields
// ErrChecksumMismatch, a wrong size ErrSizeMismatch, a store that does not
// answer within the timeout (or cannot be reached) ErrUnavailable.
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
	cctx, cancel := s.deadline(ctx)
	defer cancel()
	err = s.upload(cctx, key, vr, size, want, contentType, upload)
	if err == nil && !vr.ok {
		err = errors.New("server accepted an upload that was not fully verified")
	}
	if err == nil {
		return nil
	}
	return s.failedPut(ctx, cctx, key, upload, vr.err, err)
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
		ServerSideEncryption: s.sse,
	}
	_, err := s.core.PutObject(ctx, s.bucket, key, body, size, "", wantHex, opts)
	return err
}

// failedPut explains a failed upload (clientErr is what our verifying
// reader found, if anything; callCtx the context the upload ran under) and
// removes whatever the upload may have left. When the store is unavailable
// the removal cannot be waited for without holding the caller past the
// timeout: it is tried once in the background, and an object it misses has
// no row pointing to it, so the orphan clean-up deletes it later.
func (s *Store) failedPut(ctx, callCtx context.Context, key, upload string, clientErr, err error) error {
	switch {
	case errors.Is(clientErr, ErrChecksumMismatch) || errors.Is(clientErr, ErrSizeMismatch):
		err = clientErr
	case isServerDigestMismatch(err):
		err = fmt.Errorf("%w: %w", ErrChecksumMismatch, err)
	default:
		err = classify(callCtx, err)
	}
	if errors.Is(err, ErrUnavailable) {
		go func() { _ = s.removeUpload(ctx, key, upload) }()
		return fmt.Errorf("put %s: %w", key, err)
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
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(cleanupTimeout, s.timeout))
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
// The store's timeout covers the whole call including every Read of the
// body, so a server that freezes mid-body fails the Read with
// ErrUnavailable instead of hanging; read the body at once. The caller must
// close the reader, which releases the deadline.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error) {
	cctx, cancel := s.deadline(ctx)
	rc, info, _, err := s.core.GetObject(cctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		cancel()
		return nil, ObjectInfo{}, readErr(cctx, "open", key, err)
	}
	return &body{rc: rc, ctx: cctx, cancel: cancel, key: key}, toObjectInfo(info), nil
}

// body is an object's content under the deadline of the Open that fetched
// it; read errors are classified like every other failure of the store.
type body struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelFunc
	key    string
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("read %s: %w", b.key, classify(b.ctx, err))
	}
	return n, err
}

// Close closes the body and releases its deadline.
func (b *body) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// Stat describes key without reading it; ErrNotFound when it is missing.
func (s *Store) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	info, err := s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, readErr(ctx, "stat", key, err)
	}
	return toObjectInfo(info), nil
}

// Delete removes key. Deleting a missing key succeeds, so retries and
// clean-up jobs need no special case.
func (s *Store) Delete(ctx context.Context, key string) error {
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	err := s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, classify(ctx, err))
	}
	return nil
}

// Ping checks cheaply that the server answers and the bucket exists, for
// /readyz. It gives up after the store's timeout, or two seconds when ctx
// has no deadline of its own.
func (s *Store) Ping(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pingTimeout)
		defer cancel()
	}
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	exists, err := s.probe.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("ping %s: %w", s.bucket, classify(ctx, err))
	}
	if !exists {
		return fmt.Errorf("ping %s: bucket missing: %w", s.bucket, ErrNotFound)
	}
	return nil
}

// errListStalled is the cause of a listing cancelled because the server
// sent nothing for a whole timeout.
var errListStalled = errors.New("the listing stalled")

// List yields the objects whose key starts with prefix and that were last
// modified before olderThan (every object when olderThan is zero), for the
// job that removes orphaned uploads. Listing stops at the first error,
// which is yielded; breaking out of the loop releases the listing. A
// listing makes one request per page, so its deadline is a watchdog rather
// than a total: it fails with ErrUnavailable when the server sends nothing
// for the store's timeout, while the time spent in the loop's body does not
// count.
func (s *Store) List(ctx context.Context, prefix string, olderThan time.Time) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		watchdog := time.AfterFunc(s.timeout, func() { cancel(errListStalled) })
		defer watchdog.Stop()
		opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
		for obj := range s.core.ListObjectsIter(ctx, s.bucket, opts) {
			watchdog.Stop()
			if obj.Err != nil {
				err := obj.Err
				if errors.Is(context.Cause(ctx), errListStalled) {
					err = fmt.Errorf("%w: %w: %w", ErrUnavailable, errListStalled, err)
				} else {
					err = classify(ctx, err)
				}
				yield(ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, err))
				return
			}
			if olderThan.IsZero() || obj.LastModified.Before(olderThan) {
				if !yield(toObjectInfo(obj), nil) {
					return
				}
			}
			watchdog.Reset(s.timeout)
		}
		if errors.Is(context.Cause(ctx), errListStalled) {
			yield(ObjectInfo{}, fmt.Errorf("list %s: %w: %w", prefix, ErrUnavailable, errListStalled))
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
