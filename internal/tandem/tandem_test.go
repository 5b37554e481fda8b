package tandem_test

import (
	"net/http"
	"testing"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// TestSmoke proves the composed server starts, migrates and enforces a team
// rule over real HTTP.
func TestSmoke(t *testing.T) {
	env := testenv.New(t)
	org := env.Org(t, "City Outreach", "outreach")
	north, south := env.Team(t, "North"), env.Team(t, "South")
	worker := env.User(t, "Ana Worker", "outreach_worker", org, north)
	env.Create(t, "encounters", map[string]any{"team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	env.Create(t, "encounters", map[string]any{"team": south.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})

	res := env.Do(t, http.MethodGet, "/api/collections/encounters/records", env.Token(t, worker), nil)
	var list struct {
		TotalItems int `json:"totalItems"`
		Items      []struct {
			ID   string `json:"id"`
			Team string `json:"team"`
		} `json:"items"`
	}
	res.JSON(t, &list)
	if res.Status != http.StatusOK || list.TotalItems != 1 || list.Items[0].Team != north.Id {
		t.Fatalf("worker on North should see exactly North's encounter, got %d %s", res.Status, res.Body)
	}
	if len(list.Items[0].ID) != 36 {
		t.Fatalf("encounter id should be a UUID, got %q", list.Items[0].ID)
	}
}
