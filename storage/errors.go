package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"

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

// ErrUnavailable reports that the object store could not serve a call: it
// did not answer within the store's timeout (RD_S3_TIMEOUT), could not be
// reached, dropped the connection, or answered with a server error. It is
// the one error the HTTP layer maps to 503 storage_unavailable; trying again
// later may work, and nothing was kept of a Put that failed with it.
var ErrUnavailable = errors.New("storage: object store unavailable")

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

// readErr wraps an error of a read operation made under ctx, translating
// "missing" into ErrNotFound and an unreachable store into ErrUnavailable
// while keeping the original error in the chain.
func readErr(ctx context.Context, op, key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %s: %w: %w", op, key, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, classify(ctx, err))
}

// classify marks err, the failure of one call made under ctx, with
// ErrUnavailable when it means the store could not serve the call.
func classify(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isUnavailable(ctx, err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// isUnavailable tells whether err (of a call made under ctx) means the
// store is out of reach rather than that the request was wrong: the call's
// deadline passed, the network failed, or the server answered 5xx (MinIO
// says 503 while it starts). A caller that cancelled is not the store's
// fault.
func isUnavailable(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{io.ErrUnexpectedEOF, syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE} {
		if errors.Is(err, e) {
			return true
		}
	}
	return minio.ToErrorResponse(err).StatusCode >= http.StatusInternalServerError
}
