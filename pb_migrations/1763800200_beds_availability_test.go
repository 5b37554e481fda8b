package migrations_test

import (
	"testing"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// TestBedAvailabilityMigrationDownUp reverts the beds migration on a hub
// with data and applies it again: the derived fields are recomputed from
// the holds, and the token table and key come back.
func TestBedAvailabilityMigrationDownUp(t *testing.T) {
	env := testenv.New(t)
	mig := appMigration(t, "1763800200_beds_availability.go")
	housing := env.Org(t, "Harbor Housing", "housing")
	shelter := env.Create(t, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	prog := env.Create(t, "bed_programs", map[string]any{"shelter": shelter.Id, "name": "Men's overnight", "population": "single_adult", "status": "open", "accepting": true, "total_beds": 5, "occupied": 1})
	team := env.Team(t, "North Side")
	env.Create(t, "bed_holds", map[string]any{"program": prog.Id, "team": team.Id})

	if err := env.App.RunInTransaction(mig.Down); err != nil {
		t.Fatalf("down: %v", err)
	}
	if _, err := env.App.FindCollectionByNameOrId("agency_tokens"); err == nil {
		t.Fatal("down should drop agency_tokens")
	}
	if c, _ := env.App.FindCollectionByNameOrId("bed_programs"); c.Fields.GetByName("available") != nil {
		t.Fatal("down should drop bed_programs.available")
	}
	if err := env.App.RunInTransaction(mig.Up); err != nil {
		t.Fatalf("up again: %v", err)
	}
	p, err := env.App.FindRecordById("bed_programs", prog.Id)
	if err != nil {
		t.Fatal(err)
	}
	if p.GetInt("active_holds") != 1 || p.GetInt("available") != 3 {
		t.Fatalf("backfill should count the held bed: active %d available %d", p.GetInt("active_holds"), p.GetInt("available"))
	}
	var n int
	if err := env.App.DB().NewQuery("SELECT COUNT(*) FROM _tandem_secrets WHERE length(value) = 64").Row(&n); err != nil || n != 1 {
		t.Fatalf("the token key should be back: %d %v", n, err)
	}
}
