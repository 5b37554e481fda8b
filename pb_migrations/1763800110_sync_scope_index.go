package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// sync_change_scopes indexes the change feed by team, so a pull reads only
// the feed rows its user's teams may hold instead of every team's traffic:
// with hundreds of devices on dozens of teams, scanning the whole feed on
// every pull made each pull cost as much as the hub's total traffic.
//
// One row per (team, seq) for each team in a feed row's scope ("*" for
// records every field user sees). Triggers on sync_changes keep it exact in
// the same transaction: feed rows are only ever inserted and deleted.
var syncScopeIndexSQL = []string{
	`CREATE TABLE IF NOT EXISTS sync_change_scopes (
		team TEXT NOT NULL,
		seq  INTEGER NOT NULL,
		PRIMARY KEY (team, seq)
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS idx_sync_change_scopes_seq ON sync_change_scopes (seq)`,
	`CREATE TRIGGER IF NOT EXISTS tandem_feed_scopes_ai AFTER INSERT ON sync_changes BEGIN
		INSERT OR IGNORE INTO sync_change_scopes (team, seq)
			SELECT value, NEW.seq FROM json_each(CASE WHEN json_valid(NEW.scope) THEN NEW.scope ELSE '[]' END) WHERE value != '';
	END`,
	`CREATE TRIGGER IF NOT EXISTS tandem_feed_scopes_ad AFTER DELETE ON sync_changes BEGIN
		DELETE FROM sync_change_scopes WHERE seq = OLD.seq;
	END`,
	`INSERT OR IGNORE INTO sync_change_scopes (team, seq)
		SELECT j.value, c.seq FROM sync_changes c, json_each(CASE WHEN json_valid(c.scope) THEN c.scope ELSE '[]' END) j
		WHERE j.value != ''`,
}

func init() {
	m.Register(func(app core.App) error {
		for _, q := range syncScopeIndexSQL {
			if _, err := app.DB().NewQuery(q).Execute(); err != nil {
				return err
			}
		}
		return nil
	}, func(app core.App) error {
		for _, q := range []string{
			`DROP TRIGGER IF EXISTS tandem_feed_scopes_ai`,
			`DROP TRIGGER IF EXISTS tandem_feed_scopes_ad`,
			`DROP TABLE IF EXISTS sync_change_scopes`,
		} {
			if _, err := app.DB().NewQuery(q).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
}
