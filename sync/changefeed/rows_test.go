package changefeed_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// InsertRows splits rows over statements; every row must arrive once, in
// order, with its values, and RETURNING must report each.
func TestInsertRows(t *testing.T) {
	env := testenv.New(t)
	if _, err := env.App.DB().NewQuery(`CREATE TABLE rows_probe (n INTEGER PRIMARY KEY, label TEXT, note TEXT)`).Execute(); err != nil {
		t.Fatal(err)
	}
	next := 0
	for _, size := range []int{0, 1, 31, 32, 33, 100} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rows := make([][]any, size)
			for i := range rows {
				next++
				rows[i] = []any{next, fmt.Sprintf("row %d", next), nil}
			}
			var returned []int
			err := env.App.RunInTransaction(func(tx core.App) error {
				st := changefeed.NewStatements(tx.DB())
				defer st.Close()
				return st.InsertRows(`INSERT INTO rows_probe (n, label, note)`, 3, rows, `RETURNING n`, func(r *dbx.Rows) error {
					var n int
					err := r.Scan(&n)
					returned = append(returned, n)
					return err
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(returned) != size {
				t.Fatalf("RETURNING gave %d rows for %d", len(returned), size)
			}
			for _, row := range rows {
				var label string
				var note *string
				if err := env.App.DB().NewQuery(`SELECT label, note FROM rows_probe WHERE n = {:n}`).Bind(dbx.Params{"n": row[0]}).Row(&label, &note); err != nil {
					t.Fatalf("row %v: %v", row[0], err)
				}
				if label != row[1] || note != nil {
					t.Fatalf("row %v stored as %q, %v", row[0], label, note)
				}
			}
		})
	}
	var total int
	_ = env.App.DB().NewQuery(`SELECT COUNT(*) FROM rows_probe`).Row(&total)
	if total != next {
		t.Fatalf("%d rows stored, %d sent", total, next)
	}
}

// WriteNew writes the same feed rows as the triggers would, and refuses a
// record that already has one (its older rows must be compacted, which only
// Write does).
func TestWriteNew(t *testing.T) {
	env := testenv.New(t)
	north := env.Team(t, "North")
	existing := env.Create(t, "encounters", map[string]any{"team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	ids := []string{"0b7e0000-0000-7000-8000-000000000001", "0b7e0000-0000-7000-8000-000000000002"}
	err := env.App.RunInTransaction(func(tx core.App) error {
		st := changefeed.NewStatements(tx.DB())
		defer st.Close()
		d, err := changefeed.StartDirect(st, "device-1")
		if err != nil {
			return err
		}
		if err := d.Preload("encounters", []string{ids[0], existing.Id}); err != nil {
			return err
		}
		if err := d.Preload("teams", ids[1:]); err != nil {
			return err
		}
		if _, err := d.WriteNew([]changefeed.NewRecord{{Collection: "encounters", ID: existing.Id, Teams: []string{north.Id}}}); err == nil {
			t.Error("WriteNew accepted a record that has a feed row")
		}
		versions, err := d.WriteNew([]changefeed.NewRecord{
			{Collection: "encounters", ID: ids[0], RowID: 7, Teams: []string{north.Id}},
			{Collection: "teams", ID: ids[1], RowID: 8, Teams: []string{north.Id}}, // reference data: every field user
		})
		if err != nil {
			return err
		}
		if len(versions) != 2 || versions[0] == 0 || versions[1] != versions[0]+1 {
			t.Errorf("versions %v", versions)
		}
		if d.IsNew("encounters", ids[0]) {
			t.Error("a written record is still new")
		}
		return d.Finish()
	})
	if err != nil {
		t.Fatal(err)
	}
	enc, n := entryFor(t, env.App, "encounters", ids[0])
	if n != 1 || enc.Op != "upsert" || !enc.InScope([]string{north.Id}) || enc.InScope([]string{"someone-else"}) {
		t.Fatalf("encounter feed row: %d, %+v", n, enc)
	}
	team, n := entryFor(t, env.App, "teams", ids[1])
	if n != 1 || !team.InScope([]string{"any-team"}) {
		t.Fatalf("reference data must be in every field user's scope: %d, %+v", n, team)
	}
	var scopes int
	_ = env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_change_scopes WHERE seq IN ({:a}, {:b})`).Bind(dbx.Params{"a": enc.Seq, "b": team.Seq}).Row(&scopes)
	if scopes != 2 {
		t.Fatalf("%d team-index rows, want 2", scopes)
	}
}
