package server_test

import (
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// New records are inserted together when the push settles; everything
// that reads or writes other records first must see them, and every
// result must carry the version the record's feed row got.
func TestQueuedCreatesSettleBeforeOtherWrites(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	lead := newDevice(t, w.env, w.lead)

	// A record deleted earlier, made again in the push below: it has a
	// tombstone, so it takes the single-row path.
	again := newUUID()
	first := tab.push(t, create(t, "encounters", again, encounterFields(w, "first life")))
	mustStatus(t, first.Results[0], protocol.ResultApplied)
	mustStatus(t, lead.push(t, protocol.Mutation{MutationID: newUUID(), Collection: "encounters", RecordID: again, Op: "delete"}).Results[0], protocol.ResultApplied)

	person, enc1, enc2 := newUUID(), newUUID(), newUUID()
	createEnc1 := create(t, "encounters", enc1, map[string]any{"person": person, "team": w.north.Id, "occurred_at": "2026-11-20 21:00:00.000Z", "encounter_type": "outreach"})
	muts := []protocol.Mutation{
		create(t, "persons", person, map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.north.Id}}),
		createEnc1,
		// A save through PocketBase whose hooks read the new person.
		create(t, "consents", newUUID(), map[string]any{"person": person, "team": w.north.Id, "compartments": []string{"identity"},
			"recipients": []string{"outreach"}, "purpose": "care_coordination", "method": "verbal_witnessed", "status": "active",
			"valid_from": time.Now().UTC().Add(-time.Hour).Format("2006-01-02 15:04:05.000Z")}),
		// An edit of a record created earlier in the same push.
		updateM(t, "encounters", enc1, 0, map[string]any{"general_notes": "Asked for a blanket."}),
		create(t, "encounters", enc2, encounterFields(w, "second")),
		createEnc1, // the same mutation twice in one push: one result, twice
		create(t, "encounters", again, encounterFields(w, "second life")),
		create(t, "encounters", newUUID(), encounterFields(w, "last")),
	}
	res := tab.push(t, muts...)
	for i, r := range res.Results {
		if r.Status != protocol.ResultApplied && r.Status != protocol.ResultMerged {
			t.Fatalf("mutation %d: %+v", i, r)
		}
		if r.Version == 0 {
			t.Fatalf("mutation %d has no version: %+v", i, r)
		}
		if i > 0 && i != 5 && r.Version <= res.Results[i-1].Version {
			t.Fatalf("versions must follow the push's order: %d after %d", r.Version, res.Results[i-1].Version)
		}
	}
	if res.Results[5].Version != res.Results[1].Version || res.Results[5].Status != res.Results[1].Status {
		t.Fatalf("a mutation sent twice must get one result: %+v vs %+v", res.Results[5], res.Results[1])
	}
	// Each new encounter's version is its one feed row; the edit's is the
	// edited record's, or later: the consent's hooks write the person and
	// their encounters again.
	for _, r := range res.Results {
		if r.Collection != "encounters" {
			continue
		}
		var seq int64
		if err := w.env.App.DB().NewQuery(`SELECT MAX(seq) FROM sync_changes WHERE collection = {:c} AND record_id = {:id}`).
			Bind(map[string]any{"c": r.Collection, "id": r.RecordID}).Row(&seq); err != nil {
			t.Fatal(err)
		}
		if r.RecordID != enc1 && seq != r.Version {
			t.Fatalf("%s/%s: result version %d, feed row %d", r.Collection, r.RecordID, r.Version, seq)
		}
		if r.RecordID == enc1 && seq < res.Results[3].Version {
			t.Fatalf("encounter edited in its own push: feed row %d, edit's version %d", seq, res.Results[3].Version)
		}
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM sync_changes WHERE record_id = {:p0}`, again); n != 1 {
		t.Fatalf("a record made again must have one feed row, has %d", n)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM sync_change_scopes s JOIN sync_changes c ON c.seq = s.seq WHERE c.record_id IN ({:p0}, {:p1})`, enc2, again); n != 2 {
		t.Fatalf("new records must be indexed under their team: %d scope rows", n)
	}

	// Replaying the whole push changes nothing and answers the same.
	replay := tab.push(t, muts...)
	for i := range res.Results {
		if replay.Results[i].Version != res.Results[i].Version || replay.Results[i].Status != res.Results[i].Status {
			t.Fatalf("replay of %d: %+v, first answer %+v", i, replay.Results[i], res.Results[i])
		}
	}

	// Another device receives every record as stored.
	officer := newDevice(t, w.env, w.clinician)
	officer.sync(t)
	if got := officer.get("encounters", enc1); got == nil || got["general_notes"] != "Asked for a blanket." || got["person"] != person {
		t.Fatalf("encounter created and edited in one push, as pulled: %v", got)
	}
	if got := officer.get("encounters", again); got == nil || got["general_notes"] != "second life" {
		t.Fatalf("record made again, as pulled: %v", got)
	}
}

func encounterFields(w *world, notes string) map[string]any {
	return map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00.000Z", "encounter_type": "outreach", "general_notes": notes}
}
