package storage

import (
	"errors"
	"fmt"

	"github.com/minio/minio-go/v7"
)

// ErrNotFound reports that the object (or its bucket) does not exist, so
// callers can answer 404 without knowing MinIO's error codes.
var ErrNotFound = errors.New("storage: object not found")

// ErrChecksumMismatch reports that the uploaded bytes did not hash to the
// declared SHA-256; the upload was refused and no object was kept.
var ErrChecksumMismatch = errors.New("storage: sha256 of the uploaded bytes does not match the declared one")

// ErrSizeMismatch reports that the reader given to Put yielded fewer or more
// bytes than the declared size; the upload was refused and no object was kept.
var ErrSizeMismatch = errors.New("storage: uploaded byte count does not match the declared size")

// ErrNoBinary reports that the MinIO server binary is missing, so callers
// (tests) can tell "not installed" from "failed to start".
var ErrNoBinary = errors.New(`storage: MinIO server binary not found (run "make bin/minio")`)

// S3 error codes that mean "nothing there" on reads.
const (
	codeNoSuchKey    = "NoSuchKey"
	codeNoSuchBucket = "NoSuchBucket"
)

// isNotFound tells whether a minio-go error means the key or bucket is missing.
func isNotFound(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case codeNoSuchKey, codeNoSuchBucket:
		return true
	}
	return false
}

// isServerDigestMismatch tells whether MinIO refused an upload because the
// payload did not match the SHA-256 (or MD5) announced with the request.
func isServerDigestMismatch(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case "XAmzContentSHA256Mismatch", "BadDigest":
		return true
	}
	return false
}

// readErr wraps an error of a read operation, translating "missing" into
// ErrNotFound while keeping the original error in the chain.
func readErr(op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %s: %w: %w", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}
