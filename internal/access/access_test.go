package access_test

import (
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

// The decision is role ceiling ∩ sharing agreement ∩ consent. Each row
// names who looks, at what, and whether the person consented.
func TestDecisionCombinesRoleAgreementAndConsent(t *testing.T) {
	env := testenv.New(t)
	outreach, police, health := env.Org(t, "Outreach", "outreach"), env.Org(t, "PD", "police"), env.Org(t, "Health", "health")
	team := env.Team(t, "North")
	users := map[string]*core.Record{
		"worker":    env.User(t, "W", "outreach_worker", outreach, team),
		"clinician": env.User(t, "C", "clinician", health, team),
		"officer":   env.User(t, "O", "officer", police, team),
		"lead":      env.User(t, "L", "team_lead", outreach, team),
		"analyst":   env.User(t, "A", "analyst", outreach),
	}
	ts := func(d time.Duration) string { return time.Now().Add(d).UTC().Format("2006-01-02 15:04:05.000Z") }
	env.Create(t, "sharing_agreements", map[string]any{"name": "o->p", "data_owner_kind": "outreach", "recipient_kind": "police",
		"compartments": []string{"identity", "contact_location"}, "purpose": "crisis_response", "valid_from": ts(-time.Hour)})
	env.Create(t, "sharing_agreements", map[string]any{"name": "h->o expired", "data_owner_kind": "health", "recipient_kind": "outreach",
		"compartments": []string{"clinical"}, "purpose": "care_coordination", "valid_from": ts(-48 * time.Hour), "valid_until": ts(-time.Hour)})
	env.Create(t, "sharing_agreements", map[string]any{"name": "p->o", "data_owner_kind": "police", "recipient_kind": "outreach",
		"compartments": []string{"police"}, "purpose": "crisis_response", "valid_from": ts(-time.Hour)})
	consenting := env.Create(t, "persons", map[string]any{"display_name": "Yes", "teams": []string{team.Id}})
	silent := env.Create(t, "persons", map[string]any{"display_name": "No", "teams": []string{team.Id}})
	env.Create(t, "consents", map[string]any{"person": consenting.Id, "team": team.Id, "status": "active", "purpose": "crisis_response",
		"method": "signed", "compartments": []string{"identity", "contact_location", "part2", "photo"},
		"recipients": []string{"police", "health"}, "valid_from": ts(-time.Hour)})
	// A revoked and a future consent count for nothing.
	env.Create(t, "consents", map[string]any{"person": silent.Id, "team": team.Id, "status": "revoked", "purpose": "crisis_response",
		"method": "signed", "compartments": []string{"identity", "part2"}, "recipients": []string{"police", "health"}, "valid_from": ts(-time.Hour)})
	env.Create(t, "consents", map[string]any{"person": silent.Id, "team": team.Id, "status": "active", "purpose": "crisis_response",
		"method": "signed", "compartments": []string{"identity", "part2"}, "recipients": []string{"police", "health"}, "valid_from": ts(time.Hour)})

	enc := func(person *core.Record, recorder string) map[string]any {
		return map[string]any{"team": team.Id, "person": person.Id, "recorded_by": users[recorder].Id}
	}
	cases := []struct {
		who, what  string
		fields     map[string]any
		collection string
		comp       domain.Compartment
		want       bool
	}{
		{"officer", "clinical, even with everything else allowed", enc(consenting, "clinician"), domain.Encounters, domain.CompClinical, false},
		{"officer", "part2", enc(consenting, "clinician"), domain.Encounters, domain.CompPart2, false},
		{"officer", "identity with agreement and consent", map[string]any{"id": consenting.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompIdentity, true},
		{"officer", "identity without consent", map[string]any{"id": silent.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompIdentity, false},
		{"officer", "location recorded by outreach, consent", enc(consenting, "worker"), domain.Encounters, domain.CompContactLocation, true},
		{"officer", "location recorded by health: no agreement", enc(consenting, "clinician"), domain.Encounters, domain.CompContactLocation, false},
		{"officer", "own police compartment", enc(silent, "clinician"), domain.Encounters, domain.CompPolice, true},
		{"worker", "police compartment under agreement", enc(silent, "officer"), domain.Encounters, domain.CompPolice, false},
		{"lead", "police compartment under agreement (team lead role)", enc(silent, "officer"), domain.Encounters, domain.CompPolice, true},
		{"worker", "identity, own agency, no consent needed", map[string]any{"id": silent.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompIdentity, true},
		{"worker", "photo always needs consent", map[string]any{"id": consenting.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompPhoto, false},
		{"clinician", "own agency clinical notes", enc(silent, "clinician"), domain.Encounters, domain.CompClinical, true},
		{"clinician", "part2 with consent", enc(consenting, "clinician"), domain.Encounters, domain.CompPart2, true},
		{"clinician", "part2 without consent (revoked + not yet valid)", enc(silent, "clinician"), domain.Encounters, domain.CompPart2, false},
		{"clinician", "identity: no outreach->health agreement", map[string]any{"id": consenting.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompIdentity, false},
		{"analyst", "identity", map[string]any{"id": silent.Id, "teams": []string{team.Id}}, domain.Persons, domain.CompIdentity, false},
	}
	for _, c := range cases {
		t.Run(c.who+": "+c.what, func(t *testing.T) {
			v, err := access.ViewerFromRecord(env.App, users[c.who])
			if err != nil {
				t.Fatal(err)
			}
			d, err := access.NewDecider(env.App, v)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.CompartmentVisible(c.collection, c.fields, c.comp); got != c.want {
				t.Fatalf("CompartmentVisible = %v, want %v", got, c.want)
			}
		})
	}

	// Whole-record visibility of persons follows identity.
	v, _ := access.ViewerFromRecord(env.App, users["officer"])
	d, _ := access.NewDecider(env.App, v)
	if !d.Visible(domain.Persons, map[string]any{"id": consenting.Id, "teams": []string{team.Id}}) ||
		d.Visible(domain.Persons, map[string]any{"id": silent.Id, "teams": []string{team.Id}}) {
		t.Fatal("officer should see the consenting person only")
	}
	// Preload answers a page of records in bounded queries.
	rows := []map[string]any{enc(consenting, "worker"), enc(silent, "worker")}
	if err := d.Preload(domain.Encounters, rows); err != nil {
		t.Fatal(err)
	}
	// Sorted by name: the audit details built from them are stable.
	hidden := d.HiddenFields(domain.Encounters, rows[1])
	want := []string{"clinical_notes", "living_situation", "location", "location_note", "part2_notes", "photos"}
	if !slices.Equal(hidden, want) {
		t.Fatalf("hidden fields for the officer on a non-consenting person's encounter: %v, want %v", hidden, want)
	}
}

// Victim-service locations never leave the agency that runs the site.
func TestConfidentialShelterLocation(t *testing.T) {
	env := testenv.New(t)
	dv := env.Org(t, "Safe House", "victim_services")
	outreach := env.Org(t, "Outreach", "outreach")
	team := env.Team(t, "North")
	shelter := map[string]any{"organization": dv.Id, "confidential_location": true, "address": "1 Hidden Rd"}
	for _, c := range []struct {
		user *core.Record
		want int
	}{
		{env.User(t, "Lead", "team_lead", outreach, team), 2},
		{env.User(t, "Agent", "housing_agent", dv), 0},
	} {
		v, _ := access.ViewerFromRecord(env.App, c.user)
		d, _ := access.NewDecider(env.App, v)
		if got := len(d.HiddenFields(domain.Shelters, shelter)); got != c.want {
			t.Fatalf("%s: %d hidden, want %d", c.user.GetString("role"), got, c.want)
		}
	}
}
