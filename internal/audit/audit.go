// Package audit appends to and verifies Tandem's hash-chained audit trail.
//
// Every event stores the SHA-256 of its own canonical form together with the
// previous event's hash, so removing, reordering or editing any event breaks
// the chain at that point and Verify names it. Events are appended inside the
// caller's transaction: an audited change and its audit event commit together
// or not at all. SQLite's single writer serialises appends, so the chain has
// no forks.
package audit

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// Event is one thing that happened and who did it.
type Event struct {
	Actor      string         // user, superuser or agency token id
	ActorKind  string         // "user", "superuser", "agency_token" or "system"
	Device     string         // device id, for sync
	Action     string         // create, update, delete, sync_pull, sync_push, read_sensitive, revoke, token_use, purge...
	Collection string         // collection acted on
	RecordID   string         // record acted on
	Fields     []string       // fields touched or sent
	Details    map[string]any // anything else an auditor needs
	At         time.Time      // server time; zero means now
}

// Append writes events to the chain using app, which should be the
// transactional app of the change being audited. Called with a
// non-transactional app (for example to record a read), it opens its own
// transaction: reading the chain head and inserting must not interleave with
// another append, or two events would claim the same sequence number.
func Append(app core.App, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	if app.IsTransactional() {
		return appendTx(app, events)
	}
	return app.RunInTransaction(func(tx core.App) error { return appendTx(tx, events) })
}

func appendTx(app core.App, events []Event) error {
	return AppendInTx(app.DB(), events...)
}

// QueryMaker makes queries from SQL text: the transaction's dbx.Builder,
// or a cache that builds each query once.
type QueryMaker interface {
	NewQuery(sql string) *dbx.Query
}

// AppendInTx writes events to the chain through db, which must belong to
// the transaction of the change being audited (see Append). A sync push
// passes its statement cache, so a group of pushes builds the two queries
// once.
func AppendInTx(db QueryMaker, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	var last struct {
		Seq  int64  `db:"seq"`
		Hash string `db:"hash"`
	}
	err := db.NewQuery("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").One(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: read chain head: %w", err)
	}
	now := time.Now().UTC()
	insert := db.NewQuery(`INSERT INTO audit_events (id, seq, actor, actor_kind, device, action, collection, record_id, fields, details, at, prev_hash, hash)
		VALUES ({:id}, {:seq}, {:actor}, {:actor_kind}, {:device}, {:action}, {:collection}, {:record_id}, {:fields}, {:details}, {:at}, {:prev_hash}, {:hash})`)
	for _, ev := range events {
		if ev.At.IsZero() {
			ev.At = now
		}
		row := toRow(ev, last.Seq+1, last.Hash)
		row.Hash = row.computeHash()
		_, err := insert.Bind(dbx.Params{
			"id": row.ID, "seq": row.Seq, "actor": row.Actor, "actor_kind": row.ActorKind,
			"device": row.Device, "action": row.Action, "collection": row.Collection,
			"record_id": row.RecordID, "fields": row.Fields, "details": row.Details,
			"at": row.At, "prev_hash": row.PrevHash, "hash": row.Hash,
		}).Execute()
		if err != nil {
			return fmt.Errorf("audit: append %s: %w", ev.Action, err)
		}
		last.Seq, last.Hash = row.Seq, row.Hash
	}
	return nil
}

// row is an audit event as stored.
type row struct {
	ID         string `db:"id"`
	Seq        int64  `db:"seq"`
	Actor      string `db:"actor"`
	ActorKind  string `db:"actor_kind"`
	Device     string `db:"device"`
	Action     string `db:"action"`
	Collection string `db:"collection"`
	RecordID   string `db:"record_id"`
	Fields     string `db:"fields"`
	Details    string `db:"details"`
	At         string `db:"at"`
	PrevHash   string `db:"prev_hash"`
	Hash       string `db:"hash"`
}

func toRow(ev Event, seq int64, prev string) row {
	fields, _ := json.Marshal(nonNil(ev.Fields))
	details, _ := json.Marshal(ev.Details)
	if ev.Details == nil {
		details = []byte("{}")
	}
	return row{
		ID: security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789"), Seq: seq,
		Actor: ev.Actor, ActorKind: ev.ActorKind, Device: ev.Device, Action: ev.Action,
		Collection: ev.Collection, RecordID: ev.RecordID, Fields: string(fields), Details: string(details),
		At: ev.At.UTC().Format("2006-01-02 15:04:05.000Z"), PrevHash: prev,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// computeHash hashes every stored column except the hash itself, each
// length-prefixed so no two different events can share a canonical form.
func (r row) computeHash() string {
	h := sha256.New()
	for _, part := range []string{
		fmt.Sprint(r.Seq), r.Actor, r.ActorKind, r.Device, r.Action, r.Collection,
		r.RecordID, r.Fields, r.Details, r.At, r.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// BrokenLink says where the chain first fails to verify.
type BrokenLink struct {
	Seq    int64  // sequence number of the first bad event
	ID     string // its record id
	Reason string // what is wrong, for the privacy officer
}

func (b *BrokenLink) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d (event %s): %s", b.Seq, b.ID, b.Reason)
}

// Verify walks the whole chain in order. It returns the number of events
// checked and, if the chain is broken, a *BrokenLink naming the first bad
// event.
func Verify(app core.App) (int64, error) {
	rows, err := app.DB().NewQuery(`SELECT id, seq, actor, actor_kind, device, action, collection, record_id,
		fields, details, at, prev_hash, hash FROM audit_events ORDER BY seq`).Rows()
	if err != nil {
		return 0, fmt.Errorf("audit: read chain: %w", err)
	}
	defer rows.Close()
	var n, expectSeq int64 = 0, 1
	prev := ""
	for rows.Next() {
		var r row
		if err := rows.ScanStruct(&r); err != nil {
			return n, fmt.Errorf("audit: read event: %w", err)
		}
		switch {
		case r.Seq != expectSeq:
			return n, &BrokenLink{Seq: r.Seq, ID: r.ID, Reason: fmt.Sprintf("expected seq %d: an event is missing", expectSeq)}
		case r.PrevHash != prev:
			return n, &BrokenLink{Seq: r.Seq, ID: r.ID, Reason: "prev_hash does not match the previous event's hash"}
		case r.computeHash() != r.Hash:
			return n, &BrokenLink{Seq: r.Seq, ID: r.ID, Reason: "event content does not match its hash: it was edited"}
		}
		prev, expectSeq = r.Hash, expectSeq+1
		n++
	}
	return n, rows.Err()
}
