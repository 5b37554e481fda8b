package changefeed

import (
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
