package migrations_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// TestFeedRebuildKeepsSequenceMonotonic runs the AUTOINCREMENT-removal
// migration on a feed as the earlier schema left it, after a prune removed
// its newest rows: no sequence number may be handed out twice, every row
// survives, and the triggers feed the rebuilt table.
func TestFeedRebuildKeepsSequenceMonotonic(t *testing.T) {
	env := testenv.New(t)
	mig := appMigration(t, "1763800500_sync_feed_without_autoincrement.go")
	team := env.Team(t, "North")
	first := env.Create(t, "followups", map[string]any{"team": team.Id, "status": "open"})

	exec := func(sql string) {
		t.Helper()
		if _, err := env.App.DB().NewQuery(sql).Execute(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	// The earlier schema: seq AUTOINCREMENT, with sqlite_sequence ahead of
	// the newest row (a prune removed the rows above it).
	var triggers []string
	if err := env.App.DB().NewQuery(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE 'tandem_sync_%' OR name LIKE 'tandem_feed_%')`).Column(&triggers); err != nil {
		t.Fatal(err)
	}
	for _, name := range triggers {
		exec("DROP TRIGGER [[" + name + "]]")
	}
	exec(`ALTER TABLE sync_changes RENAME TO sync_changes_old`)
	exec(`CREATE TABLE sync_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, collection TEXT NOT NULL, record_id TEXT NOT NULL,
		op TEXT NOT NULL, reason TEXT NOT NULL DEFAULT 'write', scope TEXT NOT NULL DEFAULT '[]', device TEXT NOT NULL DEFAULT '',
		rid INTEGER NOT NULL DEFAULT 0, at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ', 'now')))`)
	exec(`INSERT INTO sync_changes SELECT * FROM sync_changes_old`)
	exec(`DROP TABLE sync_changes_old`)
	var rowsBefore int
	var newest int64
	if err := env.App.DB().NewQuery(`SELECT COUNT(*), MAX(seq) FROM sync_changes`).Row(&rowsBefore, &newest); err != nil {
		t.Fatal(err)
	}
	highWater := newest + 5
	exec(`UPDATE sqlite_sequence SET seq = ` + strconv.FormatInt(highWater, 10) + ` WHERE name = 'sync_changes'`)

	if err := env.App.RunInTransaction(func(tx core.App) error { return mig.Up(tx) }); err != nil {
		t.Fatalf("migration: %v", err)
	}

	var schema string
	if err := env.App.DB().NewQuery(`SELECT sql FROM sqlite_master WHERE name = 'sync_changes'`).Row(&schema); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(schema), "AUTOINCREMENT") {
		t.Fatalf("sync_changes still has AUTOINCREMENT: %s", schema)
	}
	var rowsAfter int
	if err := env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_changes WHERE op != 'mark'`).Row(&rowsAfter); err != nil {
		t.Fatal(err)
	}
	if rowsAfter != rowsBefore {
		t.Fatalf("%d feed rows after the rebuild, %d before", rowsAfter, rowsBefore)
	}
	// A write through the records API is fed (the triggers are back) with a
	// number above everything handed out before.
	second := env.Create(t, "followups", map[string]any{"team": team.Id, "status": "open"})
	var seq int64
	if err := env.App.DB().NewQuery(`SELECT seq FROM sync_changes WHERE record_id = {:id}`).Bind(map[string]any{"id": second.Id}).Row(&seq); err != nil {
		t.Fatalf("the new record has no feed row: %v", err)
	}
	if seq <= highWater {
		t.Fatalf("new change got seq %d, not above the old high-water mark %d", seq, highWater)
	}
	// The placeholder is never sent: a pull of the team's changes lists the
	// two follow-ups only.
	var seen []string
	err := changefeed.ScanTeams(env.App.DB(), 0, 100, []string{team.Id}, func(e changefeed.Entry) error {
		if e.Collection == "followups" {
			seen = append(seen, e.RecordID)
		}
		if e.Op == "mark" {
			t.Errorf("the high-water placeholder reached a pull: %+v", e)
		}
		return nil
	})
	if err != nil || len(seen) != 2 || seen[0] != first.Id || seen[1] != second.Id {
		t.Fatalf("team feed after the rebuild: %v %v", seen, err)
	}
}
