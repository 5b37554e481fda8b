package changefeed

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
)

// directKey is the sync_meta row present while a push writes its own feed
// rows: every feed trigger stands down while it exists.
const directKey = "direct_writer"

// directOff is the SQL condition under which the feed triggers run.
const directOff = `NOT EXISTS (SELECT 1 FROM sync_meta WHERE key = '` + directKey + `')`

// Direct writes the feed rows of one sync push itself instead of leaving
// them to the triggers.
//
// A trigger is the right tool for every other writer (records API,
// dashboard, hooks, raw SQL), but on the push path it costs more than the
// write it follows: SQLite runs a sub-program per row, copies every page
// the statement touches into a statement journal, and re-derives in SQL
// what the push already knows (the record's teams, the fields it changed,
// the device). A push of a thousand mutations spends most of its time
// there. Direct writes the same rows (feed row, scope index rows,
// compaction, field versions) with prepared single-row statements.
//
// The triggers stand down only inside the push's transaction, while the
// sync_meta row is present; Pause brings them back around writes that go
// through PocketBase's Save or Delete, whose hooks may change any synced
// record. (A trigger that stands down still costs each write a few
// microseconds: SQLite journals every statement on a table with triggers.)
type Direct struct {
	st     *Statements
	device string
	latest map[string]map[string]latestRow // collection -> record id -> its feed row
	head   int64                           // feed head when paused
	at     string                          // the push's time, as the triggers write it
}

// latestRow is a record's current feed row (seq 0: it has none).
type latestRow struct {
	seq   int64
	scope []string
}

// FieldVersion names a field a write changed and the device credited with
// the change ("" when the stored value is the server's combination, so the
// device's next edit of it counts as concurrent).
type FieldVersion struct {
	Field  string
	Device string
}

// StartDirect makes the current transaction (tx is the transactional app)
// write its feed rows through the returned Direct, stamped with device.
// Call Finish before the transaction commits.
//
// st prepares statements for the transaction; several pushes applied in
// one transaction share it.
func StartDirect(st *Statements, device string) (*Direct, error) {
	d := &Direct{st: st, device: device, latest: map[string]map[string]latestRow{},
		at: time.Now().UTC().Format("2006-01-02 15:04:05.000Z")}
	if _, err := d.q(`UPDATE sync_writer SET device = {:d} WHERE id = 1`).Bind(dbx.Params{"d": device}).Execute(); err != nil {
		return nil, err
	}
	return d, d.Resume()
}

func (d *Direct) q(sql string) *dbx.Query { return d.st.Q(sql) }

// Statements keeps the queries of one transaction by SQL text, so the
// thousands of statements a group of pushes runs are built once. Their
// compiled form is kept by the connection itself (internal/sqlitecache)
// across transactions; compiling a statement costs about as much as
// running it many times.
type Statements struct {
	db    dbx.Builder
	stmts map[string]*dbx.Query
}

// NewStatements returns a statement cache over db (the transaction's).
func NewStatements(db dbx.Builder) *Statements {
	return &Statements{db: db, stmts: map[string]*dbx.Query{}}
}

// Q returns the query for sql, building it on first use.
func (s *Statements) Q(sql string) *dbx.Query {
	if st, ok := s.stmts[sql]; ok {
		return st
	}
	st := s.db.NewQuery(sql)
	s.stmts[sql] = st
	return st
}

// NewQuery is Q, so a Statements serves wherever queries are made from
// text.
func (s *Statements) NewQuery(sql string) *dbx.Query { return s.Q(sql) }

// Close forgets the queries; call it before the transaction ends.
func (s *Statements) Close() {
	clear(s.stmts)
}

// Pause lets the triggers write feed rows again, for a write through
// PocketBase whose hooks may touch any record. Resume afterwards.
func (d *Direct) Pause() error {
	if err := d.q(`SELECT COALESCE(MAX(seq), 0) FROM sync_changes`).Row(&d.head); err != nil {
		return err
	}
	_, err := d.q(`DELETE FROM sync_meta WHERE key = '` + directKey + `'`).Execute()
	return err
}

// Resume takes the feed back from the triggers after Pause, learning the
// rows they wrote meanwhile.
func (d *Direct) Resume() error {
	if d.head > 0 {
		rows, err := d.q(`SELECT seq, collection, record_id, scope FROM sync_changes WHERE seq > {:h} ORDER BY seq`).
			Bind(dbx.Params{"h": d.head}).Rows()
		if err != nil {
			return err
		}
		for rows.Next() {
			var seq int64
			var collection, id, scope string
			if err := rows.Scan(&seq, &collection, &id, &scope); err != nil {
				rows.Close()
				return err
			}
			d.remember(collection, id, latestRow{seq: seq, scope: parseIDArray(scope)})
		}
		if err := rows.Close(); err != nil {
			return err
		}
		d.head = 0
	}
	_, err := d.q(`INSERT INTO sync_meta (key, value) VALUES ('` + directKey + `', {:d})
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`).Bind(dbx.Params{"d": d.device}).Execute()
	return err
}

// Finish hands the feed back to the triggers and clears the writer. Call
// it inside the transaction, before commit.
func (d *Direct) Finish() error {
	if _, err := d.q(`DELETE FROM sync_meta WHERE key = '` + directKey + `'`).Execute(); err != nil {
		return err
	}
	_, err := d.q(`UPDATE sync_writer SET device = '' WHERE id = 1`).Execute()
	return err
}

func (d *Direct) remember(collection, id string, row latestRow) {
	m := d.latest[collection]
	if m == nil {
		m = map[string]latestRow{}
		d.latest[collection] = m
	}
	m[id] = row
}

// Preload reads the feed rows of many records in a few queries, so the
// writes that follow need no lookup of their own.
func (d *Direct) Preload(collection string, ids []string) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		for _, id := range chunk {
			if _, known := d.latest[collection][id]; !known {
				d.remember(collection, id, latestRow{})
			}
		}
		list, _ := json.Marshal(chunk)
		rows, err := d.q(`SELECT record_id, seq, scope FROM sync_changes
			WHERE collection = {:c} AND record_id IN (SELECT value FROM json_each({:ids}))`).
			Bind(dbx.Params{"c": collection, "ids": string(list)}).Rows()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, scope string
			var seq int64
			if err := rows.Scan(&id, &seq, &scope); err != nil {
				rows.Close()
				return err
			}
			if seq > d.latest[collection][id].seq {
				d.remember(collection, id, latestRow{seq: seq, scope: parseIDArray(scope)})
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	return nil
}

// prior returns the record's current feed row.
func (d *Direct) prior(collection, id string) (latestRow, error) {
	if row, ok := d.latest[collection][id]; ok {
		return row, nil
	}
	var row latestRow
	var scope string
	err := d.q(`SELECT seq, scope FROM sync_changes WHERE collection = {:c} AND record_id = {:id} ORDER BY seq DESC LIMIT 1`).
		Bind(dbx.Params{"c": collection, "id": id}).Row(&row.seq, &scope)
	if errors.Is(err, sql.ErrNoRows) {
		return latestRow{}, nil
	}
	if err != nil {
		return row, err
	}
	row.scope = parseIDArray(scope)
	return row, nil
}

// IsNew reports whether the record is known (from Preload or an earlier
// write) to have no feed row: WriteNew may write its first one.
func (d *Direct) IsNew(collection, id string) bool {
	row, ok := d.latest[collection][id]
	return ok && row.seq == 0
}

// NewRecord is a record created by the push, for WriteNew.
type NewRecord struct {
	Collection, ID string
	RowID          int64    // the record's SQLite rowid
	Teams          []string // its teams
}

// WriteNew writes the first feed rows of many records created by the push
// (each must be IsNew) with multi-row statements (see InsertRows), and
// returns each record's version in order.
func (d *Direct) WriteNew(records []NewRecord) ([]int64, error) {
	if len(records) == 0 {
		return nil, nil
	}
	scopes := make([][]string, len(records))
	rows := make([][]any, len(records))
	index := make(map[string]int, len(records)) // collection + "/" + id -> position
	for i, r := range records {
		kind, ok := synced[r.Collection]
		if !ok {
			return nil, fmt.Errorf("changefeed: %q is not a synced collection", r.Collection)
		}
		if !d.IsNew(r.Collection, r.ID) {
			return nil, fmt.Errorf("changefeed: %s/%s already has a feed row", r.Collection, r.ID)
		}
		scope := widen(kind, nil, r.Teams)
		enc, _ := json.Marshal(scope)
		scopes[i] = scope
		rows[i] = []any{r.Collection, r.ID, "upsert", "write", string(enc), d.device, r.RowID, d.at}
		index[r.Collection+"/"+r.ID] = i
	}
	seqs := make([]int64, len(records))
	err := d.st.InsertRows(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, device, rid, at)`, 8, rows,
		`RETURNING seq, collection, record_id`, func(found *dbx.Rows) error {
			var seq int64
			var collection, id string
			if err := found.Scan(&seq, &collection, &id); err != nil {
				return err
			}
			if i, ok := index[collection+"/"+id]; ok {
				seqs[i] = seq
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	var pairs [][]any
	for i, r := range records {
		if seqs[i] == 0 {
			return nil, fmt.Errorf("changefeed: no feed row was written for %s/%s", r.Collection, r.ID)
		}
		for _, t := range scopes[i] {
			pairs = append(pairs, []any{t, seqs[i]})
		}
		d.remember(r.Collection, r.ID, latestRow{seq: seqs[i], scope: scopes[i]})
	}
	if err := d.st.InsertRows(`INSERT OR IGNORE INTO sync_change_scopes (team, seq)`, 2, pairs, "", nil); err != nil {
		return nil, err
	}
	return seqs, nil
}

// Write records that the push created or updated a record: a new feed row
// (the record's only one; older rows are compacted away) whose scope is
// every team that has held the record, including teams, its teams now, and
// new versions of the changed fields. rowid is the record's SQLite rowid.
// It returns the record's new version (the row's sequence number).
func (d *Direct) Write(collection, id string, rowid int64, teams []string, versions []FieldVersion) (int64, error) {
	kind, ok := synced[collection]
	if !ok {
		return 0, fmt.Errorf("changefeed: %q is not a synced collection", collection)
	}
	prior, err := d.prior(collection, id)
	if err != nil {
		return 0, err
	}
	scope := widen(kind, prior.scope, teams)
	enc, _ := json.Marshal(scope)
	res, err := d.q(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, device, rid, at)
		VALUES ({:c}, {:id}, 'upsert', 'write', {:scope}, {:d}, {:rid}, {:at})`).
		Bind(dbx.Params{"c": collection, "id": id, "scope": string(enc), "d": d.device, "rid": rowid, "at": d.at}).Execute()
	if err != nil {
		return 0, err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, t := range scope {
		if _, err := d.q(`INSERT OR IGNORE INTO sync_change_scopes (team, seq) VALUES ({:t}, {:s})`).
			Bind(dbx.Params{"t": t, "s": seq}).Execute(); err != nil {
			return 0, err
		}
	}
	if prior.seq > 0 {
		p := dbx.Params{"c": collection, "id": id, "s": seq}
		if _, err := d.q(`DELETE FROM sync_change_scopes WHERE seq IN
			(SELECT seq FROM sync_changes WHERE collection = {:c} AND record_id = {:id} AND seq < {:s})`).Bind(p).Execute(); err != nil {
			return 0, err
		}
		if _, err := d.q(`DELETE FROM sync_changes WHERE collection = {:c} AND record_id = {:id} AND seq < {:s}`).Bind(p).Execute(); err != nil {
			return 0, err
		}
	}
	for _, v := range versions {
		if _, err := d.q(`INSERT INTO sync_field_versions (collection, record_id, field, version, device)
			VALUES ({:c}, {:id}, {:f}, {:s}, {:d})
			ON CONFLICT (collection, record_id, field) DO UPDATE SET version = excluded.version, device = excluded.device`).
			Bind(dbx.Params{"c": collection, "id": id, "f": v.Field, "s": seq, "d": v.Device}).Execute(); err != nil {
			return 0, err
		}
	}
	d.remember(collection, id, latestRow{seq: seq, scope: scope})
	return seq, nil
}

// widen returns a feed row's scope: every team in prior (the record's
// earlier scope) and teams (its teams now), or only GlobalScope for
// reference data. It never changes prior, and is never nil.
func widen(kind scopeKind, prior, teams []string) []string {
	if kind == scopeGlobal {
		teams = []string{GlobalScope}
	}
	scope := prior[:len(prior):len(prior)]
	for _, t := range teams {
		if t != "" && !contains(scope, t) {
			scope = append(scope, t)
		}
	}
	if scope == nil {
		scope = []string{}
	}
	return scope
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
