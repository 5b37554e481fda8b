package changefeed

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// scopeKind says how a collection's team scope is read from a row.
type scopeKind int

const (
	scopeTeam   scopeKind = iota // single relation field "team"
	scopeTeams                   // multi relation field "teams" (JSON array)
	scopeGlobal                  // every field user: ["*"]
)

// Synced maps every collection in the change feed to how its team scope is
// read. It matches protocol.Collections.
var synced = map[string]scopeKind{
	"organizations":      scopeGlobal,
	"teams":              scopeGlobal,
	"sharing_agreements": scopeGlobal,
	"shelters":           scopeGlobal,
	"bed_programs":       scopeGlobal,
	"persons":            scopeTeams,
	"consents":           scopeTeam,
	"encounters":         scopeTeam,
	"referrals":          scopeTeam,
	"followups":          scopeTeam,
	"bed_holds":          scopeTeam,
	"conflicts":          scopeTeam,
}

// IsSynced reports whether collection is in the change feed.
func IsSynced(collection string) bool {
	_, ok := synced[collection]
	return ok
}

// GlobalScope is the scope entry of records every field user may see.
const GlobalScope = "*"

// scopeExpr is the SQL expression (a JSON array text) of the teams a row
// belongs to; alias is NEW, OLD or a table alias.
func scopeExpr(collection, alias string) string {
	switch synced[collection] {
	case scopeTeams:
		return fmt.Sprintf(`(CASE WHEN json_valid(%[1]s.teams) AND json_type(%[1]s.teams) = 'array' THEN %[1]s.teams ELSE '[]' END)`, alias)
	case scopeTeam:
		return fmt.Sprintf(`(CASE WHEN COALESCE(%[1]s.team, '') = '' THEN '[]' ELSE json_array(%[1]s.team) END)`, alias)
	default:
		return `'["*"]'`
	}
}

// unionScope is the SQL of the union of the record's remembered scope and
// the given scope expressions, as a JSON array text.
func unionScope(collection, idExpr string, exprs ...string) string {
	parts := []string{fmt.Sprintf(
		`SELECT value FROM json_each(COALESCE((SELECT scope FROM sync_changes WHERE collection = '%s' AND record_id = %s ORDER BY seq DESC LIMIT 1), '[]'))`,
		collection, idExpr)}
	for _, e := range exprs {
		parts = append(parts, "SELECT value FROM json_each("+e+")")
	}
	return "(SELECT json_group_array(value) FROM (" + strings.Join(parts, " UNION ") + ") WHERE value != '')"
}

const writerExpr = `COALESCE((SELECT device FROM sync_writer WHERE id = 1), '')`

// compact removes the record's older feed rows once its new row is in.
func compact(collection, idExpr string) string {
	return fmt.Sprintf(`DELETE FROM sync_changes WHERE collection = '%s' AND record_id = %s AND seq < (SELECT MAX(seq) FROM sync_changes);`, collection, idExpr)
}

// triggerNames are the triggers of a collection: one per event. Each
// trigger attached to a table costs every write to it, even when its WHEN
// clause is false, so a collection has no more than one per event.
func triggerNames(collection string) []string {
	p := "tandem_sync_" + collection
	return []string{p + "_ai", p + "_au", p + "_ad"}
}

// retiredTriggerNames are triggers of earlier versions, dropped on upgrade.
func retiredTriggerNames(collection string) []string {
	p := "tandem_sync_" + collection
	return []string{p + "_ai_reuse", p + "_au_rescope"}
}

// versionedFields are the fields whose changes get a per-field version.
func versionedFields(c *core.Collection) []string {
	var out []string
	for _, f := range c.Fields {
		switch f.GetName() {
		case "id", "created", "updated":
			continue
		}
		out = append(out, f.GetName())
	}
	return out
}

// hasRow is the SQL condition "the record already has a feed row".
func hasRow(collection, idExpr string) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM sync_changes WHERE collection = '%s' AND record_id = %s)`, collection, idExpr)
}

// sameScope is the SQL condition "an update did not change the record's
// teams".
func sameScope(collection string) string {
	switch synced[collection] {
	case scopeTeams:
		return "OLD.teams IS NEW.teams"
	case scopeTeam:
		return "OLD.team IS NEW.team"
	}
	return "1"
}

// triggerSQL builds the CREATE TRIGGER statements of a collection.
func triggerSQL(c *core.Collection) []string {
	name := c.Name
	names := triggerNames(name)
	insert := func(op, reason, idExpr, scope string) string {
		rid := "NEW.rowid"
		if op == "delete" {
			rid = "0"
		}
		return fmt.Sprintf(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, device, rid) VALUES ('%s', %s, '%s', '%s', %s, %s, %s);`,
			name, idExpr, op, reason, scope, writerExpr, rid)
	}
	latestScope := fmt.Sprintf(`(SELECT scope FROM sync_changes WHERE collection = '%s' AND record_id = NEW.id ORDER BY seq DESC LIMIT 1)`, name)

	// A new record usually has no feed row yet; an id re-created after a
	// delete keeps the teams of its tombstone.
	ai := fmt.Sprintf("CREATE TRIGGER [[%s]] AFTER INSERT ON [[%s]] WHEN %s BEGIN\n%s\n%s\nEND",
		names[0], name, directOff,
		insert("upsert", "write", "NEW.id", fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END",
			hasRow(name, "NEW.id"), unionScope(name, "NEW.id", scopeExpr(name, "NEW")), scopeExpr(name, "NEW"))),
		compact(name, "NEW.id"))

	var fv strings.Builder
	for _, f := range versionedFields(c) {
		fmt.Fprintf(&fv, `INSERT INTO sync_field_versions (collection, record_id, field, version, device) SELECT '%s', NEW.id, '%s', (SELECT MAX(seq) FROM sync_changes), %s WHERE OLD.[[%s]] IS NOT NEW.[[%s]] ON CONFLICT (collection, record_id, field) DO UPDATE SET version = excluded.version, device = excluded.device;`+"\n",
			name, f, writerExpr, f, f)
	}
	// An update that keeps the record's teams copies the remembered scope;
	// one that moves it between teams remembers both.
	au := fmt.Sprintf("CREATE TRIGGER [[%s]] AFTER UPDATE ON [[%s]] WHEN %s BEGIN\n%s\n%s\n%sEND",
		names[1], name, directOff,
		insert("upsert", "write", "NEW.id", fmt.Sprintf("CASE WHEN (%s) AND %s THEN %s ELSE %s END",
			sameScope(name), hasRow(name, "NEW.id"), latestScope,
			unionScope(name, "NEW.id", scopeExpr(name, "OLD"), scopeExpr(name, "NEW")))),
		compact(name, "NEW.id"), fv.String())

	ad := fmt.Sprintf("CREATE TRIGGER [[%s]] AFTER DELETE ON [[%s]] WHEN %s BEGIN\n%s\n%s\nDELETE FROM sync_field_versions WHERE collection = '%s' AND record_id = OLD.id;\nEND",
		names[2], name, directOff,
		insert("delete", "deleted", "OLD.id", unionScope(name, "OLD.id", scopeExpr(name, "OLD"))),
		compact(name, "OLD.id"), name)

	return []string{ai, au, ad}
}

// scopeTriggerSQL keeps sync_change_scopes (one row per team and feed row)
// exact for feed rows written by triggers and by Touch. A direct push
// writes its scope rows itself.
var scopeTriggerSQL = []string{
	`DROP TRIGGER IF EXISTS tandem_feed_scopes_ai`,
	`DROP TRIGGER IF EXISTS tandem_feed_scopes_ad`,
	`CREATE TRIGGER tandem_feed_scopes_ai AFTER INSERT ON sync_changes WHEN ` + directOff + ` BEGIN
		INSERT OR IGNORE INTO sync_change_scopes (team, seq)
			SELECT value, NEW.seq FROM json_each(CASE WHEN json_valid(NEW.scope) THEN NEW.scope ELSE '[]' END) WHERE value != '';
	END`,
	`CREATE TRIGGER tandem_feed_scopes_ad AFTER DELETE ON sync_changes WHEN ` + directOff + ` BEGIN
		DELETE FROM sync_change_scopes WHERE seq = OLD.seq;
	END`,
}

// installScopeTriggers (re)creates the scope index triggers.
func installScopeTriggers(app core.App) error {
	if !app.HasTable("sync_change_scopes") {
		return nil // created by a later migration
	}
	for _, q := range scopeTriggerSQL {
		if _, err := app.DB().NewQuery(q).Execute(); err != nil {
			return fmt.Errorf("changefeed: scope index trigger: %w", err)
		}
	}
	return nil
}

// dropTriggers removes a collection's feed triggers (before PocketBase
// alters its table: SQLite refuses to drop a column a trigger names).
func dropTriggers(app core.App, collection string) error {
	for _, t := range append(triggerNames(collection), retiredTriggerNames(collection)...) {
		if _, err := app.DB().NewQuery("DROP TRIGGER IF EXISTS [[" + t + "]]").Execute(); err != nil {
			return fmt.Errorf("changefeed: drop trigger %s: %w", t, err)
		}
	}
	return nil
}

// installTriggers (re)creates a collection's feed triggers from its current
// fields and records any rows the feed does not know yet.
func installTriggers(app core.App, c *core.Collection) error {
	if err := dropTriggers(app, c.Name); err != nil {
		return err
	}
	for _, q := range triggerSQL(c) {
		if _, err := app.DB().NewQuery(q).Execute(); err != nil {
			return fmt.Errorf("changefeed: create trigger on %s: %w", c.Name, err)
		}
	}
	return backfill(app, c.Name)
}

// backfill gives a feed row to every record that has none (records written
// before the feed existed, or while its triggers were missing).
func backfill(app core.App, collection string) error {
	q := fmt.Sprintf(`INSERT INTO sync_changes (collection, record_id, op, reason, scope, rid)
		SELECT '%[1]s', t.id, 'upsert', 'write', %[2]s, t.rowid FROM [[%[1]s]] t
		WHERE NOT EXISTS (SELECT 1 FROM sync_changes c WHERE c.collection = '%[1]s' AND c.record_id = t.id)`,
		collection, scopeExpr(collection, "t"))
	if _, err := app.DB().NewQuery(q).Execute(); err != nil {
		return fmt.Errorf("changefeed: backfill %s: %w", collection, err)
	}
	return nil
}
