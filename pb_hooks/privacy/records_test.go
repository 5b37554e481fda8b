package privacy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
)

// FIELD-SCENARIO 12: an officer on the same team as the clinician who wrote
// them never receives clinical or substance-use notes, by any route. The
// clinician, on the same routes, does: each route is shown to carry the
// data, so its absence for the officer means something.
func TestClinicalNotesNeverReachAnOfficer(t *testing.T) {
	w := newWorld(t)
	env := w.env
	secrets := []string{clinicalSecret, part2Secret}

	routes := []struct{ name, path string }{
		{"list", "/api/collections/encounters/records"},
		{"view", "/api/collections/encounters/records/" + w.enc.Id},
		{"fields param", "/api/collections/encounters/records/" + w.enc.Id + "?fields=clinical_notes,part2_notes,id"},
		{"expand from follow-up", "/api/collections/followups/records/" + w.followup.Id + "?expand=encounter"},
		{"expand from referral list", "/api/collections/referrals/records?expand=encounter,person"},
		{"expand back-relation", "/api/collections/persons/records/" + w.smokey.Id + "?expand=encounters_via_person"},
	}
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			got := env.Do(t, http.MethodGet, r.path, w.clinTok, nil)
			if got.Status != http.StatusOK || len(leaks(got.Body, secrets...)) != 2 {
				t.Fatalf("clinician should receive both notes on this route: %d %s", got.Status, got.Body)
			}
			got = env.Do(t, http.MethodGet, r.path, w.officerTok, nil)
			if got.Status != http.StatusOK {
				t.Fatalf("officer request failed: %d %s", got.Status, got.Body)
			}
			if l := leaks(got.Body, secrets...); len(l) > 0 {
				t.Fatalf("officer received %v: %s", l, got.Body)
			}
			if !strings.Contains(string(got.Body), w.enc.Id) {
				t.Fatalf("officer should still see the encounter itself: %s", got.Body)
			}
		})
	}

	// Filters and sorts on hidden fields are refused before they run, on
	// every path a filter can take to the notes.
	refused := []string{
		"/api/collections/encounters/records?filter=" + q("clinical_notes~'opioid'"),
		"/api/collections/encounters/records?filter=" + q("part2_notes!=''"),
		"/api/collections/encounters/records?filter=" + q("(general_notes~'x' || clinical_notes:lower~'opioid')"),
		"/api/collections/encounters/records?sort=-clinical_notes",
		"/api/collections/encounters/records?sort=" + q("created,part2_notes"),
		"/api/collections/followups/records?filter=" + q("encounter.clinical_notes~'opioid'"),
		"/api/collections/referrals/records?filter=" + q("encounter.part2_notes~'methadone'"),
		"/api/collections/persons/records?filter=" + q("encounters_via_person.clinical_notes?~'opioid'"),
		"/api/collections/teams/records?filter=" + q("@collection.encounters.clinical_notes~'opioid'"),
		"/api/collections/followups/records?sort=" + q("encounter.clinical_notes"),
	}
	for _, path := range refused {
		got := env.Do(t, http.MethodGet, path, w.officerTok, nil)
		var body struct{ Code string }
		got.JSON(t, &body)
		if got.Status != http.StatusBadRequest || body.Code != privacy.CodeFieldNotQueryable {
			t.Errorf("officer filter %s: want 400 %s, got %d %s", path, privacy.CodeFieldNotQueryable, got.Status, got.Body)
		}
	}
	// The clinician may filter on clinical notes written in their agency.
	got := env.Do(t, http.MethodGet, "/api/collections/encounters/records?filter="+q("clinical_notes~'opioid'"), w.clinTok, nil)
	if got.Status != http.StatusOK || !strings.Contains(string(got.Body), w.enc.Id) {
		t.Fatalf("clinician filter on clinical notes: %d %s", got.Status, got.Body)
	}

	// Batch API: an officer's write whose answer expands the encounter.
	s := env.App.Settings()
	s.Batch.Enabled = true
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	batch := map[string]any{"requests": []map[string]any{{
		"method": "PATCH", "url": "/api/collections/followups/records/" + w.followup.Id + "?expand=encounter",
		"body": map[string]any{"notes": "called twice"},
	}}}
	got = env.Do(t, http.MethodPost, "/api/batch", w.officerTok, batch)
	if got.Status != http.StatusOK || !strings.Contains(string(got.Body), "called twice") {
		t.Fatalf("batch failed: %d %s", got.Status, got.Body)
	}
	if l := leaks(got.Body, secrets...); len(l) > 0 {
		t.Fatalf("batch answer leaked %v: %s", l, got.Body)
	}
}

// Realtime: an officer subscribed to encounters gets the event without the
// notes, and a subscription filtering on the notes is refused.
func TestRealtimeRedactsAndRefusesHiddenFilters(t *testing.T) {
	w := newWorld(t)
	env := w.env

	events, subscribe := openRealtime(t, env)
	res := subscribe(w.officerTok, "encounters/*?options="+url.QueryEscape(`{"query":{"filter":"clinical_notes~'opioid'"}}`))
	var body struct{ Code string }
	res.JSON(t, &body)
	if res.Status != http.StatusBadRequest || body.Code != privacy.CodeFieldNotQueryable {
		t.Fatalf("want subscription refused, got %d %s", res.Status, res.Body)
	}
	if res := subscribe(w.officerTok, "encounters/*"); res.Status != http.StatusNoContent {
		t.Fatalf("plain subscription: %d %s", res.Status, res.Body)
	}

	upd := env.Do(t, http.MethodPatch, "/api/collections/encounters/records/"+w.enc.Id, w.clinTok,
		map[string]any{"general_notes": "REALTIME-MARKER", "clinical_notes": clinicalSecret + " update"})
	if upd.Status != http.StatusOK {
		t.Fatalf("update: %d %s", upd.Status, upd.Body)
	}
	select {
	case msg := <-events:
		if !strings.Contains(msg, "REALTIME-MARKER") {
			t.Fatalf("unexpected event: %s", msg)
		}
		if l := leaks([]byte(msg), clinicalSecret, part2Secret); len(l) > 0 {
			t.Fatalf("realtime event leaked %v: %s", l, msg)
		}
		if !strings.Contains(msg, policeRef) {
			t.Fatalf("the officer should receive the police compartment: %s", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no realtime event within 5s")
	}
}

// openRealtime connects to /api/realtime and returns the record events and
// a function that (re)sets the client's subscriptions.
func openRealtime(t *testing.T, env *testenv.Env) (<-chan string, func(token, sub string) testenv.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, env.URL+"/api/realtime", nil)
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	lines := bufio.NewScanner(res.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	clientID := ""
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data:"); ok {
			var c struct{ ClientID string }
			_ = json.Unmarshal([]byte(data), &c)
			clientID = c.ClientID
			break
		}
	}
	if clientID == "" {
		t.Fatal("no PB_CONNECT event")
	}
	events := make(chan string, 16)
	go func() {
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data:"); ok {
				events <- data
			}
		}
	}()
	return events, func(token, sub string) testenv.Response {
		return env.Do(t, http.MethodPost, "/api/realtime", token, map[string]any{"clientId": clientID, "subscriptions": []string{sub}})
	}
}

// An officer cannot overwrite the notes they cannot read; sending them back
// unchanged (whole-record PATCH) is accepted.
func TestOfficerCannotWriteClinicalNotes(t *testing.T) {
	w := newWorld(t)
	env := w.env
	path := "/api/collections/encounters/records/" + w.enc.Id
	res := env.Do(t, http.MethodPatch, path, w.officerTok, map[string]any{"clinical_notes": "overwritten"})
	var body struct{ Code string }
	res.JSON(t, &body)
	if res.Status != http.StatusForbidden || body.Code != privacy.CodeCompartmentWriteForbidden {
		t.Fatalf("want 403 %s, got %d %s", privacy.CodeCompartmentWriteForbidden, res.Status, res.Body)
	}
	if r, _ := env.App.FindRecordById("encounters", w.enc.Id); r.GetString("clinical_notes") != clinicalSecret {
		t.Fatal("clinical notes were overwritten")
	}
	res = env.Do(t, http.MethodPatch, path, w.officerTok, map[string]any{"disposition": "voluntary_transport", "clinical_notes": clinicalSecret})
	if res.Status != http.StatusOK || strings.Contains(string(res.Body), clinicalSecret) {
		t.Fatalf("unchanged hidden field plus a real edit should pass, redacted: %d %s", res.Status, res.Body)
	}
}
