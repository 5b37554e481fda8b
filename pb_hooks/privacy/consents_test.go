package privacy_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// FIELD-SCENARIO 11 at the records API and change feed: a person revokes
// consent to share with police. The officer stops receiving the person and
// the consent-gated fields of their encounters, and the change feed
// re-emits the person and every record about them (marked as an access
// change) so an offline tablet gets evictions at its next pull.
func TestConsentRevokedFieldsAndRecordsLeaveTheOfficer(t *testing.T) {
	w := newWorld(t)
	env := w.env
	workerEnc := env.Create(t, "encounters", map[string]any{
		"person": w.smokey.Id, "team": w.north.Id, "occurred_at": past(time.Hour), "encounter_type": "outreach",
		"location_note": locationNote, "recorded_by": w.worker.Id,
	})

	// Before: the officer sees Smokey (consent) but not Quiet (none).
	list := env.Do(t, http.MethodGet, "/api/collections/persons/records", w.officerTok, nil)
	if !strings.Contains(string(list.Body), w.smokey.Id) || strings.Contains(string(list.Body), w.quiet.Id) {
		t.Fatalf("before revocation the officer should list Smokey only: %s", list.Body)
	}
	if res := env.Do(t, http.MethodGet, "/api/collections/persons/records/"+w.quiet.Id, w.officerTok, nil); res.Status != http.StatusNotFound {
		t.Fatalf("person without consent should be 404 to the officer, got %d %s", res.Status, res.Body)
	}
	view := env.Do(t, http.MethodGet, "/api/collections/encounters/records/"+workerEnc.Id, w.officerTok, nil)
	if !strings.Contains(string(view.Body), locationNote) {
		t.Fatalf("with consent the officer sees the location: %s", view.Body)
	}
	// The outreach worker's own agency needs no consent for the name.
	if res := env.Do(t, http.MethodGet, "/api/collections/persons/records/"+w.quiet.Id, w.workerTok, nil); res.Status != http.StatusOK {
		t.Fatalf("the outreach worker sees Quiet: %d %s", res.Status, res.Body)
	}

	head, err := changefeed.Head(env.App)
	if err != nil {
		t.Fatal(err)
	}

	// The worker records the withdrawal through the API.
	res := env.Do(t, http.MethodPatch, "/api/collections/consents/records/"+w.consent.Id, w.workerTok,
		map[string]any{"status": "revoked", "revoked_at": time.Now().UTC().Format(time.RFC3339)})
	if res.Status != http.StatusOK {
		t.Fatalf("revoke consent: %d %s", res.Status, res.Body)
	}

	list = env.Do(t, http.MethodGet, "/api/collections/persons/records", w.officerTok, nil)
	if strings.Contains(string(list.Body), w.smokey.Id) {
		t.Fatalf("after revocation Smokey must leave the officer's list: %s", list.Body)
	}
	var page struct{ TotalItems int }
	list.JSON(t, &page)
	if page.TotalItems != 0 {
		t.Fatalf("totalItems should not count hidden persons: %s", list.Body)
	}
	if res := env.Do(t, http.MethodGet, "/api/collections/persons/records/"+w.smokey.Id, w.officerTok, nil); res.Status != http.StatusNotFound {
		t.Fatalf("after revocation the officer's view of Smokey: want 404, got %d %s", res.Status, res.Body)
	}
	view = env.Do(t, http.MethodGet, "/api/collections/encounters/records/"+workerEnc.Id+"?expand=person", w.officerTok, nil)
	if view.Status != http.StatusOK || strings.Contains(string(view.Body), locationNote) || strings.Contains(string(view.Body), "Smokey") {
		t.Fatalf("after revocation the encounter must lose location and the person's name: %d %s", view.Status, view.Body)
	}
	if !strings.Contains(string(view.Body), policeRef) && !strings.Contains(string(view.Body), workerEnc.Id) {
		t.Fatalf("the encounter itself stays: %s", view.Body)
	}
	// The worker (same agency as the data) is not affected.
	if res := env.Do(t, http.MethodGet, "/api/collections/persons/records/"+w.smokey.Id, w.workerTok, nil); res.Status != http.StatusOK {
		t.Fatalf("the outreach worker still sees Smokey: %d", res.Status)
	}

	touched := map[string]bool{}
	err = changefeed.Scan(env.App.DB(), head, 1000, func(e changefeed.Entry) error {
		if e.Reason == "access" {
			touched[e.Collection+"/"+e.RecordID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"persons/" + w.smokey.Id, "encounters/" + w.enc.Id, "encounters/" + workerEnc.Id,
		"followups/" + w.followup.Id, "referrals/" + w.referral.Id} {
		if !touched[want] {
			t.Errorf("change feed should re-emit %s as an access change; got %v", want, touched)
		}
	}
}

// Consents with an end date lapse by themselves: the expiry job marks them
// expired and the same re-emission happens.
func TestConsentExpiry(t *testing.T) {
	w := newWorld(t)
	env := w.env
	if _, err := env.App.DB().NewQuery("UPDATE consents SET valid_until = {:t} WHERE id = {:id}").
		Bind(map[string]any{"t": past(time.Minute), "id": w.consent.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	n, err := privacy.ExpireConsents(env.App, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("want 1 consent expired, got %d %v", n, err)
	}
	c, _ := env.App.FindRecordById("consents", w.consent.Id)
	if c.GetString("status") != "expired" {
		t.Fatalf("status: %s", c.GetString("status"))
	}
	if res := env.Do(t, http.MethodGet, "/api/collections/persons/records/"+w.smokey.Id, w.officerTok, nil); res.Status != http.StatusNotFound {
		t.Fatalf("expired consent: officer should not see Smokey, got %d", res.Status)
	}
}
