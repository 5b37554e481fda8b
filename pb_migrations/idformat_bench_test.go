package migrations_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// Device-written collections use client-generated UUID ids with a custom
// pattern. For any pattern other than its default, PocketBase checks on every
// create that no id equals the new one case-insensitively:
//
//	SELECT (1) FROM <table> WHERE id = ? COLLATE NOCASE LIMIT 1
//
// The primary key index uses the BINARY collation and cannot answer that, so
// without help the check scans the table (DESIGN.md §7). The schema migration
// adds a unique index on (id COLLATE NOCASE) to every such collection. The test
// below proves SQLite uses it; the benchmark measures what it is worth.

// pkLookup is the statement PocketBase runs (core/field_text.go).
const pkLookup = "SELECT (1) FROM %s WHERE id = {:id} COLLATE NOCASE LIMIT 1"

func queryPlan(tb testing.TB, app core.App, table string) string {
	tb.Helper()
	var rows []dbx.NullStringMap
	err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + fmt.Sprintf(pkLookup, table)).
		Bind(dbx.Params{"id": newUUID()}).All(&rows)
	if err != nil {
		tb.Fatalf("explain %s: %v", table, err)
	}
	var details []string
	for _, r := range rows {
		details = append(details, r["detail"].String)
	}
	return strings.Join(details, "; ")
}

// TestNocaseIDLookupUsesIndex: for every collection whose id is not
// PocketBase's default, the uniqueness lookup is an index search, not a scan.
// Dropping the index turns it into a scan, which this test would catch.
func TestNocaseIDLookupUsesIndex(t *testing.T) {
	env := testenv.New(t)
	cols, err := env.App.FindAllCollections(core.CollectionTypeBase, core.CollectionTypeAuth)
	if err != nil {
		t.Fatal(err)
	}
	custom := 0
	for _, c := range cols {
		pk, _ := c.Fields.GetByName("id").(*core.TextField)
		if c.System || pk == nil || pk.Pattern == `^[a-z0-9]+$` {
			continue // PocketBase's default id: no NOCASE lookup
		}
		custom++
		plan := queryPlan(t, env.App, c.Name)
		want := "USING COVERING INDEX idx_" + c.Name + "_id_nocase"
		if !strings.Contains(plan, want) {
			t.Errorf("%s: id lookup plan is %q, want %q", c.Name, plan, want)
		}
	}
	// devices, persons, encounters, referrals, followups, consents, bed_holds.
	if custom < 7 {
		t.Errorf("found %d collections with UUID ids, want at least 7", custom)
	}

	if _, err := env.App.DB().NewQuery("DROP INDEX idx_persons_id_nocase").Execute(); err != nil {
		t.Fatal(err)
	}
	if plan := queryPlan(t, env.App, "persons"); !strings.Contains(plan, "SCAN persons") {
		t.Errorf("without the index the lookup should scan, plan is %q", plan)
	}
}

// newUUID returns a random lowercase UUIDv4, as a device makes one.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

const benchRows = 100_000

// fill inserts n persons of team straight into table, in one transaction,
// with ids from id(i).
func fill(b *testing.B, app core.App, table, team string, n int, id func(int) string) {
	b.Helper()
	err := app.RunInTransaction(func(tx core.App) error {
		for i := 0; i < n; i++ {
			_, err := tx.DB().Insert(table, dbx.Params{
				"id": id(i), "display_name": fmt.Sprintf("Person %d", i), "name_quality": "2",
				"teams": `["` + team + `"]`, "created": "2026-11-01 00:00:00.000Z", "updated": "2026-11-01 00:00:00.000Z",
			}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("fill %s: %v", table, err)
	}
}

// BenchmarkIDFormat measures app.Save creates per second into a collection
// that already holds 100,000 rows:
//
//	uuid_nocase_index: persons as migrated (UUID ids, NOCASE index)
//	uuid_no_index:     the same without the NOCASE index (a scan per create)
//	default_15char:    PocketBase's default 15-character ids (no NOCASE lookup)
//
// Each variant runs in its own bare app with every migration applied but no
// hooks registered, and the change-feed triggers are dropped from the table,
// so the three differ only in their id format. Run:
//
//	go test ./pb_migrations -run '^$' -bench IDFormat -benchtime 2000x
func BenchmarkIDFormat(b *testing.B) {
	type variant struct {
		name       string
		app        core.App
		collection *core.Collection
		id         func() string // nil lets PocketBase generate one
		team       string
	}
	setup := func(name string, prepare func(app core.App) *core.Collection, id func() string) variant {
		app, err := tests.NewTestApp(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(app.Cleanup)
		teams, err := app.FindCollectionByNameOrId("teams")
		if err != nil {
			b.Fatal(err)
		}
		team := core.NewRecord(teams)
		team.Set("name", "North")
		if err := app.Save(team); err != nil {
			b.Fatal(err)
		}
		c := prepare(app)
		var triggers []string
		if err := app.DB().NewQuery("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = {:t}").
			Bind(dbx.Params{"t": c.Name}).Column(&triggers); err != nil {
			b.Fatal(err)
		}
		for _, tr := range triggers {
			if _, err := app.DB().NewQuery("DROP TRIGGER [[" + tr + "]]").Execute(); err != nil {
				b.Fatal(err)
			}
		}
		seedID := func(int) string { return newUUID() }
		if id == nil {
			seedID = func(i int) string { return fmt.Sprintf("seed%011d", i) }
		}
		fill(b, app, c.Name, team.Id, benchRows, seedID)
		return variant{name: name, app: app, collection: c, id: id, team: team.Id}
	}
	persons := func(app core.App) *core.Collection {
		c, err := app.FindCollectionByNameOrId("persons")
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	variants := []variant{
		setup("uuid_nocase_index", persons, newUUID),
		setup("uuid_no_index", func(app core.App) *core.Collection {
			// Raw SQL: PocketBase refuses a collection save that removes it.
			if _, err := app.DB().NewQuery("DROP INDEX idx_persons_id_nocase").Execute(); err != nil {
				b.Fatal(err)
			}
			return persons(app)
		}, newUUID),
		setup("default_15char", func(app core.App) *core.Collection {
			// The same fields and secondary indexes as persons, with
			// PocketBase's default id field.
			src := persons(app)
			c := core.NewBaseCollection("persons_default_id")
			for _, f := range src.Fields {
				if f.GetName() == "id" || f.GetName() == "merged_into" {
					continue
				}
				c.Fields.Add(f)
			}
			c.AddIndex("idx_pdi_hmis_id", false, "hmis_id", "hmis_id != ''")
			c.AddIndex("idx_pdi_display_name", false, "display_name COLLATE NOCASE", "")
			if err := app.Save(c); err != nil {
				b.Fatal(err)
			}
			return c
		}, nil),
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := core.NewRecord(v.collection)
				if v.id != nil {
					r.Id = v.id()
				}
				r.Set("display_name", "Smokey")
				r.Set("name_quality", "2")
				r.Set("teams", []string{v.team})
				if err := v.app.Save(r); err != nil {
					b.Fatalf("save: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
		})
	}
}
