package changefeed_test

import (
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

func feed(t *testing.T, app core.App) []changefeed.Entry {
	t.Helper()
	var out []changefeed.Entry
	if err := changefeed.Scan(app.DB(), 0, 1_000_000, func(e changefeed.Entry) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func entryFor(t *testing.T, app core.App, collection, id string) (changefeed.Entry, int) {
	t.Helper()
	var found changefeed.Entry
	n := 0
	for _, e := range feed(t, app) {
		if e.Collection == collection && e.RecordID == id {
			found = e
			n++
		}
	}
	return found, n
}

func TestFeedFollowsEveryWrite(t *testing.T) {
	env := testenv.New(t)
	north, south := env.Team(t, "North"), env.Team(t, "South")
	enc := env.Create(t, "encounters", map[string]any{"team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})

	first, n := entryFor(t, env.App, "encounters", enc.Id)
	if n != 1 || first.Op != "upsert" || !first.InScope([]string{north.Id}) || first.InScope([]string{south.Id}) {
		t.Fatalf("after create: %d rows, %+v", n, first)
	}

	// An update moves the record to the end of the feed, compacted to one
	// row, and remembers both teams so North can be sent an eviction.
	enc.Set("team", south.Id)
	enc.Set("general_notes", "moved")
	if err := env.App.Save(enc); err != nil {
		t.Fatal(err)
	}
	second, n := entryFor(t, env.App, "encounters", enc.Id)
	if n != 1 || second.Seq <= first.Seq || !second.InScope([]string{north.Id}) || !second.InScope([]string{south.Id}) {
		t.Fatalf("after update: %d rows, %+v (first %+v)", n, second, first)
	}
	var version int64
	if err := env.App.DB().NewQuery(`SELECT version FROM sync_field_versions WHERE collection='encounters' AND record_id={:id} AND field='general_notes'`).
		Bind(map[string]any{"id": enc.Id}).Row(&version); err != nil || version != second.Seq {
		t.Fatalf("field version of general_notes = %d (%v), want %d", version, err, second.Seq)
	}

	// Touch re-emits without a content change.
	if err := changefeed.Touch(env.App, "encounters", enc.Id); err != nil {
		t.Fatal(err)
	}
	third, n := entryFor(t, env.App, "encounters", enc.Id)
	if n != 1 || third.Seq <= second.Seq || third.Reason != "access" {
		t.Fatalf("after touch: %d rows, %+v", n, third)
	}

	// Delete leaves a tombstone.
	if err := env.App.Delete(enc); err != nil {
		t.Fatal(err)
	}
	last, n := entryFor(t, env.App, "encounters", enc.Id)
	if n != 1 || last.Op != "delete" || last.Seq <= third.Seq || !last.InScope([]string{north.Id}) {
		t.Fatalf("after delete: %d rows, %+v", n, last)
	}
}

// TestTriggersSurviveSchemaChanges: PocketBase alters tables when fields
// change; the feed must keep following the collection afterwards, and a
// dropped field must not be blocked by a trigger naming it.
func TestTriggersSurviveSchemaChanges(t *testing.T) {
	env := testenv.New(t)
	north := env.Team(t, "North")
	c, err := env.App.FindCollectionByNameOrId("followups")
	if err != nil {
		t.Fatal(err)
	}
	c.Fields.Add(&core.TextField{Name: "extra_note"})
	if err := env.App.Save(c); err != nil {
		t.Fatalf("add field: %v", err)
	}
	c.Fields.RemoveByName("extra_note")
	c.Fields.RemoveByName("attempts")
	if err := env.App.Save(c); err != nil {
		t.Fatalf("remove fields with triggers installed: %v", err)
	}
	f := env.Create(t, "followups", map[string]any{"team": north.Id, "status": "open"})
	if _, n := entryFor(t, env.App, "followups", f.Id); n != 1 {
		t.Fatalf("create after schema change is not in the feed (%d rows)", n)
	}
	f.Set("notes", "called")
	if err := env.App.Save(f); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_field_versions WHERE collection='followups' AND record_id={:id} AND field='notes'`).
		Bind(map[string]any{"id": f.Id}).Row(&n); err != nil || n != 1 {
		t.Fatalf("field version after schema change: %d %v", n, err)
	}
}

func TestPruneRaisesHorizon(t *testing.T) {
	env := testenv.New(t)
	north := env.Team(t, "North")
	f := env.Create(t, "followups", map[string]any{"team": north.Id, "status": "open"})
	if err := env.App.Delete(f); err != nil {
		t.Fatal(err)
	}
	tomb, _ := entryFor(t, env.App, "followups", f.Id)
	// Nothing is old enough yet.
	if res, err := changefeed.Prune(env.App, time.Hour, time.Now()); err != nil || res.Tombstones != 0 {
		t.Fatalf("fresh tombstone pruned: %+v %v", res, err)
	}
	// The newest feed row is kept even when old: sequence numbers are
	// max(seq)+1, so removing it would hand its number out again.
	if res, err := changefeed.Prune(env.App, time.Hour, time.Now().Add(2*time.Hour)); err != nil || res.Tombstones != 0 {
		t.Fatalf("newest row pruned: %+v %v", res, err)
	}
	later := env.Create(t, "followups", map[string]any{"team": north.Id, "status": "open"})
	if e, _ := entryFor(t, env.App, "followups", later.Id); e.Seq <= tomb.Seq {
		t.Fatalf("a later write got seq %d, not above the tombstone's %d", e.Seq, tomb.Seq)
	}
	res, err := changefeed.Prune(env.App, time.Hour, time.Now().Add(2*time.Hour))
	if err != nil || res.Tombstones != 1 || res.PrunedThrough != tomb.Seq {
		t.Fatalf("prune: %+v %v, want 1 tombstone through %d", res, err, tomb.Seq)
	}
	if _, n := entryFor(t, env.App, "followups", f.Id); n != 0 {
		t.Fatal("tombstone still in the feed")
	}
}
