// Package passhash hashes and verifies passwords with argon2id, with one set
// of parameters per process: production's by default, cheaper ones in tests
// only (so the suite stays fast without weakening what ships).
package passhash

import (
	"fmt"

	"github.com/alexedwards/argon2id"
)

// Production are the parameters used by every deployment: 64 MiB, 1
// iteration, 2 lanes (RFC 9106's second recommendation scaled to a 2-core
// server) — about 0.1 s per hash on the reference machine.
var Production = argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Testing are cheap parameters for test suites only.
var Testing = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Hasher hashes with fixed parameters and verifies any argon2id hash (the
// parameters are stored in the hash itself).
type Hasher struct {
	Params argon2id.Params
}

// Hash returns the encoded argon2id hash of password.
func (h Hasher) Hash(password string) (string, error) {
	p := h.Params
	if p.Memory == 0 {
		p = Production
	}
	s, err := argon2id.CreateHash(password, &p)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return s, nil
}

// Verify reports, in constant time, whether password matches hash.
func (h Hasher) Verify(password, hash string) (bool, error) {
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}
