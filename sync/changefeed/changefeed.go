// Package changefeed keeps Tandem's change feed: a server-assigned, strictly
// increasing sequence number for every change to a synced collection, written
// in the same transaction as the change by SQLite triggers.
//
// Triggers, not Go hooks, write the feed, so every path is covered: the
// records API, the admin dashboard, hooks, migrations and raw SQL. The sync
// push, the one path built for throughput, writes the same rows itself in
// its transaction while the triggers stand down (Direct). SQLite
// has one writer, so commit order is sequence order and a reader never sees
// seq n+1 before seq n: a cursor never skips a change.
//
// The feed is compacted: a record has one row, its latest change. A row
// also remembers every team that has ever held the record (its scope), so a
// pull can send an eviction to devices that may hold a record they may no
// longer see. Deletes leave tombstone rows, pruned after a window (Prune);
// a cursor older than the pruned horizon must reset.
//
// PocketBase rebuilds or alters a collection's table when its fields
// change; Register re-creates the triggers around every collection change,
// in the same transaction.
package changefeed

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Register installs the feed triggers on every synced collection (now, if
// the feed tables exist, and again when the server starts after
// migrations) and keeps them current across collection changes.
func Register(app core.App) error {
	if app.IsBootstrapped() && app.HasTable("sync_changes") {
		if err := Ensure(app); err != nil {
			return err
		}
	}
	// CLI commands write too (demo data, retention): cover them once the
	// database is open. Serving re-checks after its migrations.
	app.OnBootstrap().BindFunc(func(e *core.BootstrapEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if !e.App.HasTable("sync_changes") {
			return nil // migrations have not run yet
		}
		return Ensure(e.App)
	})
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		if err := Ensure(e.App); err != nil {
			return err
		}
		return e.Next()
	})
	app.OnCollectionCreateExecute().BindFunc(func(e *core.CollectionEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if !IsSynced(e.Collection.Name) || !e.App.HasTable("sync_changes") {
			return nil
		}
		return installTriggers(e.App, e.Collection)
	})
	app.OnCollectionUpdateExecute().BindFunc(func(e *core.CollectionEvent) error {
		watched := IsSynced(e.Collection.Name) && e.App.HasTable("sync_changes")
		if watched {
			// SQLite refuses to drop or retype a column a trigger names:
			// take the triggers off while PocketBase alters the table.
			if err := dropTriggers(e.App, e.Collection.Name); err != nil {
				return err
			}
			if old, err := e.App.FindCollectionByNameOrId(e.Collection.Id); err == nil && old.Name != e.Collection.Name {
				if err := dropTriggers(e.App, old.Name); err != nil {
					return err
				}
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		if !watched {
			return nil
		}
		return installTriggers(e.App, e.Collection)
	})
	return nil
}

// Ensure (re)creates the triggers of every synced collection from its
// current fields and gives a feed row to any record without one.
func Ensure(app core.App) error {
	return app.RunInTransaction(func(tx core.App) error {
		if err := installScopeTriggers(tx); err != nil {
			return err
		}
		for name := range synced {
			c, err := tx.FindCollectionByNameOrId(name)
			if err != nil {
				continue // not created yet (or removed): nothing to watch
			}
			if err := installTriggers(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

// Touch gives the records new sequence numbers, marked as access changes,
// so every device re-pulls them through its current access decision: a
// device that may no longer see one receives an eviction. Call it when
// access changes without the record changing: consent revoked or expired,
// retention purge, a sharing agreement narrowed. Use the transactional app
// when inside a transaction, so the touch commits with the change.
//
// Ids without a record and without a feed row are ignored.
func Touch(app core.App, collection string, ids ...string) error {
	if !IsSynced(collection) {
		return fmt.Errorf("changefeed: %q is not a synced collection", collection)
	}
	if len(ids) == 0 {
		return nil
	}
	return app.RunInTransaction(func(tx core.App) error {
		db := tx.DB()
		again := db.NewQuery(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, device, rid)
			SELECT collection, record_id, op, CASE WHEN op = 'delete' THEN reason ELSE 'access' END,
				` + unionScope(collection, "{:id}", scopeExprForID(collection)) + `, '', rid
			FROM sync_changes WHERE collection = {:c} AND record_id = {:id} ORDER BY seq DESC LIMIT 1`)
		fresh := db.NewQuery(fmt.Sprintf(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, rid)
			SELECT '%[1]s', t.id, 'upsert', 'access', %[2]s, t.rowid FROM [[%[1]s]] t WHERE t.id = {:id}`,
			collection, scopeExpr(collection, "t")))
		trim := db.NewQuery(`DELETE FROM sync_changes WHERE collection = {:c} AND record_id = {:id} AND seq < (SELECT MAX(seq) FROM sync_changes)`)
		for _, id := range ids {
			p := dbx.Params{"c": collection, "id": id}
			res, err := again.Bind(p).Execute()
			if err != nil {
				return fmt.Errorf("changefeed: touch %s/%s: %w", collection, id, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				if _, err := fresh.Bind(p).Execute(); err != nil {
					return fmt.Errorf("changefeed: touch %s/%s: %w", collection, id, err)
				}
				continue
			}
			if _, err := trim.Bind(p).Execute(); err != nil {
				return fmt.Errorf("changefeed: touch %s/%s: %w", collection, id, err)
			}
		}
		return nil
	})
}

// scopeExprForID reads the current scope of the record {:id}, or '[]' when
// it no longer exists.
func scopeExprForID(collection string) string {
	return fmt.Sprintf(`COALESCE((SELECT %s FROM [[%s]] t WHERE t.id = {:id}), '[]')`, scopeExpr(collection, "t"), collection)
}

// Head returns the highest sequence number in the feed (0 when empty).
func Head(app core.App) (int64, error) {
	var head sql.NullInt64
	err := app.DB().NewQuery(`SELECT MAX(seq) FROM sync_changes`).Row(&head)
	return head.Int64, err
}

// AccessEpoch returns the access epoch: a counter bumped whenever access
// changes for everyone at once (a sharing agreement changed), which makes
// every device rescope.
func AccessEpoch(app core.App) (int64, error) {
	return metaInt(app, "access_epoch")
}

// BumpAccessEpoch makes every device drop what it holds and pull again
// from the beginning through the current access decision. Use it when a
// change affects what many users may see (a sharing agreement edited).
func BumpAccessEpoch(app core.App) error {
	_, err := app.DB().NewQuery(`INSERT INTO sync_meta (key, value) VALUES ('access_epoch', '2')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`).Execute()
	return err
}

// PrunedThrough returns the highest sequence number of a pruned tombstone:
// a cursor below it may have missed a deletion and must reset.
func PrunedThrough(app core.App) (int64, error) {
	return metaInt(app, "pruned_through")
}

func metaInt(app core.App, key string) (int64, error) {
	var v string
	err := app.DB().NewQuery(`SELECT value FROM sync_meta WHERE key = {:k}`).Bind(dbx.Params{"k": key}).Row(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// DefaultTombstoneWindow is how long deletions are remembered: longer than
// any offline period the programme supports.
const DefaultTombstoneWindow = 30 * 24 * time.Hour

// PruneResult says what Prune removed.
type PruneResult struct {
	Tombstones    int64 // tombstone rows removed
	Mutations     int64 // stored push results removed
	PrunedThrough int64 // new reset horizon
}

// Prune removes tombstones and stored push results older than window, and
// raises the horizon below which cursors must reset.
func Prune(app core.App, window time.Duration, now time.Time) (PruneResult, error) {
	var res PruneResult
	cutoff := now.Add(-window).UTC().Format("2006-01-02 15:04:05.000Z")
	err := app.RunInTransaction(func(tx core.App) error {
		// The newest feed row is never removed: sequence numbers are
		// max(seq)+1, and removing it would hand its number out again.
		const old = `op = 'delete' AND at < {:cut} AND seq < (SELECT MAX(seq) FROM sync_changes)`
		var maxSeq sql.NullInt64
		if err := tx.DB().NewQuery(`SELECT MAX(seq) FROM sync_changes WHERE ` + old).
			Bind(dbx.Params{"cut": cutoff}).Row(&maxSeq); err != nil {
			return err
		}
		r, err := tx.DB().NewQuery(`DELETE FROM sync_changes WHERE ` + old).Bind(dbx.Params{"cut": cutoff}).Execute()
		if err != nil {
			return err
		}
		res.Tombstones, _ = r.RowsAffected()
		if maxSeq.Valid {
			if _, err := tx.DB().NewQuery(`INSERT INTO sync_meta (key, value) VALUES ('pruned_through', {:v})
				ON CONFLICT (key) DO UPDATE SET value = CASE WHEN CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER) THEN excluded.value ELSE value END`).
				Bind(dbx.Params{"v": strconv.FormatInt(maxSeq.Int64, 10)}).Execute(); err != nil {
				return err
			}
		}
		r, err = tx.DB().NewQuery(`DELETE FROM sync_mutations WHERE at < {:cut}`).Bind(dbx.Params{"cut": cutoff}).Execute()
		if err != nil {
			return err
		}
		res.Mutations, _ = r.RowsAffected()
		res.PrunedThrough, err = PrunedThrough(tx)
		return err
	})
	return res, err
}
