package changefeed_test

import (
	"testing"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// TestScanTeamsMatchesFilteredScan: the team index returns exactly the rows
// a full scan filtered by scope would, in order, through creates, moves
// between teams (compaction), Touch and deletes, and at every page size.
func TestScanTeamsMatchesFilteredScan(t *testing.T) {
	env := testenv.New(t)
	north, south, east := env.Team(t, "North"), env.Team(t, "South"), env.Team(t, "East")
	var ids []string
	for i, team := range []string{north.Id, south.Id, north.Id, east.Id, south.Id, north.Id} {
		r := env.Create(t, "encounters", map[string]any{"team": team, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach", "general_notes": string(rune('a' + i))})
		ids = append(ids, r.Id)
	}
	moved, _ := env.App.FindRecordById("encounters", ids[0])
	moved.Set("team", south.Id)
	if err := env.App.Save(moved); err != nil {
		t.Fatal(err)
	}
	if err := changefeed.Touch(env.App, "encounters", ids[3]); err != nil {
		t.Fatal(err)
	}
	gone, _ := env.App.FindRecordById("encounters", ids[4])
	if err := env.App.Delete(gone); err != nil {
		t.Fatal(err)
	}

	all := feed(t, env.App)
	for _, tc := range []struct {
		name  string
		teams []string
	}{
		{"north", []string{north.Id}},
		{"south", []string{south.Id}},
		{"north and east", []string{north.Id, east.Id}},
		{"no team: global rows only", nil},
	} {
		var want []int64
		for _, e := range all {
			if e.InScope(tc.teams) {
				want = append(want, e.Seq)
			}
		}
		for _, limit := range []int{1, 2, 1000} {
			var got []int64
			after := int64(0)
			for {
				n := 0
				err := changefeed.ScanTeams(env.App.DB(), after, limit, tc.teams, func(e changefeed.Entry) error {
					if !e.InScope(tc.teams) {
						t.Fatalf("%s: row %d out of scope %v", tc.name, e.Seq, e.Scope)
					}
					got = append(got, e.Seq)
					after = e.Seq
					n++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if n < limit {
					break
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%s limit %d: got seqs %v, want %v", tc.name, limit, got, want)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s limit %d: got seqs %v, want %v", tc.name, limit, got, want)
				}
			}
		}
	}

	// The index holds no row for a compacted-away feed row.
	var stale int
	if err := env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_change_scopes s LEFT JOIN sync_changes c ON c.seq = s.seq WHERE c.seq IS NULL`).Row(&stale); err != nil || stale != 0 {
		t.Fatalf("%d stale index rows (%v)", stale, err)
	}
}
