package access_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

// BenchmarkRedactPage measures deciding a 500-encounter pull page for an
// officer: one Preload (consents of 500 people in one query), then Visible
// and Redact per record.
func BenchmarkRedactPage(b *testing.B) {
	env := testenv.New(b)
	outreach, police := env.Org(b, "Outreach", "outreach"), env.Org(b, "PD", "police")
	team := env.Team(b, "North")
	worker := env.User(b, "W", "outreach_worker", outreach, team)
	officer := env.User(b, "O", "officer", police, team)
	env.Create(b, "sharing_agreements", map[string]any{"name": "o->p", "data_owner_kind": "outreach", "recipient_kind": "police",
		"compartments": []string{"identity", "contact_location"}, "purpose": "crisis_response", "valid_from": "2026-01-01 00:00:00Z"})
	rows := make([]map[string]any, 500)
	for i := range rows {
		p := env.Create(b, "persons", map[string]any{"display_name": fmt.Sprint("P", i), "teams": []string{team.Id}})
		if i%2 == 0 {
			env.Create(b, "consents", map[string]any{"person": p.Id, "team": team.Id, "status": "active", "purpose": "crisis_response",
				"method": "signed", "compartments": []string{"identity", "contact_location"}, "recipients": []string{"police"},
				"valid_from": time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")})
		}
		rows[i] = map[string]any{"team": team.Id, "person": p.Id, "recorded_by": worker.Id,
			"location_note": "x", "clinical_notes": "y", "police_incident_ref": "z"}
	}
	v, _ := access.ViewerFromRecord(env.App, officer)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := access.NewDecider(env.App, v)
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Preload(domain.Encounters, rows); err != nil {
			b.Fatal(err)
		}
		for _, r := range rows {
			f := make(map[string]any, len(r))
			for k, x := range r {
				f[k] = x
			}
			if d.Visible(domain.Encounters, f) {
				d.Redact(domain.Encounters, f)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "records/s")
}
