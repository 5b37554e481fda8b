package changefeed

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
)

// Entry is one row of the feed: the latest change of one record.
type Entry struct {
	Seq        int64
	Collection string
	RecordID   string
	Op         string // "upsert" or "delete"
	Reason     string // "write", "access" or "deleted"
	Scope      []string
	Device     string // device whose push made the change, or ""
	// RowID is the record's SQLite rowid when the row was written (0 for
	// deletes): a hint for reading the record, to be checked against RecordID.
	RowID int64
}

// InScope reports whether any of teams has ever held the record, or the
// record is global.
func (e Entry) InScope(teams []string) bool {
	for _, s := range e.Scope {
		if s == GlobalScope {
			return true
		}
		for _, t := range teams {
			if s == t {
				return true
			}
		}
	}
	return false
}

// Scan calls fn for each feed row after seq, in sequence order, at most
// limit rows, reading through db (an app's DB() or a read transaction).
// Rows are read as they are consumed (bounded memory).
func Scan(db dbx.Builder, after int64, limit int, fn func(Entry) error) error {
	rows, err := db.NewQuery(`SELECT seq, collection, record_id, op, reason, scope, device, rid
		FROM sync_changes WHERE seq > {:after} ORDER BY seq LIMIT {:limit}`).
		Bind(dbx.Params{"after": after, "limit": limit}).Rows()
	if err != nil {
		return err
	}
	return emit(rows, fn)
}

// emit reads feed rows (seq, collection, record_id, op, reason, scope,
// device, rid) as they are consumed and hands each to fn.
func emit(rows *dbx.Rows, fn func(Entry) error) error {
	defer rows.Close()
	for rows.Next() {
		var e Entry
		var scope string
		if err := rows.Scan(&e.Seq, &e.Collection, &e.RecordID, &e.Op, &e.Reason, &scope, &e.Device, &e.RowID); err != nil {
			return err
		}
		e.Scope = parseIDArray(scope)
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// parseIDArray reads a JSON array of ids (no escapes, as ids never need
// them) without the cost of encoding/json; it is on the pull hot path.
func parseIDArray(s string) []string {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil
	}
	s = s[1 : len(s)-1]
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		p = strings.TrimPrefix(p, `"`)
		p = strings.TrimSuffix(p, `"`)
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ScanTeams is Scan restricted to the feed rows that teams (or everyone,
// GlobalScope) may hold, read through the sync_change_scopes index: a pull
// costs what its own teams changed, not what the whole hub changed.
//
// Each team's index range is already in sequence order, so SQLite merges
// them (a compound SELECT whose arms share the ORDER BY) and drops the
// duplicates of rows two teams hold, without building a temporary B-tree;
// the CROSS JOIN keeps that order while it reads the feed rows. Nothing
// in SQL promises the order without an outer ORDER BY, whose sort is what
// this avoids, so the rows are checked and sorted here if ever needed.
func ScanTeams(db dbx.Builder, after int64, limit int, teams []string, fn func(Entry) error) error {
	params := dbx.Params{"after": after, "limit": limit, "t0": GlobalScope}
	arms := []string{`SELECT seq FROM sync_change_scopes WHERE team = {:t0} AND seq > {:after}`}
	for i, t := range teams {
		key := "t" + strconv.Itoa(i+1)
		params[key] = t
		arms = append(arms, `SELECT seq FROM sync_change_scopes WHERE team = {:`+key+`} AND seq > {:after}`)
	}
	rows, err := db.NewQuery(`SELECT c.seq, c.collection, c.record_id, c.op, c.reason, c.scope, c.device, c.rid
		FROM (` + strings.Join(arms, " UNION ") + ` ORDER BY seq LIMIT {:limit}) s
		CROSS JOIN sync_changes c ON c.seq = s.seq`).Bind(params).Rows()
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, min(limit, 1024))
	if err := emit(rows, func(e Entry) error {
		entries = append(entries, e)
		return nil
	}); err != nil {
		return err
	}
	bySeq := func(a, b Entry) int { return cmp.Compare(a.Seq, b.Seq) }
	if !slices.IsSortedFunc(entries, bySeq) {
		slices.SortFunc(entries, bySeq)
	}
	for _, e := range entries {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
