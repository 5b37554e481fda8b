package privacy_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// device is a minimal sync client: it pulls every page and keeps the
// records it holds, applying evictions and deletes, as a tablet would.
type device struct {
	t      *testing.T
	w      *world
	id     string
	token  string
	cursor string
	held   map[string]json.RawMessage // "collection/id" -> record
}

func newDevice(t *testing.T, w *world, id, token string) *device {
	return &device{t: t, w: w, id: id, token: token, held: map[string]json.RawMessage{}}
}

func (d *device) pull() (status int, body []byte) {
	d.t.Helper()
	for page := 0; page < 100; page++ {
		req, _ := json.Marshal(protocol.PullRequest{Cursor: d.cursor})
		res := raw(d.t, d.w.env, http.MethodPost, protocol.PathPull, d.token, "application/json", req, map[string]string{
			protocol.HeaderProtocol: strconv.Itoa(protocol.ProtocolCurrent),
			protocol.HeaderSchema:   strconv.Itoa(protocol.SchemaCurrent),
			protocol.HeaderDevice:   d.id,
		})
		if res.Status != http.StatusOK {
			return res.Status, res.Body
		}
		var pr protocol.PullResponse
		res.JSON(d.t, &pr)
		if pr.Status == protocol.StatusReset || pr.Status == protocol.StatusRescope {
			d.held = map[string]json.RawMessage{}
		}
		for _, c := range pr.Changes {
			key := c.Collection + "/" + c.ID
			if c.Op == protocol.OpUpsert {
				d.held[key] = c.Record
			} else {
				delete(d.held, key)
			}
		}
		d.cursor = pr.Cursor
		if !pr.HasMore {
			return res.Status, res.Body
		}
	}
	d.t.Fatal("pull did not finish in 100 pages")
	return 0, nil
}

func (d *device) holds(collection, id string) (json.RawMessage, bool) {
	r, ok := d.held[collection+"/"+id]
	return r, ok
}

// FIELD-SCENARIO 11 through the sync engine: the officer's tablet holds
// Smokey; while it is offline Smokey revokes consent to share with police;
// at its next pull the person leaves the tablet and the encounter's
// location goes with it.
func TestScenario11ConsentRevokedWhileOffline(t *testing.T) {
	w := newWorld(t)
	env := w.env
	workerEnc := env.Create(t, "encounters", map[string]any{
		"person": w.smokey.Id, "team": w.north.Id, "occurred_at": past(time.Hour), "encounter_type": "outreach",
		"location_note": locationNote, "recorded_by": w.worker.Id,
	})
	tablet := newDevice(t, w, "7c9e6679-7425-40de-944b-e07fc1f90ae7", w.officerTok)
	if status, body := tablet.pull(); status != http.StatusOK {
		t.Fatalf("first pull: %d %s", status, body)
	}
	if _, ok := tablet.holds("persons", w.smokey.Id); !ok {
		t.Fatal("with consent the officer's tablet holds Smokey")
	}
	if rec, ok := tablet.holds("encounters", workerEnc.Id); !ok || !strings.Contains(string(rec), locationNote) {
		t.Fatalf("with consent the encounter carries its location: %s", rec)
	}
	if _, ok := tablet.holds("persons", w.quiet.Id); ok {
		t.Fatal("Quiet never consented: not on the officer's tablet")
	}
	for key, rec := range tablet.held {
		if l := leaks(rec, clinicalSecret, part2Secret); len(l) > 0 {
			t.Fatalf("FIELD-SCENARIO 12: %s reached the officer's tablet with %v", key, l)
		}
	}

	// Offline: the worker records the withdrawal.
	res := env.Do(t, http.MethodPatch, "/api/collections/consents/records/"+w.consent.Id, w.workerTok, map[string]any{"status": "revoked"})
	if res.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}

	if status, body := tablet.pull(); status != http.StatusOK {
		t.Fatalf("pull after reconnect: %d %s", status, body)
	}
	if _, ok := tablet.holds("persons", w.smokey.Id); ok {
		t.Fatal("after revocation Smokey must leave the officer's tablet")
	}
	if rec, ok := tablet.holds("encounters", workerEnc.Id); ok && strings.Contains(string(rec), locationNote) {
		t.Fatalf("after revocation the location must leave the tablet: %s", rec)
	}
}

// FIELD-SCENARIO 14 through the sync engine: the revoked tablet's next
// sync is refused with a wipe instruction.
func TestScenario14RevokedTabletSyncRefused(t *testing.T) {
	w := newWorld(t)
	tablet := newDevice(t, w, "9a7b6c5d-4e3f-4a1b-8c2d-3e4f5a6b7c8d", w.officerTok)
	if status, body := tablet.pull(); status != http.StatusOK {
		t.Fatalf("first pull (enrols the device): %d %s", status, body)
	}
	res := w.env.Do(t, http.MethodPatch, "/api/collections/devices/records/"+tablet.id, w.leadTok,
		map[string]any{"revoked_at": time.Now().UTC().Format(time.RFC3339)})
	if res.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", res.Status, res.Body)
	}
	status, body := tablet.pull()
	var e protocol.Error
	_ = json.Unmarshal(body, &e)
	if status != http.StatusForbidden || e.Code != protocol.CodeDeviceRevoked || !e.Wipe {
		t.Fatalf("want 403 device_revoked with wipe, got %d %s", status, body)
	}
	// Even signed in again, the device stays refused.
	u, _ := w.env.App.FindRecordById("users", w.officer.Id)
	tablet.token = w.env.Token(t, u)
	if status, _ := tablet.pull(); status != http.StatusForbidden {
		t.Fatalf("re-signed-in revoked tablet: want 403, got %d", status)
	}
}

// FIELD-SCENARIO 13: a worker moves from team North to team South. At the
// next sync North's records leave the tablet and South's arrive.
func TestScenario13TeamChange(t *testing.T) {
	w := newWorld(t)
	env := w.env
	southPerson := env.Create(t, "persons", map[string]any{"display_name": "Southie", "teams": []string{w.south.Id}})
	southEnc := env.Create(t, "encounters", map[string]any{"person": southPerson.Id, "team": w.south.Id,
		"occurred_at": past(time.Hour), "encounter_type": "outreach", "recorded_by": w.worker.Id})
	tablet := newDevice(t, w, "3f2e1d0c-9b8a-4765-8432-10fedcba9876", w.workerTok)
	if status, body := tablet.pull(); status != http.StatusOK {
		t.Fatalf("first pull: %d %s", status, body)
	}
	if _, ok := tablet.holds("encounters", w.enc.Id); !ok {
		t.Fatal("on North the tablet holds North's encounter")
	}
	if _, ok := tablet.holds("encounters", southEnc.Id); ok {
		t.Fatal("on North the tablet must not hold South's encounter")
	}

	u, _ := env.App.FindRecordById("users", w.worker.Id)
	u.Set("teams", []string{w.south.Id})
	if err := env.App.Save(u); err != nil {
		t.Fatal(err)
	}
	tablet.token = env.Token(t, u)
	if status, body := tablet.pull(); status != http.StatusOK {
		t.Fatalf("pull after the move: %d %s", status, body)
	}
	for _, id := range []string{w.enc.Id, w.quietEnc.Id} {
		if _, ok := tablet.holds("encounters", id); ok {
			t.Fatalf("North's encounter %s must leave the tablet", id)
		}
	}
	if _, ok := tablet.holds("persons", w.smokey.Id); ok {
		t.Fatal("North's person must leave the tablet")
	}
	if _, ok := tablet.holds("encounters", southEnc.Id); !ok {
		t.Fatal("South's encounter must arrive")
	}
	if _, ok := tablet.holds("persons", southPerson.Id); !ok {
		t.Fatal("South's person must arrive")
	}
}
