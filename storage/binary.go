package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// EnvMinIOBinary names the environment variable that points at the MinIO
// server binary, for installs where it is not in the module's bin/.
const EnvMinIOBinary = "RD_MINIO_BIN"

// FindBinary locates the MinIO server binary: $RD_MINIO_BIN when set, else
// bin/minio in the directory holding go.mod found by walking up from the
// working directory (tests run inside package directories), else a "minio"
// next to the running executable. When go.mod is found but its bin/minio is
// not built yet, that path is still returned so the caller's error names it;
// with nothing to go on the error wraps ErrNoBinary.
func FindBinary() (string, error) {
	if p := os.Getenv(EnvMinIOBinary); p != "" {
		return p, nil
	}
	root, rootErr := moduleRoot()
	inModule := filepath.Join(root, "bin", "minio")
	if rootErr == nil && exists(inModule) {
		return inModule, nil
	}
	if exe, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(exe), "minio"); exists(p) {
			return p, nil
		}
	}
	if rootErr == nil {
		return inModule, nil
	}
	return "", fmt.Errorf("%w: %s is not set and %w", ErrNoBinary, EnvMinIOBinary, rootErr)
}

// moduleRoot walks up from the working directory to the one holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if exists(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// exists tells whether path names an existing file.
func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
