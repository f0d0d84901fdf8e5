package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"recoverydesk/ent"
	"recoverydesk/ent/auditevent"
	"recoverydesk/ent/kventry"
	"recoverydesk/internal/db"
)

// chainLock names the lock that serialises appends to the chain.
const chainLock = "audit-chain"

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

// lastLink reads the newest entry of the chain (under the chain lock).
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
	value := []byte(strconv.FormatInt(seq, 10) + ":" + hash)
	err := tx.Ent.KVEntry.Create().SetKey(headKey).SetValue(value).SetExpiresAt(0).
		OnConflictColumns(kventry.FieldKey).UpdateValue().Exec(ctx)
	if err != nil {
		return fmt.Errorf("save chain head: %w", err)
	}
	return nil
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
	seqText, hash, ok := strings.Cut(string(row.Value), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil {
		return link{}, true, nil // a mangled head is reported as a mismatch
	}
	return link{Seq: seq, Hash: hash}, true, nil
}
