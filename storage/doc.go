// Package storage keeps the evidence images in an S3-compatible object store
// (MinIO) and can start a private MinIO server for development and tests.
//
// Store is the evidence store: Put streams an upload and refuses to keep it
// unless its bytes match the SHA-256 the caller declared, so an object that
// exists is always the one that was checked. Open, Stat, Delete, List and
// Ping cover reading, clean-up and readiness.
//
// StartLocal runs the bundled MinIO server binary (bin/minio, built by
// `make bin/minio`) on a free loopback port with credentials that are
// generated once per data directory, for `recoverydesk serve` without
// RD_S3_ENDPOINT, `make run` and the tests.
package storage
