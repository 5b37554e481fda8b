package server_test

import (
	"testing"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// TestPushCannotWriteHiddenCompartments: a push may not change a field the
// user cannot see (FIELD-SCENARIO 12 from the writing side). An officer must
// not overwrite or plant clinical notes; the rest of the queue still lands,
// and a clinician on the same team writes them freely.
func TestPushCannotWriteHiddenCompartments(t *testing.T) {
	w := newWorld(t)
	clinician := newDevice(t, w.env, w.clinician)
	officer := newDevice(t, w.env, w.officer)
	enc := newUUID()
	mustStatus(t, clinician.push(t, create(t, "encounters", enc, map[string]any{
		"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach",
		"clinical_notes": "Reports auditory hallucinations; prescribed follow-up.",
	})).Results[0], protocol.ResultApplied)

	res := officer.push(t,
		updateM(t, "encounters", enc, 0, map[string]any{"clinical_notes": "overwritten by officer"}),
		create(t, "encounters", newUUID(), map[string]any{
			"team": w.north.Id, "occurred_at": "2026-11-20 22:00:00Z", "encounter_type": "outreach",
			"part2_notes": "planted by officer",
		}),
		updateM(t, "encounters", enc, 0, map[string]any{"disposition": "voluntary_transport"}),
	)
	for i, want := range []string{protocol.ResultRejected, protocol.ResultRejected} {
		r := res.Results[i]
		if r.Status != want || r.Error == nil || r.Error.Code != protocol.CodeCompartmentWriteForbidden {
			t.Fatalf("mutation %d: want rejected %s, got %+v %+v", i, protocol.CodeCompartmentWriteForbidden, r, r.Error)
		}
	}
	if st := res.Results[2].Status; st != protocol.ResultApplied && st != protocol.ResultMerged {
		t.Fatalf("the officer's disposition edit should still land, got %+v %+v", res.Results[2], res.Results[2].Error)
	}

	var notes, disposition string
	row := w.env.App.DB().NewQuery("SELECT clinical_notes, disposition FROM encounters WHERE id = {:id}").Bind(map[string]any{"id": enc})
	if err := row.Row(&notes, &disposition); err != nil {
		t.Fatal(err)
	}
	if notes != "Reports auditory hallucinations; prescribed follow-up." || disposition != "voluntary_transport" {
		t.Fatalf("stored clinical_notes=%q disposition=%q", notes, disposition)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM encounters WHERE part2_notes = 'planted by officer'`); n != 0 {
		t.Fatal("an officer planted part2 notes through sync")
	}

	// The clinician may change them.
	mustStatus(t, clinician.push(t, updateM(t, "encounters", enc, 0, map[string]any{"clinical_notes": "Reviewed."})).Results[0], protocol.ResultApplied)
}

// TestPushCannotSetMergeLink: linking duplicate persons moves their records
// and must be undoable, so only the merge route may set merged_into.
func TestPushCannotSetMergeLink(t *testing.T) {
	w := newWorld(t)
	lead := newDevice(t, w.env, w.lead)
	a, b := newUUID(), newUUID()
	res := lead.push(t,
		create(t, "persons", a, map[string]any{"display_name": "Smokey", "teams": []string{w.north.Id}}),
		create(t, "persons", b, map[string]any{"display_name": "Smoke", "teams": []string{w.north.Id}}),
	)
	mustStatus(t, res.Results[0], protocol.ResultApplied)
	mustStatus(t, res.Results[1], protocol.ResultApplied)
	r := lead.push(t, updateM(t, "persons", b, 0, map[string]any{"merged_into": a})).Results[0]
	if r.Status != protocol.ResultRejected || r.Error == nil || r.Error.Code != protocol.CodeFieldReadOnly || r.Error.Field != "merged_into" {
		t.Fatalf("want rejected %s on merged_into, got %+v %+v", protocol.CodeFieldReadOnly, r, r.Error)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM persons WHERE merged_into != ''`); n != 0 {
		t.Fatal("a device set a merge link")
	}
}
