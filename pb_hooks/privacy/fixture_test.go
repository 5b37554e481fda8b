package privacy_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// Secrets planted in the fixture; a response containing one of them leaked.
const (
	clinicalSecret = "CLINICAL-SECRET-opioid-withdrawal"
	part2Secret    = "PART2-SECRET-methadone-clinic"
	policeRef      = "INC-2026-000417"
	locationNote   = "LOCATION-under-the-5th-st-bridge"
)

// world is a co-responder team: an outreach worker and a team lead
// (outreach agency), a clinician (health agency) and an officer (police),
// all on team North, with sharing agreements between the agencies and one
// person ("Smokey") who consented to share with police and health, and one
// ("Quiet") who gave no consent.
type world struct {
	env                                     *testenv.Env
	outreach, police, health                *core.Record
	north, south                            *core.Record
	worker, clinician, officer, lead        *core.Record
	smokey, quiet                           *core.Record
	consent                                 *core.Record
	enc, quietEnc                           *core.Record
	followup, referral                      *core.Record
	workerTok, clinTok, officerTok, leadTok string
}

func past(d time.Duration) string { return time.Now().Add(-d).UTC().Format("2006-01-02 15:04:05.000Z") }

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env}
	w.outreach = env.Org(t, "City Outreach", "outreach")
	w.police = env.Org(t, "Metro PD", "police")
	w.health = env.Org(t, "Street Health", "health")
	w.north, w.south = env.Team(t, "North"), env.Team(t, "South")
	w.worker = env.User(t, "Ana Worker", "outreach_worker", w.outreach, w.north)
	w.clinician = env.User(t, "Cleo Clinician", "clinician", w.health, w.north)
	w.officer = env.User(t, "Omar Officer", "officer", w.police, w.north)
	w.lead = env.User(t, "Lee Lead", "team_lead", w.outreach, w.north)

	agreement := func(owner, recipient string, comps ...string) {
		env.Create(t, "sharing_agreements", map[string]any{
			"name": owner + " to " + recipient, "data_owner_kind": owner, "recipient_kind": recipient,
			"compartments": comps, "purpose": "crisis_response", "valid_from": past(24 * time.Hour),
		})
	}
	agreement("outreach", "police", "identity", "contact_location", "photo")
	agreement("outreach", "health", "identity", "contact_location", "housing", "photo")
	agreement("police", "outreach", "police")

	w.smokey = env.Create(t, "persons", map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.north.Id}})
	w.quiet = env.Create(t, "persons", map[string]any{"display_name": "Quiet", "name_quality": "2", "teams": []string{w.north.Id}})
	w.consent = env.Create(t, "consents", map[string]any{
		"person": w.smokey.Id, "team": w.north.Id, "status": "active", "purpose": "crisis_response", "method": "signed",
		"compartments": []string{"identity", "contact_location", "housing", "photo", "clinical", "part2"},
		"recipients":   []string{"outreach", "police", "health"}, "valid_from": past(time.Hour),
	})
	enc := map[string]any{
		"person": w.smokey.Id, "team": w.north.Id, "occurred_at": past(2 * time.Hour), "encounter_type": "crisis_call",
		"clinical_notes": clinicalSecret, "part2_notes": part2Secret, "police_incident_ref": policeRef,
		"location_note": locationNote, "general_notes": "offered water", "recorded_by": w.clinician.Id,
	}
	w.enc = env.Create(t, "encounters", enc)
	enc["person"] = w.quiet.Id
	w.quietEnc = env.Create(t, "encounters", enc)
	w.followup = env.Create(t, "followups", map[string]any{"person": w.smokey.Id, "encounter": w.enc.Id, "team": w.north.Id, "status": "open"})
	w.referral = env.Create(t, "referrals", map[string]any{"person": w.smokey.Id, "encounter": w.enc.Id, "team": w.north.Id, "event_code": "10", "status": "pending"})

	w.workerTok, w.clinTok, w.officerTok, w.leadTok = env.Token(t, w.worker), env.Token(t, w.clinician), env.Token(t, w.officer), env.Token(t, w.lead)
	return w
}

// leaks reports which planted secrets a response body contains.
func leaks(body []byte, secrets ...string) []string {
	var out []string
	for _, s := range secrets {
		if bytes.Contains(body, []byte(s)) {
			out = append(out, s)
		}
	}
	return out
}

// upload sends a multipart records API request with one file.
func upload(t *testing.T, env *testenv.Env, method, path, token, field, filename string, data []byte, fields map[string]string) testenv.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	return raw(t, env, method, path, token, mw.FormDataContentType(), body.Bytes(), nil)
}

// raw sends a request with an explicit content type and headers.
func raw(t *testing.T, env *testenv.Env, method, path, token, contentType string, body []byte, headers map[string]string) testenv.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return testenv.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func q(s string) string {
	return strings.NewReplacer(" ", "%20", "'", "%27", "~", "%7E", "\"", "%22").Replace(s)
}
