package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// ErrNoEncryption reports an object store that cannot encrypt what it
// stores (no KMS configured): evidence must not be written to it in clear
// unless the operator said so (RD_S3_ALLOW_PLAINTEXT=1).
var ErrNoEncryption = errors.New("storage: the object store cannot encrypt objects at rest (server-side encryption SSE-S3 needs a KMS)")

// kmsKeyFile holds the bundled server's master key (MINIO_KMS_SECRET_KEY),
// 0600 beside the credentials. Losing it loses every evidence object, so
// it belongs in the backups with the data directory.
const kmsKeyFile = "kms.key"

// kmsKeyName names the key inside MinIO; objects remember it, so it never
// changes.
const kmsKeyName = "recoverydesk-evidence"

// sseHeader is the response header that says an object is encrypted.
const sseHeader = "X-Amz-Server-Side-Encryption"

// loadOrCreateKMSKey returns the bundled server's MINIO_KMS_SECRET_KEY
// value ("name:base64 of 32 bytes"), generating it on the first start.
// Creation is atomic like the credentials'.
func loadOrCreateKMSKey(path string) (string, error) {
	key, err := readKMSKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate the minio KMS key: %w", err)
	}
	line := kmsKeyName + ":" + base64.StdEncoding.EncodeToString(raw) + "\n"
	if err := writeExclusive(path, []byte(line)); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("write the minio KMS key: %w", err)
	}
	return readKMSKey(path)
}

// readKMSKey loads and checks the key file.
func readKMSKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the minio KMS key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	name, b64, ok := strings.Cut(key, ":")
	raw, derr := base64.StdEncoding.DecodeString(b64)
	if !ok || name == "" || derr != nil || len(raw) != 32 {
		return "", fmt.Errorf("read the minio KMS key %s: not \"name:base64 of 32 bytes\"", path)
	}
	return key, nil
}

// writeExclusive writes data to path (0600) unless path already exists:
// the content goes to a temporary file first and is then hard-linked into
// place, so a reader never sees a half-written file.
func writeExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

// probeKey is where New writes its encryption probe; outside evidence/, so
// no clean-up job ever looks at it.
const probeKey = ".rd-probe/sse"

// probeEncryption writes a small object with SSE-S3 and reads back whether
// the server encrypted it: a server without a KMS refuses the header, and
// one that ignores it does not say AES256. Either is ErrNoEncryption; a
// server that does not answer is ErrUnavailable.
func (s *Store) probeEncryption(ctx context.Context) error {
	cctx, cancel := s.deadline(ctx)
	defer cancel()
	key := probeKey + "-" + randomHex(8)
	body := []byte("recoverydesk encryption probe")
	_, err := s.core.Client.PutObject(cctx, s.bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ServerSideEncryption: encrypt.NewSSE(), DisableMultipart: true})
	if err != nil {
		if e := classify(cctx, err); errors.Is(e, ErrUnavailable) && minio.ToErrorResponse(err).Code == "" {
			return fmt.Errorf("storage: probe encryption: %w", e)
		}
		return fmt.Errorf("%w: %s", ErrNoEncryption, minio.ToErrorResponse(err).Code)
	}
	defer func() { _ = s.core.RemoveObject(cctx, s.bucket, key, minio.RemoveObjectOptions{}) }()
	info, err := s.core.StatObject(cctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return fmt.Errorf("storage: probe encryption: %w", classify(cctx, err))
	}
	if info.Metadata.Get(sseHeader) != "AES256" && info.Metadata.Get(sseHeader) != "aws:kms" {
		return fmt.Errorf("%w: the server ignored the encryption request", ErrNoEncryption)
	}
	return nil
}

// Encrypted reports whether the store writes new objects encrypted (false
// only when RD_S3_ALLOW_PLAINTEXT let a store without a KMS be used).
func (s *Store) Encrypted() bool { return s.sse != nil }

// EncryptExisting re-encrypts, in place, every object of the bucket that
// was stored in clear (before encryption at rest, or while the store was
// allowed to be plain): each is copied onto itself with SSE-S3, keeping
// its content type and metadata. It returns how many it re-encrypted; run
// again after a failure, it carries on where it stopped.
func (s *Store) EncryptExisting(ctx context.Context) (int, error) {
	if s.sse == nil {
		return 0, ErrNoEncryption
	}
	n := 0
	for obj, err := range s.List(ctx, "", time.Time{}) {
		if err != nil {
			return n, err
		}
		done, err := s.encryptOne(ctx, obj.Key)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// encryptOne copies key onto itself encrypted unless it is already.
func (s *Store) encryptOne(ctx context.Context, key string) (bool, error) {
	cctx, cancel := s.deadline(ctx)
	defer cancel()
	info, err := s.core.StatObject(cctx, s.bucket, key, minio.StatObjectOptions{})
	if isNotFound(err) {
		return false, nil // deleted since it was listed
	}
	if err != nil {
		return false, readErr(cctx, "stat", key, err)
	}
	if info.Metadata.Get(sseHeader) != "" {
		return false, nil
	}
	meta := map[string]string{}
	for k, v := range info.UserMetadata {
		meta[k] = v
	}
	_, err = s.core.Client.CopyObject(cctx,
		minio.CopyDestOptions{Bucket: s.bucket, Object: key, Encryption: s.sse, ReplaceMetadata: true,
			UserMetadata: meta, ContentType: info.ContentType},
		minio.CopySrcOptions{Bucket: s.bucket, Object: key, MatchETag: info.ETag})
	if err != nil {
		return false, fmt.Errorf("encrypt %s: %w", key, classify(cctx, err))
	}
	return true, nil
}
