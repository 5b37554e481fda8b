package privacy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
)

type auditRow struct {
	Actor, Action, Collection, Device string
	RecordID                          string `db:"record_id"`
	Fields                            string
}

func auditRows(t *testing.T, app core.App, action string) []auditRow {
	t.Helper()
	var rows []auditRow
	err := app.DB().Select("actor", "action", "collection", "device", "record_id", "fields").From("audit_events").
		Where(dbx.HashExp{"action": action}).OrderBy("seq").All(&rows)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Records API writes are audited with who, which record and which fields
// (never the values); reads of sensitive compartments leave read_sensitive.
func TestWritesAndSensitiveReadsAreAudited(t *testing.T) {
	w := newWorld(t)
	env := w.env
	id := "0b0f1c2e-3d4e-4f50-8a6b-7c8d9e0f1a2b"
	res := raw(t, env, http.MethodPost, "/api/collections/encounters/records", w.clinTok, "application/json",
		[]byte(`{"id":"`+id+`","team":"`+w.north.Id+`","occurred_at":"2026-11-20 21:00:00Z","encounter_type":"outreach","clinical_notes":"x-secret-value","recorded_by":"`+w.clinician.Id+`"}`),
		map[string]string{"X-Tandem-Device": ""})
	if res.Status != http.StatusOK {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	creates := auditRows(t, env.App, "create")
	if len(creates) != 1 || creates[0].Actor != w.clinician.Id || creates[0].RecordID != id ||
		!strings.Contains(creates[0].Fields, "clinical_notes") || strings.Contains(creates[0].Fields, "x-secret-value") {
		t.Fatalf("want one create event naming clinical_notes without its value, got %+v", creates)
	}
	res = env.Do(t, http.MethodPatch, "/api/collections/encounters/records/"+id, w.clinTok, map[string]any{"disposition": "declined"})
	if res.Status != http.StatusOK {
		t.Fatalf("update: %d %s", res.Status, res.Body)
	}
	updates := auditRows(t, env.App, "update")
	if len(updates) != 1 || updates[0].Fields != `["disposition"]` {
		t.Fatalf("update event should name exactly the changed field: %+v", updates)
	}

	// Reads: the clinician reading clinical notes is audited; the officer
	// reading the same encounter without them is not.
	env.Do(t, http.MethodGet, "/api/collections/encounters/records/"+w.enc.Id, w.officerTok, nil)
	before := len(auditRows(t, env.App, "read_sensitive"))
	env.Do(t, http.MethodGet, "/api/collections/encounters/records/"+w.enc.Id, w.clinTok, nil)
	reads := auditRows(t, env.App, "read_sensitive")
	if len(reads) != before+1 {
		t.Fatalf("want one more read_sensitive event, got %d -> %d", before, len(reads))
	}
	last := reads[len(reads)-1]
	if last.Actor != w.clinician.Id || !strings.Contains(last.Fields, "clinical_notes") || !strings.Contains(last.Fields, "part2_notes") {
		t.Fatalf("read event: %+v", last)
	}
	for _, r := range reads {
		if r.Actor == w.officer.Id && (strings.Contains(r.Fields, "clinical") || strings.Contains(r.Fields, "part2")) {
			t.Fatalf("officer read of clinical notes recorded: %+v", r)
		}
	}
	if _, err := audit.Verify(env.App); err != nil {
		t.Fatalf("chain should verify: %v", err)
	}
}

// Nobody, not even a superuser, changes the audit trail through
// PocketBase; raw tampering is caught by audit verify.
func TestAuditTrailIsAppendOnly(t *testing.T) {
	w := newWorld(t)
	env := w.env
	if err := audit.Append(env.App, audit.Event{Actor: w.lead.Id, ActorKind: "user", Action: "update"}); err != nil {
		t.Fatal(err)
	}
	var ev struct{ ID string }
	if err := env.App.DB().NewQuery("SELECT id FROM audit_events ORDER BY seq DESC LIMIT 1").One(&ev); err != nil {
		t.Fatal(err)
	}
	su := env.SuperuserToken(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodPatch, "/api/collections/audit_events/records/" + ev.ID},
		{http.MethodDelete, "/api/collections/audit_events/records/" + ev.ID},
		{http.MethodPost, "/api/collections/audit_events/records"},
		{http.MethodDelete, "/api/collections/audit_events/truncate"},
		{http.MethodDelete, "/api/collections/audit_events"},
	} {
		res := env.Do(t, c.method, c.path, su, map[string]any{"actor": "nobody", "seq": 999, "action": "x", "hash": "x", "at": "2026-01-01 00:00:00Z"})
		if res.Status < 400 {
			t.Errorf("superuser %s %s should be refused, got %d %s", c.method, c.path, res.Status, res.Body)
		}
	}
	rec, err := env.App.FindRecordById("audit_events", ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("actor", "nobody")
	if err := env.App.Save(rec); err == nil {
		t.Fatal("app.Save of an audit event must fail")
	}
	if err := env.App.Delete(rec); err == nil {
		t.Fatal("app.Delete of an audit event must fail")
	}
	if _, err := audit.Verify(env.App); err != nil {
		t.Fatalf("refused attempts must leave the chain intact: %v", err)
	}
	var code struct{ Code string }
	res := env.Do(t, http.MethodPatch, "/api/collections/audit_events/records/"+ev.ID, su, map[string]any{"actor": "x"})
	res.JSON(t, &code)
	if code.Code != privacy.CodeAuditAppendOnly {
		t.Fatalf("want code %s, got %s", privacy.CodeAuditAppendOnly, res.Body)
	}
}

// FIELD-SCENARIO 14: a team lead revokes a lost tablet. Its owner's tokens
// stop working everywhere, any request naming the device is refused with a
// wipe instruction, and the revocation is audited.
func TestLostTabletRevoked(t *testing.T) {
	w := newWorld(t)
	env := w.env
	dev := env.Create(t, "devices", map[string]any{"user": w.officer.Id, "label": "Tablet 7"})
	hdr := map[string]string{privacy.DeviceHeader: dev.Id}

	ok := raw(t, env, http.MethodGet, "/api/collections/encounters/records", w.officerTok, "", nil, hdr)
	if ok.Status != http.StatusOK || !strings.Contains(string(ok.Body), w.enc.Id) {
		t.Fatalf("before revocation the tablet works: %d %s", ok.Status, ok.Body)
	}
	// Another user's token with this device id is refused.
	if res := raw(t, env, http.MethodGet, "/api/collections/encounters/records", w.workerTok, "", nil, hdr); res.Status != http.StatusForbidden {
		t.Fatalf("device of another user: want 403, got %d", res.Status)
	}

	res := env.Do(t, http.MethodPatch, "/api/collections/devices/records/"+dev.Id, w.leadTok,
		map[string]any{"revoked_at": time.Now().UTC().Format(time.RFC3339)})
	if res.Status != http.StatusOK {
		t.Fatalf("team lead revokes: %d %s", res.Status, res.Body)
	}

	// The old token no longer authenticates anywhere.
	if res := env.Do(t, http.MethodPost, "/api/collections/users/auth-refresh", w.officerTok, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("old token auth-refresh: want 401, got %d %s", res.Status, res.Body)
	}
	list := env.Do(t, http.MethodGet, "/api/collections/encounters/records", w.officerTok, nil)
	if strings.Contains(string(list.Body), w.enc.Id) {
		t.Fatalf("old token still reads records: %s", list.Body)
	}
	// A fresh token on the revoked device is refused with a wipe.
	fresh, _ := env.App.FindRecordById("users", w.officer.Id)
	for _, path := range []string{"/api/collections/encounters/records", "/api/sync/v1/pull", "/api/health"} {
		res := raw(t, env, http.MethodGet, path, env.Token(t, fresh), "", nil, hdr)
		var body struct {
			Code string
			Wipe bool
		}
		res.JSON(t, &body)
		if res.Status != http.StatusForbidden || body.Code != privacy.CodeDeviceRevoked || !body.Wipe {
			t.Fatalf("%s on a revoked device: want 403 %s wipe, got %d %s", path, privacy.CodeDeviceRevoked, res.Status, res.Body)
		}
	}
	// The same user on a new tablet carries on.
	if res := env.Do(t, http.MethodGet, "/api/collections/encounters/records", env.Token(t, fresh), nil); !strings.Contains(string(res.Body), w.enc.Id) {
		t.Fatalf("new token without the revoked device should work: %s", res.Body)
	}
	revokes := auditRows(t, env.App, "revoke")
	if len(revokes) != 1 || revokes[0].Actor != w.lead.Id || revokes[0].RecordID != dev.Id {
		t.Fatalf("want one revoke event by the lead, got %+v", revokes)
	}
	// Un-revoking is refused.
	res = env.Do(t, http.MethodPatch, "/api/collections/devices/records/"+dev.Id, w.leadTok, map[string]any{"revoked_at": ""})
	if res.Status < 400 || !strings.Contains(string(res.Body), privacy.CodeRevocationFinal) {
		t.Fatalf("un-revoking should be refused: %d %s", res.Status, res.Body)
	}
}
