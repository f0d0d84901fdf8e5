package storage

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
)

// verifyingReader passes exactly size bytes through while hashing them, and
// checks the digest and the size before it hands over the last byte: when
// the check fails the final chunk is withheld and an error returned instead,
// so the HTTP request is aborted before the server has received the whole
// declared Content-Length and it can never complete the object.
type verifyingReader struct {
	r    io.Reader
	size int64
	n    int64
	want []byte
	h    hash.Hash
	err  error // sticky failure
	ok   bool  // size and digest verified
}

// newVerifyingReader wraps r, expecting size bytes hashing to want.
func newVerifyingReader(r io.Reader, size int64, want []byte) *verifyingReader {
	return &verifyingReader{r: r, size: size, want: want, h: sha256.New()}
}

// Read implements io.Reader; see verifyingReader.
func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.n >= v.size {
		return 0, io.EOF
	}
	if rem := v.size - v.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	k, err := v.r.Read(p)
	v.h.Write(p[:k])
	v.n += int64(k)
	switch {
	case v.n == v.size:
		if ferr := v.finish(); ferr != nil {
			return 0, ferr // withhold the last bytes: the request can't complete
		}
		return k, nil
	case errors.Is(err, io.EOF):
		v.err = fmt.Errorf("%w: got %d bytes, declared %d", ErrSizeMismatch, v.n, v.size)
		return 0, v.err
	case err != nil:
		v.err = err
		return 0, err
	}
	return k, nil
}

// finish runs once all declared bytes were read: it makes sure the source
// has nothing more and that the digest matches, recording the outcome.
func (v *verifyingReader) finish() error {
	var extra [1]byte
	switch k, err := io.ReadFull(v.r, extra[:]); {
	case k > 0:
		v.err = fmt.Errorf("%w: more than the declared %d bytes", ErrSizeMismatch, v.size)
	case !errors.Is(err, io.EOF):
		v.err = fmt.Errorf("read past the declared size: %w", err)
	case subtle.ConstantTimeCompare(v.h.Sum(nil), v.want) != 1:
		v.err = fmt.Errorf("%w: got %x, declared %x", ErrChecksumMismatch, v.h.Sum(nil), v.want)
	default:
		v.ok = true
	}
	return v.err
}

// decodeSHA256 parses a hex SHA-256 digest as declared by a caller.
func decodeSHA256(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("invalid sha256 %q: want %d hex digits", s, 2*sha256.Size)
	}
	return b, nil
}
