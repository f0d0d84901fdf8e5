package storage

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// tailSize is how much of the server's latest output is kept for errors.
const tailSize = 4 << 10

// serverLog receives the MinIO process's output: it appends it to a file,
// forwards complete lines to a logger at debug level, and remembers the
// last few kilobytes so a failed start can show them.
type serverLog struct {
	mu      sync.Mutex
	file    *os.File
	logger  *slog.Logger
	partial []byte // an unfinished line
	tail    []byte
}

// openServerLog opens (appends to) the log file at path.
func openServerLog(path string, logger *slog.Logger) (*serverLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open minio log: %w", err)
	}
	return &serverLog{file: f, logger: logger}, nil
}

// Write implements io.Writer; it never fails, so the server never blocks
// or dies because of its log.
func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_, _ = l.file.Write(p)
	}
	l.tail = append(l.tail, p...)
	if over := len(l.tail) - tailSize; over > 0 {
		l.tail = append(l.tail[:0], l.tail[over:]...)
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if line := bytes.TrimSpace(l.partial[:i]); len(line) > 0 {
			l.logger.Debug("minio", "line", string(line))
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// Tail returns the latest output.
func (l *serverLog) Tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(bytes.TrimSpace(l.tail))
}

// Close closes the file; later writes only reach the logger and the tail.
func (l *serverLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
}
