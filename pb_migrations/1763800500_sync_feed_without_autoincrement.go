package migrations

import (
	"database/sql"
	"errors"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// sync_changes.seq was AUTOINCREMENT. That keyword makes SQLite update
// sqlite_sequence on every feed row and, together with the feed triggers,
// journal every statement that writes a synced record: on the push path it
// cost more than the feed row itself.
//
// A plain INTEGER PRIMARY KEY is max(seq)+1, which is strictly increasing
// as long as the newest feed row is never deleted. Compaction deletes only
// older rows of a record, and changefeed.Prune keeps the newest row; if an
// earlier prune removed the newest row, a placeholder row keeps the old
// high-water mark so no sequence number is ever handed out twice.
//
// The table is rebuilt with the same rows; the feed triggers are dropped
// first (SQLite checks them when a table is renamed) and re-created.
var feedRebuildSQL = []string{
	`CREATE TABLE sync_changes_rebuild (
		seq        INTEGER PRIMARY KEY,
		collection TEXT NOT NULL,
		record_id  TEXT NOT NULL,
		op         TEXT NOT NULL,
		reason     TEXT NOT NULL DEFAULT 'write',
		scope      TEXT NOT NULL DEFAULT '[]',
		device     TEXT NOT NULL DEFAULT '',
		rid        INTEGER NOT NULL DEFAULT 0,
		at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ', 'now'))
	)`,
	`INSERT INTO sync_changes_rebuild (seq, collection, record_id, op, reason, scope, device, rid, at)
		SELECT seq, collection, record_id, op, reason, scope, device, rid, at FROM sync_changes`,
	`DROP TABLE sync_changes`,
	`ALTER TABLE sync_changes_rebuild RENAME TO sync_changes`,
	`CREATE INDEX idx_sync_changes_record ON sync_changes (collection, record_id)`,
	`CREATE INDEX idx_sync_changes_tombstones ON sync_changes (at) WHERE op = 'delete'`,
}

func init() {
	m.Register(func(app core.App) error {
		var highWater sql.NullInt64
		err := app.DB().NewQuery(`SELECT seq FROM sqlite_sequence WHERE name = 'sync_changes'`).Row(&highWater)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := dropFeedTriggers(app); err != nil {
			return err
		}
		for _, q := range feedRebuildSQL {
			if _, err := app.DB().NewQuery(q).Execute(); err != nil {
				return err
			}
		}
		if highWater.Valid {
			// Keeps the sequence above every number already handed out. It
			// has no scope, so no pull ever sends it.
			if _, err := app.DB().NewQuery(`INSERT INTO sync_changes (seq, collection, record_id, op, reason, scope)
				SELECT {:hw}, '', '', 'mark', 'sequence', '[]' WHERE NOT EXISTS (SELECT 1 FROM sync_changes WHERE seq >= {:hw})`).
				Bind(map[string]any{"hw": highWater.Int64}).Execute(); err != nil {
				return err
			}
		}
		return changefeed.Ensure(app)
	}, func(app core.App) error {
		// Going back keeps the plain key: it is what the older code expects
		// too, minus the sqlite_sequence bookkeeping.
		return nil
	})
}

// dropFeedTriggers removes every trigger the change feed installed.
func dropFeedTriggers(app core.App) error {
	var triggers []struct {
		Name string `db:"name"`
	}
	if err := app.DB().NewQuery(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND (name LIKE 'tandem_sync_%' OR name LIKE 'tandem_feed_%')`).All(&triggers); err != nil {
		return err
	}
	for _, tr := range triggers {
		if _, err := app.DB().NewQuery("DROP TRIGGER IF EXISTS [[" + tr.Name + "]]").Execute(); err != nil {
			return err
		}
	}
	return nil
}
