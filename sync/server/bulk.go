package server

import (
	"strings"

	"github.com/pocketbase/dbx"

	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// pendingCreate is a new record whose insert waits to be written together
// with the push's other new records (see settle).
type pendingCreate struct {
	collection, id, mutationID string
	columns                    []string // quoted column names
	values                     []any    // in column order
	teams                      []string
}

// queueCreate holds a new record back, to be inserted by settle with the
// others of its collection and column set in one statement. It reports
// false when the record must be inserted on its own: it has an earlier feed
// row (a deleted record made again).
//
// Queued creates see no hooks or triggers that the single-row insert
// would not see: both are plain SQL, and the feed triggers stand down.
func (a *applier) queueCreate(c pendingCreate) bool {
	if !a.feed.IsNew(c.collection, c.id) {
		return false
	}
	// The same id is never queued twice: a later mutation of a record this
	// push wrote finds it forgotten (applier.forget), and current settles.
	a.creates = append(a.creates, c)
	return true
}

// settle inserts the queued new records and writes their feed rows with
// multi-row statements per collection and column set (see
// changefeed.Statements.InsertRows). Anything that reads or writes records
// other than by queueing a create settles first, so the push sees its own
// writes in order.
func (a *applier) settle() error {
	if len(a.creates) == 0 {
		return nil
	}
	creates := a.creates
	a.creates = nil
	type group struct {
		collection, columns string
		members             []int
	}
	var groups []*group
	byKey := map[string]*group{}
	for i, c := range creates {
		cols := strings.Join(c.columns, ", ")
		key := c.collection + "\x00" + cols
		g := byKey[key]
		if g == nil {
			g = &group{collection: c.collection, columns: cols}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.members = append(g.members, i)
	}
	rowids := make(map[string]int64, len(creates)) // collection + "/" + id
	for _, g := range groups {
		rows := make([][]any, len(g.members))
		for j, i := range g.members {
			rows[j] = creates[i].values
		}
		err := a.st.InsertRows("INSERT INTO [["+g.collection+"]] ("+g.columns+")", len(creates[g.members[0]].columns), rows,
			"RETURNING [[id]], rowid", func(found *dbx.Rows) error {
				var id string
				var rowid int64
				if err := found.Scan(&id, &rowid); err != nil {
					return err
				}
				rowids[g.collection+"/"+id] = rowid
				return nil
			})
		if err != nil {
			return err
		}
	}
	records := make([]changefeed.NewRecord, len(creates))
	for i, c := range creates {
		records[i] = changefeed.NewRecord{Collection: c.collection, ID: c.id, RowID: rowids[c.collection+"/"+c.id], Teams: c.teams}
	}
	versions, err := a.feed.WriteNew(records)
	if err != nil {
		return err
	}
	for i, c := range creates {
		if sr, ok := a.done[c.mutationID]; ok {
			sr.result.Version = versions[i]
			a.done[c.mutationID] = sr
		}
	}
	return nil
}

// versionOf completes the result of a queued create (answered before it
// was settled) with the version settle stored under its mutation id. A
// rejection that reuses the mutation id names another record and is left
// alone.
func (a *applier) versionOf(res *protocol.MutationResult) {
	done, ok := a.done[res.MutationID]
	if ok && res.Version == 0 && res.Collection == done.collection && res.RecordID == done.recordID {
		res.Version = done.result.Version
	}
}
