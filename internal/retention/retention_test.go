package retention_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/retention"
	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

func TestParseConfig(t *testing.T) {
	cases := []struct {
		in      string
		comp    domain.Compartment
		want    time.Duration
		wantErr bool
	}{
		{"", domain.CompClinical, 730 * 24 * time.Hour, false},
		{"clinical=30d", domain.CompClinical, 30 * 24 * time.Hour, false},
		{"part2=7, identity=0", domain.CompIdentity, 0, false},
		{"police=48h", domain.CompPolice, 48 * time.Hour, false},
		{"feelings=3d", "", 0, true},
		{"clinical=-1", "", 0, true},
		{"clinical", "", 0, true},
	}
	for _, c := range cases {
		cfg, err := retention.ParseConfig(c.in)
		if (err != nil) != c.wantErr {
			t.Fatalf("%q: err %v", c.in, err)
		}
		if err == nil && cfg[c.comp] != c.want {
			t.Fatalf("%q: %s = %v, want %v", c.in, c.comp, cfg[c.comp], c.want)
		}
	}
}

func old(t *testing.T, env *testenv.Env, collection, id string, age time.Duration) {
	t.Helper()
	ts := time.Now().Add(-age).UTC().Format("2006-01-02 15:04:05.000Z")
	if _, err := env.App.DB().Update(collection, dbx.Params{"updated": ts, "created": ts}, dbx.HashExp{"id": id}).Execute(); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionDryRunThenPurge(t *testing.T) {
	env := testenv.New(t)
	north := env.Team(t, "North")
	stale := env.Create(t, "persons", map[string]any{"display_name": "Old Timer", "hmis_id": "H-1", "teams": []string{north.Id}})
	active := env.Create(t, "persons", map[string]any{"display_name": "Regular", "teams": []string{north.Id}})
	oldEnc := env.Create(t, "encounters", map[string]any{"person": stale.Id, "team": north.Id, "occurred_at": "2024-01-01 21:00:00Z",
		"encounter_type": "outreach", "clinical_notes": "old clinical", "part2_notes": "old part2", "general_notes": "kept"})
	newEnc := env.Create(t, "encounters", map[string]any{"person": active.Id, "team": north.Id, "occurred_at": "2026-11-01 21:00:00Z",
		"encounter_type": "outreach", "clinical_notes": "recent clinical"})
	year := 365 * 24 * time.Hour
	old(t, env, "persons", stale.Id, 3*year)
	old(t, env, "persons", active.Id, 3*year) // but has a recent encounter
	old(t, env, "encounters", oldEnc.Id, 3*year)

	cfg, _ := retention.ParseConfig("clinical=365d,part2=365d,identity=730d")
	plan, err := retention.Plan(env.App, cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	retention.Print(&out, plan, true)
	report := out.String()
	for _, want := range []string{"clinical         encounters   would purge 1", "part2            encounters   would purge 1", "identity         persons      would purge 1"} {
		if !strings.Contains(report, want) {
			t.Fatalf("dry-run report lacks %q:\n%s", want, report)
		}
	}
	// A dry run changes nothing.
	if r, _ := env.App.FindRecordById("encounters", oldEnc.Id); r.GetString("clinical_notes") != "old clinical" {
		t.Fatal("dry run purged")
	}

	head, _ := changefeed.Head(env.App)
	if _, err := retention.Apply(env.App, cfg, time.Now(), privacy.TouchRecords); err != nil {
		t.Fatal(err)
	}
	r, _ := env.App.FindRecordById("encounters", oldEnc.Id)
	if r.GetString("clinical_notes") != "" || r.GetString("part2_notes") != "" || r.GetString("general_notes") != "kept" {
		t.Fatalf("old encounter after purge: %v", r.FieldsData())
	}
	if r, _ := env.App.FindRecordById("encounters", newEnc.Id); r.GetString("clinical_notes") != "recent clinical" {
		t.Fatal("recent encounter purged")
	}
	p, _ := env.App.FindRecordById("persons", stale.Id)
	if p.GetString("display_name") != retention.DeidentifiedName || p.GetString("hmis_id") != "" {
		t.Fatalf("stale person not de-identified: %v", p.FieldsData())
	}
	if p, _ := env.App.FindRecordById("persons", active.Id); p.GetString("display_name") != "Regular" {
		t.Fatal("a person with recent activity was de-identified")
	}
	var purges int
	_ = env.App.DB().Select("count(*)").From("audit_events").Where(dbx.HashExp{"action": "purge"}).Row(&purges)
	if purges != 3 { // clinical + part2 on the encounter, identity on the person
		t.Fatalf("want 3 purge audit events, got %d", purges)
	}
	if _, err := audit.Verify(env.App); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	_ = changefeed.Scan(env.App.DB(), head, 100, func(e changefeed.Entry) error {
		seen[e.Collection+"/"+e.RecordID] = true
		return nil
	})
	if !seen["encounters/"+oldEnc.Id] || !seen["persons/"+stale.Id] {
		t.Fatalf("purged records must reach devices through the change feed: %v", seen)
	}
	// Running again finds nothing: purges are idempotent.
	if plan, _ := retention.Plan(env.App, cfg, time.Now()); len(plan) != 0 {
		t.Fatalf("second plan should be empty: %+v", plan)
	}
}
