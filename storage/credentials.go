package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// rootCredentials are the root user of a local MinIO server.
type rootCredentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	// kmsKey is MINIO_KMS_SECRET_KEY, kept in its own file (kms.key).
	kmsKey string
}

// loadOrCreateCredentials reads the credentials kept at path, or generates
// and stores new ones (mode 0600) when there are none yet. Creation is
// atomic, so two starts racing on one data directory agree on one pair.
func loadOrCreateCredentials(path string) (rootCredentials, error) {
	c, err := readCredentials(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	c = rootCredentials{AccessKey: "rd" + randomHex(8), SecretKey: randomHex(20)}
	if err := createExclusive(path, c); err != nil && !errors.Is(err, fs.ErrExist) {
		return c, err
	}
	return readCredentials(path) // ours, or those of whoever won the race
}

// readCredentials loads and checks a credentials file.
func readCredentials(path string) (rootCredentials, error) {
	var c rootCredentials
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read minio credentials: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read minio credentials %s: %w", path, err)
	}
	if len(c.AccessKey) < 3 || len(c.SecretKey) < 8 {
		return c, fmt.Errorf("read minio credentials %s: keys too short", path)
	}
	return c, nil
}

// createExclusive writes c to path unless path already exists: the content
// goes to a temporary file first and is then hard-linked into place, so a
// reader never sees a half-written file.
func createExclusive(path string, c rootCredentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("write minio credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write minio credentials: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("write minio credentials: %w", err)
	}
	return nil
}
