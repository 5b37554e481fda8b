package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// A first sync resumes page by page: each page's cursor is where the next
// starts, and no change is lost or repeated, whatever the page size.
func TestPullPagesByRowsAndBytes(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	var muts []protocol.Mutation
	for i := 0; i < 45; i++ {
		muts = append(muts, create(t, "encounters", newUUID(), map[string]any{
			"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach",
			"general_notes": strings.Repeat("n", 500)}))
	}
	tab.push(t, muts...)

	for _, tc := range []struct {
		name            string
		limit, maxBytes int
		minPages        int
	}{
		{"by rows", 10, 0, 5},
		{"by bytes", 0, 3000, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDevice(t, w.env, w.officer)
			seen := map[string]int{}
			pages := 0
			var lastSeq int64
			for {
				page := d.pullPage(t, tc.limit, tc.maxBytes)
				pages++
				if tc.limit > 0 && len(page.Changes) > tc.limit {
					t.Fatalf("page of %d changes over the limit %d", len(page.Changes), tc.limit)
				}
				for _, c := range page.Changes {
					if c.Seq <= lastSeq {
						t.Fatalf("changes out of order: %d after %d", c.Seq, lastSeq)
					}
					lastSeq = c.Seq
					if c.Collection == "encounters" {
						seen[c.ID]++
					}
				}
				d.cursor = page.Cursor
				if !page.HasMore {
					break
				}
				if pages > 200 {
					t.Fatal("too many pages")
				}
			}
			if len(seen) != 45 || pages < tc.minPages {
				t.Fatalf("got %d encounters in %d pages", len(seen), pages)
			}
			for id, n := range seen {
				if n != 1 {
					t.Fatalf("encounter %s received %d times", id, n)
				}
			}
			// An incremental pull afterwards is empty and keeps the cursor.
			page := d.pullPage(t, 0, 0)
			if len(page.Changes) != 0 || page.HasMore || page.Cursor != d.cursor {
				t.Fatalf("empty pull: %+v", page)
			}
		})
	}
}

func TestPullIsGzippedWhenAccepted(t *testing.T) {
	w := newWorld(t)
	d := newDevice(t, w.env, w.worker)
	_, h, body := d.raw(t, http.MethodGet, protocol.PathPull, nil, map[string]string{"Accept-Encoding": "gzip"})
	if h.Get("Content-Encoding") != "gzip" || !json.Valid(body) {
		t.Fatalf("want a gzip JSON answer, got %q", h.Get("Content-Encoding"))
	}
	_, h, body = d.raw(t, http.MethodGet, protocol.PathPull, nil, map[string]string{"Accept-Encoding": "identity"})
	if h.Get("Content-Encoding") != "" || !json.Valid(body) {
		t.Fatalf("want a plain JSON answer, got %q", h.Get("Content-Encoding"))
	}
}

// FIELD-SCENARIO 12 at the sync level: an officer never receives clinical
// or substance-use notes; the clinician on the same team does.
func TestPullRedactsByRole(t *testing.T) {
	w := newWorld(t)
	clin := newDevice(t, w.env, w.clinician)
	enc := newUUID()
	clin.push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "crisis_call",
		"clinical_notes": "presents with psychosis", "part2_notes": "in methadone programme", "general_notes": "calm by the end"}))
	officer := newDevice(t, w.env, w.officer)
	officer.sync(t)
	got := officer.get("encounters", enc)
	if got == nil || got["general_notes"] != "calm by the end" {
		t.Fatalf("officer should get the encounter, got %v", got)
	}
	for _, hidden := range []string{"clinical_notes", "part2_notes"} {
		if _, ok := got[hidden]; ok {
			t.Fatalf("officer received %s", hidden)
		}
	}
	clin.sync(t)
	if clin.get("encounters", enc)["clinical_notes"] != "presents with psychosis" {
		t.Fatal("clinician should receive clinical notes")
	}
}

// Access ends → eviction, not silence: a record moved to another team,
// and a record Touched after its access changed.
func TestPullEvictsRecordsThatLeaveScope(t *testing.T) {
	w := newWorld(t)
	officer := newDevice(t, w.env, w.officer)
	enc := newUUID()
	newDevice(t, w.env, w.worker).push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}))
	officer.sync(t)
	if officer.get("encounters", enc) == nil {
		t.Fatal("officer should hold the encounter")
	}
	// A team lead (or the dashboard) moves the encounter to South.
	rec, _ := w.env.App.FindRecordById("encounters", enc)
	rec.Set("team", w.south.Id)
	if err := w.env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	changes := officer.sync(t)
	if !hasOp(changes, enc, protocol.OpEvict) || officer.get("encounters", enc) != nil {
		t.Fatalf("moved encounter should be evicted from North's device, got %+v", changes)
	}
	// South receives it.
	south := newDevice(t, w.env, w.southWorker)
	south.sync(t)
	if south.get("encounters", enc) == nil {
		t.Fatal("South should now receive the encounter")
	}
	// Touch re-sends through the current decision (here still visible to
	// South: an upsert marked as an access change).
	if err := changefeed.Touch(w.env.App, "encounters", enc); err != nil {
		t.Fatal(err)
	}
	changes = south.sync(t)
	if len(changes) != 1 || changes[0].Reason != protocol.ReasonAccess || changes[0].Op != protocol.OpUpsert {
		t.Fatalf("touched record should be re-sent as an access change, got %+v", changes)
	}
}

// FIELD-SCENARIO 13 (sync side): when the user's own teams change, the
// device is told to rescope, drops what it holds and re-pulls.
func TestPullRescopesWhenUserTeamsChange(t *testing.T) {
	w := newWorld(t)
	enc := newUUID()
	newDevice(t, w.env, w.worker).push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"}))
	officer := newDevice(t, w.env, w.officer)
	officer.sync(t)
	w.officer.Set("teams", []string{w.south.Id})
	if err := w.env.App.Save(w.officer); err != nil {
		t.Fatal(err)
	}
	officer.token = w.env.Token(t, w.officer)
	page := officer.pullPage(t, 0, 0)
	if page.Status != protocol.StatusRescope || page.Cursor != "" || !page.HasMore || page.Reason == "" {
		t.Fatalf("want rescope, got %+v", page)
	}
	officer.sync(t)
	if officer.get("encounters", enc) != nil {
		t.Fatal("North's encounter must be gone after rescope")
	}
	if officer.get("teams", w.south.Id) == nil {
		t.Fatal("rescoped device should re-pull reference data")
	}
}

// FIELD-SCENARIO 5 (tail): a device whose cursor is older than the
// tombstone window is told to reset.
func TestPullResetsAfterTombstoneWindow(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	f := newUUID()
	tab.push(t, create(t, "followups", f, map[string]any{"team": w.north.Id, "status": "open"}))
	tab.sync(t)
	lead := newDevice(t, w.env, w.lead)
	lead.push(t, protocol.Mutation{MutationID: newUUID(), Collection: "followups", RecordID: f, Op: "delete"})
	// Work goes on after the delete (the newest feed row is never pruned).
	lead.push(t, create(t, "followups", newUUID(), map[string]any{"team": w.north.Id, "status": "open"}))
	if _, err := changefeed.Prune(w.env.App, time.Hour, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	page := tab.pullPage(t, 0, 0)
	if page.Status != protocol.StatusReset {
		t.Fatalf("want reset after the tombstone was pruned, got %+v", page)
	}
	tab.sync(t)
	if tab.get("followups", f) != nil {
		t.Fatal("after reset the deleted follow-up must be gone")
	}
}

// Records API and dashboard writes reach devices through the same feed.
func TestRecordsAPIWritesReachDevices(t *testing.T) {
	w := newWorld(t)
	d := newDevice(t, w.env, w.officer)
	d.sync(t)
	r := w.env.Do(t, http.MethodPost, "/api/collections/encounters/records", w.env.Token(t, w.worker), map[string]any{
		"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "welfare_check"})
	if r.Status != http.StatusOK {
		t.Fatalf("records API create: %d %s", r.Status, r.Body)
	}
	var created struct{ ID string }
	r.JSON(t, &created)
	d.sync(t)
	if got := d.get("encounters", created.ID); got == nil || got["encounter_type"] != "welfare_check" {
		t.Fatalf("records API write did not reach the device: %v", got)
	}
}

// FIELD-SCENARIO 14 (sync side): a revoked device is refused with a wipe
// instruction.
func TestRevokedDeviceIsToldToWipe(t *testing.T) {
	w := newWorld(t)
	d := newDevice(t, w.env, w.worker)
	d.sync(t)
	dev, err := w.env.App.FindRecordById("devices", d.id)
	if err != nil {
		t.Fatal(err)
	}
	dev.Set("revoked_at", time.Now().UTC())
	if err := w.env.App.Save(dev); err != nil {
		t.Fatal(err)
	}
	w.worker, _ = w.env.App.FindRecordById("users", w.worker.Id)
	d.token = w.env.Token(t, w.worker) // a fresh token: the device alone is refused
	for _, path := range []string{protocol.PathPull, protocol.PathPush} {
		status, _, body := d.raw(t, http.MethodPost, path, []byte(`{"mutations":[]}`), nil)
		var e protocol.Error
		_ = json.Unmarshal(body, &e)
		if status != http.StatusForbidden || e.Code != protocol.CodeDeviceRevoked || !e.Wipe {
			t.Fatalf("%s: want 403 device_revoked wipe, got %d %s", path, status, body)
		}
	}
	// Another user cannot take over the device id either.
	other := newDevice(t, w.env, w.officer)
	other.id = d.id
	status, _, body := other.raw(t, http.MethodGet, protocol.PathPull, nil, nil)
	if status != http.StatusForbidden {
		t.Fatalf("foreign user on a revoked device: %d %s", status, body)
	}
}

// FIELD-SCENARIO 15: a tablet on the previous schema keeps syncing and
// receives only the fields its schema knows; an unknown future version is
// refused with a clear message.
func TestScenario15Versions(t *testing.T) {
	w := newWorld(t)
	housing := w.env.Org(t, "Harbor Housing", "housing")
	shelter := w.env.Create(t, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	w.env.Create(t, "bed_programs", map[string]any{"shelter": shelter.Id, "name": "Overnight", "population": "single_adult", "total_beds": 10, "status": "open"})

	old := newDevice(t, w.env, w.worker)
	old.schema = protocol.SchemaMin
	enc := newUUID()
	mustStatus(t, old.push(t, create(t, "encounters", enc, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})).Results[0], protocol.ResultApplied)
	old.sync(t)
	if old.get("encounters", enc) == nil {
		t.Fatal("schema 1 device must keep syncing")
	}
	for key, rec := range old.records {
		coll := strings.SplitN(key, "/", 2)[0]
		for f := range rec {
			if !protocol.InSchema(protocol.SchemaMin, coll, f) {
				t.Fatalf("schema 1 device received %s.%s, a field of a later schema", coll, f)
			}
		}
	}

	cases := []struct {
		name          string
		proto, schema string
		status        int
		code          string
	}{
		{"future protocol", "99", "2", http.StatusBadRequest, protocol.CodeProtocolUnknown},
		{"future schema", "1", "99", http.StatusBadRequest, protocol.CodeSchemaUnknown},
		{"retired protocol", "0", "2", http.StatusUpgradeRequired, protocol.CodeProtocolTooOld},
		{"retired schema", "1", "0", http.StatusUpgradeRequired, protocol.CodeSchemaTooOld},
		{"missing versions", "", "", http.StatusBadRequest, protocol.CodeVersionMissing},
	}
	d := newDevice(t, w.env, w.worker)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{protocol.PathPull, protocol.PathPush} {
				status, _, body := d.raw(t, http.MethodPost, path, []byte(`{"mutations":[]}`), map[string]string{
					protocol.HeaderProtocol: c.proto, protocol.HeaderSchema: c.schema})
				var e protocol.Error
				if err := json.Unmarshal(body, &e); err != nil || status != c.status || e.Code != c.code || e.Message == "" {
					t.Fatalf("%s: want %d %s, got %d %s", path, c.status, c.code, status, body)
				}
			}
		})
	}
}

func TestInfo(t *testing.T) {
	w := newWorld(t)
	r := w.env.Do(t, http.MethodGet, protocol.PathInfo, "", nil)
	var info protocol.ServerInfo
	r.JSON(t, &info)
	if r.Status != http.StatusOK || info.SchemaCurrent != protocol.SchemaCurrent || info.TombstoneDays != 30 || info.Limits.MaxMutationsPerPush != protocol.MaxMutationsPerPush {
		t.Fatalf("info: %d %s", r.Status, r.Body)
	}
}

// A sharing agreement decides what whole agencies see: changing one makes
// every device rescope.
func TestSharingAgreementChangeRescopesEveryone(t *testing.T) {
	w := newWorld(t)
	d := newDevice(t, w.env, w.officer)
	d.sync(t)
	w.env.Create(t, "sharing_agreements", map[string]any{"name": "Outreach / Police MOU", "data_owner_kind": "outreach",
		"recipient_kind": "police", "compartments": []string{"contact_location"}, "purpose": "crisis_response", "valid_from": "2026-01-01 00:00:00Z"})
	if page := d.pullPage(t, 0, 0); page.Status != protocol.StatusRescope {
		t.Fatalf("want rescope after a sharing agreement changed, got %+v", page)
	}
}

// The feed's rowid hints may go stale (VACUUM renumbers rowids); a pull
// must still send each record's own content.
func TestPullSurvivesStaleRowidHints(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	a, b := newUUID(), newUUID()
	tab.push(t,
		create(t, "encounters", a, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach", "general_notes": "A"}),
		create(t, "encounters", b, map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach", "general_notes": "B"}))
	// Swap the two hints and point a third at nothing.
	if _, err := w.env.App.DB().NewQuery(`UPDATE sync_changes SET rid = CASE record_id WHEN {:a} THEN (SELECT rowid FROM encounters WHERE id = {:b})
		ELSE (SELECT rowid FROM encounters WHERE id = {:a}) END WHERE record_id IN ({:a}, {:b})`).Bind(map[string]any{"a": a, "b": b}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.App.DB().NewQuery(`UPDATE sync_changes SET rid = 999999 WHERE collection = 'teams'`).Execute(); err != nil {
		t.Fatal(err)
	}
	d := newDevice(t, w.env, w.officer)
	d.sync(t)
	if d.get("encounters", a)["general_notes"] != "A" || d.get("encounters", b)["general_notes"] != "B" || d.get("teams", w.north.Id) == nil {
		t.Fatalf("stale hints corrupted the pull: %v / %v", d.get("encounters", a), d.get("encounters", b))
	}
}
