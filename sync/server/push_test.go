package server_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// Dependent creates in one push: a person, an encounter with them and a
// follow-up of that encounter, all made offline (DESIGN.md §4.6).
func TestPushDependentCreatesAndPullByTeam(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	person, enc, fu := newUUID(), newUUID(), newUUID()
	res := tab.push(t,
		create(t, "persons", person, map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.north.Id}}),
		create(t, "encounters", enc, map[string]any{"person": person, "team": w.north.Id, "occurred_at": "2026-11-20 21:00:00.000Z", "encounter_type": "outreach", "needs": []string{"food", "shelter"}}),
		create(t, "followups", fu, map[string]any{"person": person, "encounter": enc, "team": w.north.Id, "status": "open", "due_at": "2026-11-22 10:00:00.000Z"}),
	)
	for _, r := range res.Results {
		mustStatus(t, r, protocol.ResultApplied)
		if r.Version == 0 {
			t.Fatalf("applied mutation without a version: %+v", r)
		}
	}
	if !(res.Results[0].Version < res.Results[1].Version && res.Results[1].Version < res.Results[2].Version) {
		t.Fatalf("versions must increase in push order: %+v", res.Results)
	}

	officer := newDevice(t, w.env, w.officer)
	officer.sync(t)
	if got := officer.get("followups", fu); got == nil || got["encounter"] != enc {
		t.Fatalf("officer on North should receive the follow-up, got %v", got)
	}
	if got := officer.get("encounters", enc); got == nil || len(got["needs"].([]any)) != 2 {
		t.Fatalf("officer should receive the encounter with its needs, got %v", got)
	}

	south := newDevice(t, w.env, w.southWorker)
	south.sync(t)
	for key := range south.records {
		if strings.HasPrefix(key, "persons/") || strings.HasPrefix(key, "encounters/") || strings.HasPrefix(key, "followups/") {
			t.Fatalf("South received North's record %s", key)
		}
	}
	if south.get("teams", w.north.Id) == nil {
		t.Fatal("reference data (teams) should reach every field device")
	}

	// Every pushed mutation left an audit event and the chain verifies.
	// The push is audited: its event names every mutation and record.
	var details string
	if err := w.env.App.DB().NewQuery(`SELECT details FROM audit_events WHERE action = 'sync_push' AND device = {:d}`).
		Bind(map[string]any{"d": tab.id}).Row(&details); err != nil {
		t.Fatalf("sync_push audit event: %v", err)
	}
	for _, id := range []string{person, enc, fu} {
		if !strings.Contains(details, id) {
			t.Fatalf("audit event does not name record %s: %s", id, details)
		}
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM audit_events WHERE action = 'sync_pull'`); n < 2 {
		t.Fatalf("pulls must be audited, got %d events", n)
	}
	if _, err := audit.Verify(w.env.App); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	// The device was enrolled on first sight.
	if n := count(t, w.env, `SELECT COUNT(*) FROM devices WHERE id = {:p0} AND user = {:p1} AND last_sync_at != ''`, tab.id, w.worker.Id); n != 1 {
		t.Fatal("device not enrolled with last_sync_at")
	}
}

// FIELD-SCENARIO 4: the answer to a push is lost; the tablet pushes the
// same queue again and gets the original results, nothing duplicated.
func TestScenario4LostAnswerReplay(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	enc := newUUID()
	batch := []protocol.Mutation{
		create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}),
		updateM(t, "encounters", enc, 0, map[string]any{"general_notes": "gave water"}),
		create(t, "encounters", newUUID(), map[string]any{"team": w.north.Id, "encounter_type": "nonsense"}),
	}
	first := tab.push(t, batch...)
	mustStatus(t, first.Results[0], protocol.ResultApplied)
	mustStatus(t, first.Results[1], protocol.ResultApplied)
	mustStatus(t, first.Results[2], protocol.ResultRejected)

	headBefore := count(t, w.env, `SELECT MAX(seq) FROM sync_changes`)
	for i := 0; i < 3; i++ {
		again := tab.push(t, batch...)
		a, _ := json.Marshal(first.Results)
		b, _ := json.Marshal(again.Results)
		if string(a) != string(b) {
			t.Fatalf("replay %d answered differently:\n%s\n%s", i, a, b)
		}
	}
	// Any part of the queue, in any order, replays too.
	part := tab.push(t, batch[1])
	if part.Results[0].Version != first.Results[1].Version {
		t.Fatalf("partial replay changed the result: %+v", part.Results[0])
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM encounters`); n != 1 {
		t.Fatalf("replays duplicated encounters: %d", n)
	}
	if head := count(t, w.env, `SELECT MAX(seq) FROM sync_changes`); head != headBefore {
		t.Fatalf("a replay wrote to the change feed (%d -> %d)", headBefore, head)
	}
	// A reused mutation id for another record is refused, not confused.
	reuse := batch[0]
	reuse.RecordID = newUUID()
	mustStatus(t, tab.push(t, reuse).Results[0], protocol.ResultRejected)
}

// FIELD-SCENARIO 2: the worker adds a referral note while the officer,
// offline, corrects the disposition. Both survive, no conflict.
func TestScenario2DifferentFieldsMerge(t *testing.T) {
	w := newWorld(t)
	worker, officer := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.officer)
	enc := newUUID()
	mustStatus(t, worker.push(t, create(t, "encounters", enc, map[string]any{
		"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "crisis_call", "disposition": "no_action"})).Results[0], protocol.ResultApplied)
	worker.sync(t)
	officer.sync(t)
	base := officer.version("encounters", enc)
	if base == 0 {
		t.Fatal("officer did not receive the encounter")
	}

	mustStatus(t, worker.push(t, updateM(t, "encounters", enc, worker.version("encounters", enc), map[string]any{"general_notes": "referred to detox intake"})).Results[0], protocol.ResultApplied)
	res := officer.push(t, updateM(t, "encounters", enc, base, map[string]any{"disposition": "voluntary_transport"}))
	mustStatus(t, res.Results[0], protocol.ResultApplied)

	for _, d := range []*device{worker, officer} {
		d.sync(t)
		got := d.get("encounters", enc)
		if got["general_notes"] != "referred to detox intake" || got["disposition"] != "voluntary_transport" {
			t.Fatalf("device should hold both edits, got %v", got)
		}
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM conflicts`); n != 0 {
		t.Fatalf("different fields must not conflict, got %d conflicts", n)
	}
}

// FIELD-SCENARIO 3: both devices change a follow-up's due date offline.
// The first to arrive stays, the other is kept in a conflict; the team
// lead overrides it and the decision reaches both devices.
func TestScenario3SameFieldConflictAndResolution(t *testing.T) {
	w := newWorld(t)
	a, b := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.officer)
	fu := newUUID()
	a.push(t, create(t, "followups", fu, map[string]any{"team": w.north.Id, "status": "open", "due_at": "2026-11-22 10:00:00.000Z"}))
	a.sync(t)
	b.sync(t)
	base := b.version("followups", fu)

	mustStatus(t, a.push(t, updateM(t, "followups", fu, base, map[string]any{"due_at": "2026-11-23 09:00:00.000Z"})).Results[0], protocol.ResultApplied)
	mb := updateM(t, "followups", fu, base, map[string]any{"due_at": "2026-11-24 15:00:00.000Z", "attempts": 1})
	mb.BaseValues = map[string]json.RawMessage{"due_at": json.RawMessage(`"2026-11-22 10:00:00.000Z"`)}
	res := b.push(t, mb).Results[0]
	mustStatus(t, res, protocol.ResultConflict)
	if len(res.ConflictIDs) != 1 {
		t.Fatalf("want one conflict, got %+v", res)
	}
	// attempts (a different field) still landed.
	if n := count(t, w.env, `SELECT attempts FROM followups WHERE id = {:p0}`, fu); n != 1 {
		t.Fatalf("non-conflicting field attempts = %d, want 1", n)
	}
	c, err := w.env.App.FindRecordById("conflicts", res.ConflictIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.GetString("field") != "due_at" || c.GetString("team") != w.north.Id || c.GetString("mutation_id") != mb.MutationID ||
		!strings.Contains(string(mustRaw(c.Get("device_value"))), "2026-11-24") ||
		!strings.Contains(string(mustRaw(c.Get("server_value"))), "2026-11-23") ||
		!strings.Contains(string(mustRaw(c.Get("base_value"))), "2026-11-22") {
		t.Fatalf("conflict does not keep base/device/server values: %v", c.PublicExport())
	}

	// Replaying the conflicting mutation does not open a second conflict.
	b.push(t, mb)
	if n := count(t, w.env, `SELECT COUNT(*) FROM conflicts`); n != 1 {
		t.Fatalf("replay opened another conflict: %d", n)
	}

	// The team lead sees the conflict through the records API and overrides.
	lead := w.env.Token(t, w.lead)
	r := w.env.Do(t, http.MethodPatch, "/api/collections/conflicts/records/"+c.Id, lead, map[string]any{
		"status": "overridden", "chosen_value": "2026-11-24 15:00:00.000Z"})
	if r.Status != http.StatusOK {
		t.Fatalf("lead resolves: %d %s", r.Status, r.Body)
	}
	for _, d := range []*device{a, b} {
		d.sync(t)
		if got := d.get("followups", fu)["due_at"]; got != "2026-11-24 15:00:00.000Z" {
			t.Fatalf("decision did not reach the device: due_at = %v", got)
		}
	}
	resolved, _ := w.env.App.FindRecordById("conflicts", c.Id)
	if resolved.GetString("resolved_by") != w.lead.Id || resolved.GetDateTime("resolved_at").IsZero() {
		t.Fatalf("resolution not recorded: %v", resolved.PublicExport())
	}
}

func mustRaw(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Follow-up status only moves forward; notes from two devices are both
// kept; multi-value fields unite.
func TestMergePolicies(t *testing.T) {
	w := newWorld(t)
	a, b := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.officer)
	fu, enc := newUUID(), newUUID()
	a.push(t,
		create(t, "followups", fu, map[string]any{"team": w.north.Id, "status": "open", "notes": "try the library"}),
		create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach", "needs": []string{"food"}}),
	)
	a.sync(t)
	b.sync(t)
	fb, eb := b.version("followups", fu), b.version("encounters", enc)

	a.push(t, updateM(t, "followups", fu, fb, map[string]any{"status": "done", "notes": "found at library, housed"}),
		updateM(t, "encounters", enc, eb, map[string]any{"needs": []string{"food", "water"}}))
	res := b.push(t, updateM(t, "followups", fu, fb, map[string]any{"status": "in_progress", "notes": "not at library"}),
		updateM(t, "encounters", enc, eb, map[string]any{"needs": []string{"food", "id_documents"}}))
	mustStatus(t, res.Results[0], protocol.ResultMerged)
	mustStatus(t, res.Results[1], protocol.ResultMerged)
	b.sync(t)
	got := b.get("followups", fu)
	if got["status"] != "done" {
		t.Fatalf("status moved backwards: %v", got["status"])
	}
	if n, _ := got["notes"].(string); !strings.Contains(n, "housed") || !strings.Contains(n, "not at library") {
		t.Fatalf("both notes must be kept, got %q", n)
	}
	if needs := b.get("encounters", enc)["needs"].([]any); len(needs) != 3 {
		t.Fatalf("needs should be the union, got %v", needs)
	}

	// done vs cancelled is a conflict, done stays.
	res = b.push(t, updateM(t, "followups", fu, fb, map[string]any{"status": "cancelled"}))
	mustStatus(t, res.Results[0], protocol.ResultConflict)
	if n := count(t, w.env, `SELECT COUNT(*) FROM followups WHERE id = {:p0} AND status = 'done'`, fu); n != 1 {
		t.Fatal("done must stay until a team lead decides")
	}
}

// A multi-valued field edited on two tablets at once merges as a set when
// the tablets send the list they started from (base_values, as the
// reference client does): one worker's removal and the other's addition
// both stand. Without base_values the union is kept (TestMergePolicies).
func TestMultiValueEditsMergeAsSets(t *testing.T) {
	w := newWorld(t)
	a, b := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.lead)
	enc := newUUID()
	a.push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z",
		"encounter_type": "outreach", "needs": []string{"food", "water", "shelter"}}))
	a.sync(t)
	b.sync(t)
	base := b.version("encounters", enc)
	withBase := func(m protocol.Mutation, list []string) protocol.Mutation {
		m.BaseValues = map[string]json.RawMessage{"needs": mustRaw(list)}
		return m
	}
	start := []string{"food", "water", "shelter"}

	// Ana found her a meal and a bed: food and shelter are no longer needs.
	mustStatus(t, a.push(t, withBase(updateM(t, "encounters", enc, base, map[string]any{"needs": []string{"water"}}), start)).Results[0], protocol.ResultApplied)
	// Meanwhile Dee, offline, added ID documents and also struck shelter.
	res := b.push(t, withBase(updateM(t, "encounters", enc, base, map[string]any{"needs": []string{"food", "water", "id_documents"}}), start))
	mustStatus(t, res.Results[0], protocol.ResultMerged)

	want := []any{"water", "id_documents"}
	for _, d := range []*device{a, b} {
		d.sync(t)
		if got := d.get("encounters", enc)["needs"]; !reflect.DeepEqual(got, want) {
			t.Fatalf("needs after the merge = %v, want %v (removals by either tablet stand, additions are kept)", got, want)
		}
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM conflicts WHERE record_id = {:p0}`, enc); n != 0 {
		t.Fatalf("a set merge needs no review, got %d conflicts", n)
	}

	// A base that is not a list of strings is ignored: the union is kept.
	base = b.version("encounters", enc)
	mustStatus(t, a.push(t, updateM(t, "encounters", enc, base, map[string]any{"needs": []string{"water", "phone"}})).Results[0], protocol.ResultApplied)
	bad := updateM(t, "encounters", enc, base, map[string]any{"needs": []string{"legal"}})
	bad.BaseValues = map[string]json.RawMessage{"needs": json.RawMessage(`"water"`)}
	mustStatus(t, b.push(t, bad).Results[0], protocol.ResultMerged)
	b.sync(t)
	if got := b.get("encounters", enc)["needs"]; !reflect.DeepEqual(got, []any{"water", "phone", "legal"}) {
		t.Fatalf("without a usable base the union is kept, got %v", got)
	}
}

// FIELD-SCENARIO 6: a tablet's clock is a day ahead or a year behind.
// Nothing it sends is compared with the server's clock, so its edits
// neither beat later edits nor vanish.
func TestScenario6WrongClock(t *testing.T) {
	w := newWorld(t)
	// Both tablets belong to the outreach agency that recorded the location,
	// so both may see and edit it (an officer would need an agreement).
	fast, slow := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.lead)
	enc := newUUID()
	// The fast tablet's encounter is stamped a day ahead: kept as reported.
	fast.push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-23 21:00:00Z", "encounter_type": "outreach", "location_note": "bridge"}))
	fast.sync(t)
	slow.sync(t)
	// The slow tablet (a year behind) edits after seeing it: its edit wins
	// because it is later in server order, not because of any timestamp.
	mustStatus(t, slow.push(t, updateM(t, "encounters", enc, slow.version("encounters", enc), map[string]any{"location_note": "under the 5th St bridge"})).Results[0], protocol.ResultApplied)
	// The fast tablet's stale edit of the same field does not beat it, and
	// is not lost: it is kept in a conflict.
	res := fast.push(t, updateM(t, "encounters", enc, fast.version("encounters", enc), map[string]any{"location_note": "bridge (north end)"}))
	mustStatus(t, res.Results[0], protocol.ResultConflict)
	fast.sync(t)
	if got := fast.get("encounters", enc); got["location_note"] != "under the 5th St bridge" || got["occurred_at"] != "2026-11-23 21:00:00.000Z" {
		t.Fatalf("got %v", got)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM conflicts WHERE device_value LIKE '%north end%'`); n != 1 {
		t.Fatal("the losing edit must be kept in a conflict")
	}
}

// A device's own queued edits of one field never conflict with each other.
func TestOwnSequentialEditsDoNotConflict(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	enc := newUUID()
	res := tab.push(t,
		create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}),
		updateM(t, "encounters", enc, 0, map[string]any{"disposition": "declined"}),
		updateM(t, "encounters", enc, 0, map[string]any{"disposition": "placed_in_shelter"}),
	)
	for _, r := range res.Results {
		mustStatus(t, r, protocol.ResultApplied)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM encounters WHERE disposition = 'placed_in_shelter'`); n != 1 {
		t.Fatal("the last edit should stand")
	}
}

// Writes are scoped like the records API: a worker pushes only into their
// teams; only a team lead deletes; reference data is read-only.
func TestPushPermissions(t *testing.T) {
	w := newWorld(t)
	south := newDevice(t, w.env, w.southWorker)
	north := newDevice(t, w.env, w.worker)
	lead := newDevice(t, w.env, w.lead)
	enc := newUUID()
	north.push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}))

	cases := []struct {
		name string
		dev  *device
		m    protocol.Mutation
		code string
	}{
		{"create in another team", south, create(t, "encounters", newUUID(), map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}), protocol.CodeForbidden},
		{"update another team's record", south, updateM(t, "encounters", enc, 0, map[string]any{"general_notes": "x"}), protocol.CodeForbidden},
		{"move a record to a team you are not on", north, updateM(t, "encounters", enc, 0, map[string]any{"team": w.south.Id}), protocol.CodeForbidden},
		{"worker deletes", north, protocol.Mutation{MutationID: newUUID(), Collection: "encounters", RecordID: enc, Op: "delete"}, protocol.CodeForbidden},
		{"read-only collection", north, updateM(t, "teams", w.north.Id, 0, map[string]any{"name": "Mine"}), protocol.CodeReadOnlyCollection},
		{"conflicts are decided on the server", lead, updateM(t, "conflicts", newUUID(), 0, map[string]any{"status": "accepted"}), protocol.CodeReadOnlyCollection},
		{"audit events are append-only", north, updateM(t, "audit_events", newUUID(), 0, map[string]any{"action": "x"}), protocol.CodeAppendOnly},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.dev.push(t, c.m).Results[0]
			if r.Status != protocol.ResultRejected || r.Error == nil || r.Error.Code != c.code {
				t.Fatalf("want rejected %s, got %+v %+v", c.code, r, r.Error)
			}
		})
	}
	// A team lead may delete; the delete reaches devices as a tombstone.
	north.sync(t)
	mustStatus(t, lead.push(t, protocol.Mutation{MutationID: newUUID(), Collection: "encounters", RecordID: enc, Op: "delete"}).Results[0], protocol.ResultApplied)
	changes := north.sync(t)
	if north.get("encounters", enc) != nil || !hasOp(changes, enc, protocol.OpDelete) {
		t.Fatalf("deleted encounter should leave the device with a delete, got %+v", changes)
	}
	// An edit that arrives after the delete is refused with a reason.
	r := north.push(t, updateM(t, "encounters", enc, 0, map[string]any{"general_notes": "late"})).Results[0]
	if r.Status != protocol.ResultRejected || r.Error.Code != protocol.CodeRecordDeleted {
		t.Fatalf("want record_deleted, got %+v", r)
	}
	// Device audit events are appended to the chain.
	mustStatus(t, north.push(t, create(t, "audit_events", newUUID(), map[string]any{"action": "read_sensitive", "collection": "encounters", "record_id": enc})).Results[0], protocol.ResultApplied)
	if n := count(t, w.env, `SELECT COUNT(*) FROM audit_events WHERE action = 'device:read_sensitive'`); n != 1 {
		t.Fatal("device audit event not appended")
	}
}

func hasOp(changes []protocol.Change, id, op string) bool {
	for _, c := range changes {
		if c.ID == id && c.Op == op {
			return true
		}
	}
	return false
}

// Bed holds are server-authoritative: they are saved through PocketBase
// so the bed rules decide, and the result carries the server's record.
func TestBedHoldsServerAuthoritative(t *testing.T) {
	w := newWorld(t)
	housing := w.env.Org(t, "Harbor Housing", "housing")
	shelter := w.env.Create(t, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	program := w.env.Create(t, "bed_programs", map[string]any{"shelter": shelter.Id, "name": "Overnight", "population": "single_adult", "total_beds": 10, "status": "open", "accepting": true})
	tab := newDevice(t, w.env, w.worker)
	hold := newUUID()
	res := tab.push(t, create(t, "bed_holds", hold, map[string]any{"program": program.Id, "team": w.north.Id, "requested_at": time.Now().UTC().Format("2006-01-02 15:04:05.000Z")}))
	r := res.Results[0]
	if r.Status == protocol.ResultRejected {
		t.Fatalf("hold request rejected: %+v", r.Error)
	}
	var rec map[string]any
	if err := json.Unmarshal(r.Record, &rec); err != nil || rec["id"] != hold || rec["status"] == "" {
		t.Fatalf("result should carry the server's hold record, got %s (%v)", r.Record, err)
	}
	if rec["status"] != "held" && rec["status"] != "requested" {
		t.Fatalf("a hold with free beds should be held (or at least requested), got %v", rec["status"])
	}
	if rec["requested_by"] != w.worker.Id {
		t.Fatalf("requested_by should default to the pushing user, got %v", rec["requested_by"])
	}
	bad := tab.push(t,
		create(t, "bed_holds", newUUID(), map[string]any{"program": program.Id, "team": w.north.Id, "status": "held"}),
		updateM(t, "bed_holds", hold, r.Version, map[string]any{"held_until": "2030-01-01 00:00:00Z"}),
		updateM(t, "bed_holds", hold, r.Version, map[string]any{"status": "arrived"}),
	)
	for i, code := range []string{protocol.CodeServerAuthoritative, protocol.CodeFieldReadOnly, protocol.CodeServerAuthoritative} {
		if got := bad.Results[i]; got.Status != protocol.ResultRejected || got.Error.Code != code {
			t.Fatalf("mutation %d: want %s, got %+v %+v", i, code, got, got.Error)
		}
	}
	cancel := tab.push(t, updateM(t, "bed_holds", hold, r.Version, map[string]any{"status": "cancelled"})).Results[0]
	if cancel.Status == protocol.ResultRejected {
		t.Fatalf("worker may cancel the team's hold: %+v", cancel.Error)
	}
}

// A device whose note was merged with another device's text, and which
// edits the note again before pulling, must not erase the other text
// (found by the sync/sim convergence test).
func TestMergedNoteIsNotOverwrittenByTheSameDevice(t *testing.T) {
	w := newWorld(t)
	a, b := newDevice(t, w.env, w.worker), newDevice(t, w.env, w.officer)
	fu := newUUID()
	a.push(t, create(t, "followups", fu, map[string]any{"team": w.north.Id, "status": "open"}))
	a.sync(t)
	b.sync(t)
	base := b.version("followups", fu)
	a.push(t, updateM(t, "followups", fu, base, map[string]any{"notes": "[a]"}))
	mustStatus(t, b.push(t, updateM(t, "followups", fu, base, map[string]any{"notes": "[b1]"})).Results[0], protocol.ResultMerged)
	b.push(t, updateM(t, "followups", fu, base, map[string]any{"notes": "[b1] [b2]"}))
	var notes string
	if err := w.env.App.DB().NewQuery(`SELECT notes FROM followups WHERE id = {:id}`).Bind(map[string]any{"id": fu}).Row(&notes); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes, "[a]") || !strings.Contains(notes, "[b2]") {
		t.Fatalf("a text was lost: %q", notes)
	}
}
