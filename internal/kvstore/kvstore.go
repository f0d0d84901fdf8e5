// Package kvstore is a fiber.Storage on the database (table kv_entries), for
// sessions, CSRF tokens and rate-limit counters. Keeping them in the database
// lets several instances share them without another server to run.
package kvstore

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"recoverydesk/ent"
	"recoverydesk/ent/kventry"
	"recoverydesk/internal/clock"
)

// Store is a fiber.Storage whose keys are namespaced by a prefix, so that
// sessions, CSRF tokens and counters can share one table.
type Store struct {
	client *ent.Client
	keyspace
}

// New returns a store on client whose keys get prefix (e.g. "sess:").
// Expiry reads clk, so session timeouts follow the application clock like
// every other business rule.
func New(client *ent.Client, prefix string, clk clock.Clock) *Store {
	return &Store{client: client, keyspace: keyspace{prefix: prefix, clock: clk}}
}

// keyspace is what a Store and Counters share: the prefix of their keys in
// kv_entries (sessions, CSRF tokens and counters share the table), the
// clock their expiry and windows read, and the deadline of each statement
// (ctx).
type keyspace struct {
	prefix string
	clock  clock.Clock
}

// statementTimeout bounds each statement on kv_entries, so a request never
// hangs on a stuck database (fiber.Storage's calls carry no deadline of
// their own).
const statementTimeout = 5 * time.Second

// ctx bounds one statement run for parent.
func (keyspace) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, statementTimeout)
}

// Get returns the value of key, or nil when it is missing or expired.
func (s *Store) Get(key string) ([]byte, error) {
	val, _, err := s.get(key)
	return val, err
}

// get is Get with the entry's expiry (Unix seconds, 0 = none).
func (s *Store) get(key string) ([]byte, int64, error) {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	e, err := s.client.KVEntry.Query().Where(kventry.Key(s.prefix + key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("kv get: %w", err)
	}
	if e.ExpiresAt != 0 && e.ExpiresAt <= s.clock.Now().Unix() {
		return nil, 0, nil
	}
	return e.Value, e.ExpiresAt, nil
}

// Set stores val under key for exp (0 = no expiry), replacing any old value.
func (s *Store) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	var expiresAt int64
	if exp > 0 {
		expiresAt = s.clock.Now().Add(exp).Unix()
	}
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	err := s.client.KVEntry.Create().SetKey(s.prefix + key).SetValue(val).SetExpiresAt(expiresAt).
		OnConflict(sql.ConflictColumns(kventry.FieldKey)).UpdateNewValues().Exec(ctx)
	if err != nil {
		return fmt.Errorf("kv set: %w", err)
	}
	return nil
}

// Delete removes key.
func (s *Store) Delete(key string) error {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	_, err := s.client.KVEntry.Delete().Where(kventry.Key(s.prefix + key)).Exec(ctx)
	return err
}

// Reset removes every key of this store's prefix.
func (s *Store) Reset() error {
	ctx, cancel := s.ctx(context.Background())
	defer cancel()
	_, err := s.client.KVEntry.Delete().Where(kventry.KeyHasPrefix(s.prefix)).Exec(ctx)
	return err
}

// Close does nothing: the database outlives the store.
func (s *Store) Close() error { return nil }

// DeleteExpired removes expired entries of every prefix; run it periodically.
func DeleteExpired(ctx context.Context, client *ent.Client, now time.Time) (int, error) {
	return client.KVEntry.Delete().
		Where(kventry.ExpiresAtGT(0), kventry.ExpiresAtLTE(now.Unix())).Exec(ctx)
}
