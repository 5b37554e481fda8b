package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// The sync engine's own tables. They are plain SQLite tables, not
// PocketBase collections: nobody reads or writes them through the records
// API, and they stay small (one row per record, not per change).
//
//   - sync_changes: the change feed. seq is the pull cursor, assigned by
//     SQLite in the same transaction as the change (triggers installed by
//     sync/changefeed write it). One row per record: a newer change deletes
//     the older row. scope is a JSON array of every team that has held the
//     record (["*"] for records every field user sees), used to send
//     evictions. rid is the record's SQLite rowid when the row was written,
//     a hint that lets a pull read the record without the id index (it is
//     checked against the id, so a rowid changed by VACUUM is harmless).
//   - sync_field_versions: per field, the seq of its last change and the
//     device that made it, for field-level merge.
//   - sync_mutations: each pushed mutation's original result, keyed by the
//     device's mutation id, so replays return it unchanged.
//   - sync_meta: small settings (access epoch, prune horizon).
//   - sync_writer: the device whose push is being applied, read by the
//     triggers; set and cleared inside the push transaction.
var syncTablesSQL = []string{
	`CREATE TABLE IF NOT EXISTS sync_changes (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		collection TEXT NOT NULL,
		record_id  TEXT NOT NULL,
		op         TEXT NOT NULL,
		reason     TEXT NOT NULL DEFAULT 'write',
		scope      TEXT NOT NULL DEFAULT '[]',
		device     TEXT NOT NULL DEFAULT '',
		rid        INTEGER NOT NULL DEFAULT 0,
		at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ', 'now'))
	)`,
	`CREATE INDEX IF NOT EXISTS idx_sync_changes_record ON sync_changes (collection, record_id)`,
	`CREATE INDEX IF NOT EXISTS idx_sync_changes_tombstones ON sync_changes (at) WHERE op = 'delete'`,
	`CREATE TABLE IF NOT EXISTS sync_field_versions (
		collection TEXT NOT NULL,
		record_id  TEXT NOT NULL,
		field      TEXT NOT NULL,
		version    INTEGER NOT NULL,
		device     TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (collection, record_id, field)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS sync_mutations (
		mutation_id TEXT PRIMARY KEY,
		device      TEXT NOT NULL,
		user        TEXT NOT NULL,
		collection  TEXT NOT NULL,
		record_id   TEXT NOT NULL,
		result      TEXT NOT NULL,
		at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%fZ', 'now'))
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS idx_sync_mutations_at ON sync_mutations (at)`,
	`CREATE TABLE IF NOT EXISTS sync_meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS sync_writer (
		id     INTEGER PRIMARY KEY CHECK (id = 1),
		device TEXT NOT NULL DEFAULT ''
	)`,
	`INSERT OR IGNORE INTO sync_writer (id, device) VALUES (1, '')`,
	`INSERT OR IGNORE INTO sync_meta (key, value) VALUES ('access_epoch', '1'), ('pruned_through', '0')`,
}

func init() {
	m.Register(func(app core.App) error {
		for _, q := range syncTablesSQL {
			if _, err := app.DB().NewQuery(q).Execute(); err != nil {
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		// Triggers that write to the feed must go first, or every write to
		// a synced collection would fail.
		var triggers []struct {
			Name string `db:"name"`
		}
		if err := app.DB().NewQuery(`SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'tandem_sync_%'`).All(&triggers); err != nil {
			return err
		}
		for _, tr := range triggers {
			if _, err := app.DB().NewQuery("DROP TRIGGER IF EXISTS [[" + tr.Name + "]]").Execute(); err != nil {
				return err
			}
		}
		for _, t := range []string{"sync_writer", "sync_meta", "sync_mutations", "sync_field_versions", "sync_changes"} {
			if _, err := app.DB().NewQuery("DROP TABLE IF EXISTS " + t).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}
