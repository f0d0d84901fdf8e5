package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/kventry"
	"recoverydesk/internal/db"
)

// headKey is the kv_entries row that remembers the last link (seq and hash).
// It lets Verify notice entries cut from the end of the log, which leave no
// broken link behind them.
const headKey = "audit:chain-head"

// encodingVersion is the first element of every hashed encoding, so that a
// later change of the encoding is explicit rather than silent.
const encodingVersion = "rd-audit-v1"

// link is the end of the chain an append attaches to.
type link struct {
	Seq  int64
	Hash string
}

// entry is an audit event as it is hashed and stored.
type entry struct {
	Seq                      int64
	At                       time.Time
	ActorKind, Actor, Action string
	ObjectType, ObjectID     string
	Detail                   map[string]any
	IP, RequestID            string
	PrevHash, Hash           string
}

// prepare normalises e into what the database will give back when it is
// read (microsecond UTC time, valid UTF-8, JSON-shaped detail); linkTo then
// hashes it onto the chain. Normalising first is what makes the hash
// recomputable from the stored row on either database.
func prepare(e Event) (entry, error) {
	detail, err := normaliseDetail(e.Detail)
	if err != nil {
		return entry{}, err
	}
	maskStrings(detail)
	return entry{
		At:        e.At.UTC().Truncate(time.Microsecond),
		ActorKind: valid(string(e.ActorKind)), Actor: valid(MaskText(e.Actor)), Action: valid(string(e.Action)),
		ObjectType: valid(e.ObjectType), ObjectID: valid(e.ObjectID), Detail: detail,
		IP: valid(e.IP), RequestID: valid(e.RequestID),
	}, nil
}

// linkTo is the prepared entry as the one after prev, with its hash.
func (en entry) linkTo(prev link) (entry, error) {
	en.Seq, en.PrevHash = prev.Seq+1, prev.Hash
	var err error
	en.Hash, err = en.digest()
	return en, err
}

func valid(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// normaliseDetail gives detail the shape JSON decoding gives it back
// (numbers as float64, structs as maps, sorted keys when encoded).
func normaliseDetail(d map[string]any) (map[string]any, error) {
	if d == nil {
		return nil, nil
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode detail: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decode detail: %w", err)
	}
	return out, nil
}

// maskStrings masks, in place, whatever looks like a phone, ID or credit
// number in a detail's strings (MaskText): callers pass masked values, and
// this makes sure no number reaches the audit table in clear whatever a
// caller passes, nor the actor (a typed sign-in name can be a number).
func maskStrings(v any) any {
	switch x := v.(type) {
	case string:
		return MaskText(x)
	case map[string]any:
		for k, e := range x {
			x[k] = maskStrings(e)
		}
	case []any:
		for i, e := range x {
			x[i] = maskStrings(e)
		}
	}
	return v
}

// digest is SHA-256 over the canonical encoding: a JSON array of the
// version, every field in a fixed order, and the previous hash. Detail
// encodes with sorted keys (encoding/json sorts map keys).
func (en entry) digest() (string, error) {
	canonical, err := json.Marshal([]any{
		encodingVersion, en.Seq, en.At.UTC().Format(time.RFC3339Nano),
		en.ActorKind, en.Actor, en.Action, en.ObjectType, en.ObjectID, en.Detail,
		en.IP, en.RequestID, en.PrevHash,
	})
	if err != nil {
		return "", fmt.Errorf("encode entry: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

func entryOf(row *ent.AuditEvent) entry {
	en := entry{At: row.At, ActorKind: row.ActorKind, Actor: row.Actor, Action: row.Action,
		ObjectType: row.ObjectType, ObjectID: row.ObjectID, Detail: row.Detail,
		IP: row.IP, RequestID: row.RequestID, PrevHash: row.PrevHash, Hash: row.Hash}
	if row.Seq != nil {
		en.Seq = *row.Seq
	}
	return en
}

// lastLink reads the newest entry of the log (under the chain lock).
func lastLink(ctx context.Context, tx *db.Tx) (link, error) {
	last, err := tx.Ent.AuditEvent.Query().Where(auditevent.SeqNotNil()).
		Order(ent.Desc(auditevent.FieldSeq)).Select(auditevent.FieldSeq, auditevent.FieldHash).First(ctx)
	if ent.IsNotFound(err) {
		return link{}, nil
	}
	if err != nil {
		return link{}, fmt.Errorf("read chain end: %w", err)
	}
	return link{Seq: *last.Seq, Hash: last.Hash}, nil
}

// saveHead records the newest link beside the log.
func saveHead(ctx context.Context, tx *db.Tx, seq int64, hash string) error {
	err := tx.Ent.KVEntry.Create().SetKey(headKey).SetValue(headValue(seq, hash)).SetExpiresAt(0).
		OnConflictColumns(kventry.FieldKey).UpdateValue().Exec(ctx)
	if err != nil {
		return fmt.Errorf("save chain head: %w", err)
	}
	return nil
}

// headValue is the head row's value for the link (seq, hash).
func headValue(seq int64, hash string) []byte {
	return []byte(strconv.FormatInt(seq, 10) + ":" + hash)
}

// parseHead reads a head row's value; ok is false for an empty or mangled one.
func parseHead(value []byte) (link, bool) {
	seqText, hash, ok := strings.Cut(string(value), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 1 {
		return link{}, false
	}
	return link{Seq: seq, Hash: hash}, true
}

// lockChainEnd takes the chain lock and returns the link the next entry
// follows. On PostgreSQL the lock is the head row's (SELECT … FOR UPDATE):
// one round trip both waits for the appender before and reads the head it
// committed. The head is followed when it is at least the log's end; an
// empty or mangled head, or one behind the log, gives way to the log's own
// newest entry (read under the lock). Following the head means that entries
// cut from the end of the log leave a gap the next append does not hide.
func lockChainEnd(ctx context.Context, tx *db.Tx) (link, error) {
	var value []byte
	var logEnd sql.NullInt64
	if tx.Postgres() {
		const q = "SELECT value, (SELECT max(seq) FROM audit_events) FROM kv_entries WHERE key = $1 FOR UPDATE"
		for attempt := 0; ; attempt++ {
			err := tx.SQL.QueryRowContext(ctx, q, headKey).Scan(&value, &logEnd)
			if err == nil {
				break
			}
			if !errors.Is(err, sql.ErrNoRows) || attempt > 0 {
				return link{}, fmt.Errorf("lock the chain: %w", err)
			}
			// No head row yet (a new log, or a deleted head): create an empty
			// one to lock, then lock it as above.
			if _, err := tx.SQL.ExecContext(ctx, "INSERT INTO kv_entries (key, value, expires_at, hits) VALUES ($1, $2, 0, 0) ON CONFLICT (key) DO NOTHING",
				headKey, []byte{}); err != nil {
				return link{}, fmt.Errorf("create the chain head: %w", err)
			}
		}
	} else {
		// SQLite's write transactions are serialised already.
		if err := tx.SQL.QueryRowContext(ctx, "SELECT (SELECT value FROM kv_entries WHERE key = ?), (SELECT max(seq) FROM audit_events)",
			headKey).Scan(&value, &logEnd); err != nil {
			return link{}, fmt.Errorf("read the chain end: %w", err)
		}
	}
	if head, ok := parseHead(value); ok && (!logEnd.Valid || head.Seq >= logEnd.Int64) {
		return head, nil
	}
	return lastLink(ctx, tx)
}

// readHead returns the newest link recorded beside the log, if any.
func readHead(ctx context.Context, client *ent.Client) (link, bool, error) {
	row, err := client.KVEntry.Query().Where(kventry.Key(headKey)).Only(ctx)
	if ent.IsNotFound(err) {
		return link{}, false, nil
	}
	if err != nil {
		return link{}, false, err
	}
	head, ok := parseHead(row.Value)
	if !ok {
		return link{}, true, nil // a mangled head is reported as a mismatch
	}
	return head, true, nil
}
