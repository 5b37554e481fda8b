package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// Record is one record as the app shows it: the server's copy with the
// device's unpushed changes laid on top.
type Record struct {
	Collection string
	ID         string
	// Version is the server version the local copy is based on (0 for a
	// record created on this device and not pulled back yet).
	Version int64
	// Fields are the visible fields, JSON-decoded (string, float64, bool,
	// []any, map[string]any, nil).
	Fields map[string]any
	// Pending counts this record's changes still waiting in the queue
	// (applied changes not yet pulled back are shown but not counted).
	Pending int
}

// Create records a new record offline and queues it. The id is generated
// on the device. fields must not contain "id". It returns the queued
// mutation (its RecordID is the new record's id).
func (c *Client) Create(ctx context.Context, collection string, fields map[string]any) (protocol.Mutation, error) {
	if _, ok := fields["id"]; ok {
		return protocol.Mutation{}, errors.New("client: Create generates the id; leave \"id\" out of fields")
	}
	m := protocol.Mutation{MutationID: NewUUID(), Collection: collection, RecordID: NewUUID(), Op: protocol.OpCreate}
	var err error
	if m.Fields, err = encodeFields(fields); err != nil {
		return m, err
	}
	return m, c.enqueue(ctx, m)
}

// Update records a change to some fields of a record the device holds and
// queues it, with the version and values the edit was based on.
func (c *Client) Update(ctx context.Context, collection, id string, fields map[string]any) (protocol.Mutation, error) {
	m := protocol.Mutation{MutationID: NewUUID(), Collection: collection, RecordID: id, Op: protocol.OpUpdate}
	err := inTx(ctx, c.db, func(tx *sql.Tx) error {
		_, found, err := c.get(ctx, tx, collection, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %s/%s", ErrNotFound, collection, id)
		}
		if m.Fields, err = encodeFields(fields); err != nil {
			return err
		}
		base, baseFields, err := serverCopy(ctx, tx, collection, id)
		if err != nil {
			return err
		}
		m.BaseVersion = base
		// The server copy's values are what both edits started from; the
		// server keeps them in a conflict for the team lead.
		for name := range fields {
			if v, ok := baseFields[name]; ok {
				raw, _ := json.Marshal(v)
				if m.BaseValues == nil {
					m.BaseValues = map[string]json.RawMessage{}
				}
				m.BaseValues[name] = raw
			}
		}
		return c.insertQueue(ctx, tx, m)
	})
	return m, err
}

// Delete records the deletion of a record the device holds and queues it.
// The server allows it to team leads only; others get a rejection.
func (c *Client) Delete(ctx context.Context, collection, id string) (protocol.Mutation, error) {
	m := protocol.Mutation{MutationID: NewUUID(), Collection: collection, RecordID: id, Op: protocol.OpDeleteRecord}
	err := inTx(ctx, c.db, func(tx *sql.Tx) error {
		_, found, err := c.get(ctx, tx, collection, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %s/%s", ErrNotFound, collection, id)
		}
		if m.BaseVersion, _, err = serverCopy(ctx, tx, collection, id); err != nil {
			return err
		}
		return c.insertQueue(ctx, tx, m)
	})
	return m, err
}

// Get returns the record as the app shows it; found is false when the
// device does not hold it (or holds only its deletion).
func (c *Client) Get(ctx context.Context, collection, id string) (Record, bool, error) {
	return c.get(ctx, c.db, collection, id)
}

func (c *Client) get(ctx context.Context, q querier, collection, id string) (Record, bool, error) {
	rec := Record{Collection: collection, ID: id}
	seq, fields, err := serverCopy(ctx, q, collection, id)
	if err != nil {
		return rec, false, err
	}
	rec.Version = seq
	rec.Fields = fields
	awaiting, err := c.awaiting(ctx, q, `AND collection = ? AND record_id = ?`, collection, id)
	if err != nil {
		return rec, false, err
	}
	for _, m := range awaiting {
		rec.Fields = overlay(rec.Fields, m)
	}
	queued, err := c.queued(ctx, q, `WHERE collection = ? AND record_id = ?`, collection, id)
	if err != nil {
		return rec, false, err
	}
	for _, m := range queued {
		rec.Fields = overlay(rec.Fields, m)
		rec.Pending++
	}
	return rec, rec.Fields != nil, nil
}

// List returns every record of a collection as the app shows it, ordered
// by id.
func (c *Client) List(ctx context.Context, collection string) ([]Record, error) {
	byID := map[string]*Record{}
	rows, err := c.db.QueryContext(ctx, `SELECT id, seq, data FROM records WHERE collection = ?`, collection)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		r := &Record{Collection: collection}
		var data string
		if err := rows.Scan(&r.ID, &r.Version, &data); err != nil {
			rows.Close()
			return nil, err
		}
		if err := json.Unmarshal([]byte(data), &r.Fields); err != nil {
			rows.Close()
			return nil, fmt.Errorf("client: stored record %s/%s is corrupt: %w", collection, r.ID, err)
		}
		byID[r.ID] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	awaiting, err := c.awaiting(ctx, c.db, `AND collection = ?`, collection)
	if err != nil {
		return nil, err
	}
	queued, err := c.queued(ctx, c.db, `WHERE collection = ?`, collection)
	if err != nil {
		return nil, err
	}
	for i, m := range append(awaiting, queued...) {
		r := byID[m.RecordID]
		if r == nil {
			r = &Record{Collection: collection, ID: m.RecordID}
			byID[m.RecordID] = r
		}
		r.Fields = overlay(r.Fields, m)
		if i >= len(awaiting) {
			r.Pending++
		}
	}
	out := make([]Record, 0, len(byID))
	for _, r := range byID {
		if r.Fields != nil {
			out = append(out, *r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// serverCopy reads the pulled copy of a record (nil fields when absent).
func serverCopy(ctx context.Context, q querier, collection, id string) (int64, map[string]any, error) {
	var seq int64
	var data string
	err := q.QueryRowContext(ctx, `SELECT seq, data FROM records WHERE collection = ? AND id = ?`, collection, id).Scan(&seq, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(data), &fields); err != nil {
		return 0, nil, fmt.Errorf("client: stored record %s/%s is corrupt: %w", collection, id, err)
	}
	return seq, fields, nil
}

// overlay lays one queued change over a record's fields (nil = absent).
func overlay(fields map[string]any, m protocol.Mutation) map[string]any {
	switch m.Op {
	case protocol.OpDeleteRecord:
		return nil
	case protocol.OpCreate:
		if fields == nil {
			fields = map[string]any{"id": m.RecordID}
		}
	case protocol.OpUpdate:
		if fields == nil {
			return nil // an update of a record no longer held shows nothing
		}
	}
	out := make(map[string]any, len(fields)+len(m.Fields))
	for k, v := range fields {
		out[k] = v
	}
	for k, raw := range m.Fields {
		var v any
		_ = json.Unmarshal(raw, &v)
		out[k] = v
	}
	return out
}

func encodeFields(fields map[string]any) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("client: field %q cannot be encoded as JSON: %w", k, err)
		}
		out[k] = raw
	}
	return out, nil
}

func (c *Client) enqueue(ctx context.Context, m protocol.Mutation) error {
	return inTx(ctx, c.db, func(tx *sql.Tx) error { return c.insertQueue(ctx, tx, m) })
}

func (c *Client) insertQueue(ctx context.Context, tx *sql.Tx, m protocol.Mutation) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO queue (mutation_id, collection, record_id, op, body, queued_at) VALUES (?, ?, ?, ?, ?, ?)`,
		m.MutationID, m.Collection, m.RecordID, m.Op, string(body), c.now())
	return err
}

// queued reads queued mutations in order; where filters (with args).
func (c *Client) queued(ctx context.Context, q querier, where string, args ...any) ([]protocol.Mutation, error) {
	return readMutations(ctx, q, "queued", `SELECT body FROM queue `+where+` ORDER BY pos`, args...)
}

// awaiting reads the applied changes a pull has not brought back yet, in
// the order they were made; and filters (with args).
func (c *Client) awaiting(ctx context.Context, q querier, and string, args ...any) ([]protocol.Mutation, error) {
	return readMutations(ctx, q, "kept", `SELECT mutation FROM results WHERE awaiting = 1 `+and+` ORDER BY rowid`, args...)
}

// readMutations decodes the one JSON mutation column that query selects;
// kind names the table's contents in the error for a corrupt row.
func readMutations(ctx context.Context, q querier, kind, query string, args ...any) ([]protocol.Mutation, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []protocol.Mutation
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var m protocol.Mutation
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			return nil, fmt.Errorf("client: %s mutation is corrupt: %w", kind, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// Queue returns the changes waiting to be pushed, oldest first.
func (c *Client) Queue(ctx context.Context) ([]protocol.Mutation, error) {
	return c.queued(ctx, c.db, "")
}
