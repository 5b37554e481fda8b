package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// BenchmarkPushWritesOnly measures the storage floor of a push: the rows a
// push of 1,000 new encounters writes (records, feed rows, team-index rows,
// stored results and audit events), after the lookup of their feed rows,
// written with the push's own multi-row
// statements in one transaction, and nothing else: no HTTP, no JSON, no
// checks, no merge, no group commit. The push can never beat this figure
// on the same storage layout, so set beside BenchmarkSync/push it says how
// much of a push is writing rows and how much is everything around them.
//
//	go test ./sync/server -run '^$' -bench 'PushWritesOnly|Sync/push/1000-per-batch$' -benchtime 20x
func BenchmarkPushWritesOnly(b *testing.B) {
	w := newWorld(b)
	const per = 1000
	const columns = "id, team, occurred_at, encounter_type, disposition, living_situation, needs, general_notes, location_note, police_incident_ref, services_offered, created, updated"
	device := newUUID()
	now := "2026-11-20 21:00:00.000Z"

	type push struct {
		records [][]any
		results [][]any
		events  []audit.Event
	}
	pushes := make([]push, b.N)
	for i := range pushes {
		p := &pushes[i]
		var logged []map[string]any
		for j := 0; j < per; j++ {
			id, mutation := newUUID(), newUUID()
			p.records = append(p.records, []any{id, w.north.Id, now, "outreach", "no_action", "116", `["food","water"]`,
				fmt.Sprintf("Met near the library, %d. Offered water and a blanket.", j), "5th St bridge", "", `["food"]`, now, now})
			p.results = append(p.results, []any{mutation, device, w.worker.Id, "encounters", id,
				`{"mutation_id":"` + mutation + `","status":"applied","version":0}`, now})
			logged = append(logged, map[string]any{"mutation_id": mutation, "collection": "encounters", "record_id": id,
				"op": "create", "status": "applied", "fields": []string{"disposition", "encounter_type", "general_notes", "living_situation",
					"location_note", "needs", "occurred_at", "police_incident_ref", "services_offered", "team"}})
		}
		// One audit event per 200 mutations, as the push writes them.
		for start := 0; start < per; start += 200 {
			chunk := logged[start:min(start+200, per)]
			p.events = append(p.events, audit.Event{Actor: w.worker.Id, ActorKind: "user", Device: device, Action: "sync_push",
				Collection: "encounters", Details: map[string]any{"mutations": chunk, "count": len(chunk)}})
		}
	}

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		p := pushes[i]
		err := w.env.App.RunInTransaction(func(tx core.App) error {
			st := changefeed.NewStatements(tx.DB())
			defer st.Close()
			feed, err := changefeed.StartDirect(st, device)
			if err != nil {
				return err
			}
			// The push looks its records' feed rows up first (none: they are
			// new); WriteNew relies on that.
			ids := make([]string, per)
			for j, r := range p.records {
				ids[j] = r[0].(string)
			}
			if err := feed.Preload("encounters", ids); err != nil {
				return err
			}
			rowids := make(map[string]int64, per)
			if err := st.InsertRows("INSERT INTO [[encounters]] ("+columns+")", 13, p.records, "RETURNING [[id]], rowid", func(rows *dbx.Rows) error {
				var id string
				var rowid int64
				if err := rows.Scan(&id, &rowid); err != nil {
					return err
				}
				rowids[id] = rowid
				return nil
			}); err != nil {
				return err
			}
			created := make([]changefeed.NewRecord, per)
			for j, id := range ids {
				created[j] = changefeed.NewRecord{Collection: "encounters", ID: id, RowID: rowids[id], Teams: []string{w.north.Id}}
			}
			if _, err := feed.WriteNew(created); err != nil {
				return err
			}
			if err := st.InsertRows(`INSERT INTO sync_mutations (mutation_id, device, user, collection, record_id, result, at)`, 7, p.results, "", nil); err != nil {
				return err
			}
			if err := audit.AppendInTx(st, p.events...); err != nil {
				return err
			}
			return feed.Finish()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*per)/time.Since(start).Seconds(), "mutations/s")

	// The rows are the ones a push writes: a device pulling sees them all.
	var feedRows int
	if err := w.env.App.DB().NewQuery("SELECT COUNT(*) FROM sync_changes WHERE collection = 'encounters'").Row(&feedRows); err != nil || feedRows != b.N*per {
		b.Fatalf("feed rows %d (%v), want %d", feedRows, err, b.N*per)
	}
}
