package demo_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-outreach/tandem/internal/demo"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

// TestSeed loads the demo into a real hub, checks what is there, then signs
// in over HTTP with a printed login and sees that team's records only.
func TestSeed(t *testing.T) {
	env := testenv.New(t)
	logins, err := demo.Seed(env.App)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}

	counts := map[string]int{
		"organizations":      6,
		"teams":              2,
		"users":              13,
		"sharing_agreements": 4,
		"shelters":           3,
		"bed_programs":       6,
		"persons":            11,
		"consents":           9,
		"encounters":         2 * 7 * 3, // two teams, a week, three a night
		"referrals":          8,
		"followups":          12,
		"bed_holds":          2,
		"conflicts":          1,
		"_superusers":        1,
	}
	for collection, want := range counts {
		got, err := env.App.CountRecords(collection)
		if err != nil {
			t.Fatalf("count %s: %v", collection, err)
		}
		if int(got) != want {
			t.Errorf("%s: %d records, want %d", collection, got, want)
		}
	}

	// Organisations of every kind; one confidential shelter; every role.
	kinds := map[string]bool{}
	orgs, _ := env.App.FindAllRecords("organizations")
	for _, o := range orgs {
		kinds[o.GetString("kind")] = true
	}
	for _, k := range []string{"outreach", "police", "health", "housing", "victim_services"} {
		if !kinds[k] {
			t.Errorf("no organisation of kind %s", k)
		}
	}
	confidential, _ := env.App.FindAllRecords("shelters")
	n := 0
	for _, s := range confidential {
		if s.GetBool("confidential_location") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d confidential shelters, want 1", n)
	}
	roles := map[string]int{}
	for _, l := range logins {
		roles[l.Role]++
	}
	for role, want := range map[string]int{"superuser": 1, "outreach_worker": 2, "clinician": 2, "officer": 2, "team_lead": 2, "housing_agent": 3, "privacy_officer": 1, "analyst": 1} {
		if roles[role] != want {
			t.Errorf("%d %s logins, want %d", roles[role], role, want)
		}
	}

	// People met by both teams exist.
	both, err := env.App.FindAllRecords("persons")
	if err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, p := range both {
		if len(p.GetStringSlice("teams")) == 2 {
			shared++
		}
	}
	if shared < 2 {
		t.Errorf("%d persons met by both teams, want at least 2", shared)
	}

	// Sign in as the printed North outreach worker.
	var north demo.Login
	for _, l := range logins {
		if l.Role == "outreach_worker" && strings.HasPrefix(l.Team, "North") {
			north = l
		}
	}
	res := env.Do(t, http.MethodPost, "/api/collections/users/auth-with-password", "", map[string]any{"identity": north.Email, "password": north.Password})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", north.Email, res.Status, res.Body)
	}
	var auth struct {
		Token  string `json:"token"`
		Record struct {
			Teams []string `json:"teams"`
		} `json:"record"`
	}
	res.JSON(t, &auth)
	if len(auth.Record.Teams) != 1 || auth.Record.Teams[0] != demo.ID("team/north") {
		t.Fatalf("North worker's teams = %v", auth.Record.Teams)
	}
	northTeam := auth.Record.Teams[0]

	for _, tc := range []struct {
		collection string
		want       int
	}{
		{"encounters", 7 * 3},
		{"referrals", 4},
		{"followups", 6},
		{"persons", 6}, // four North-only and the two met by both teams
	} {
		res := env.Do(t, http.MethodGet, "/api/collections/"+tc.collection+"/records?perPage=200", auth.Token, nil)
		var page struct {
			TotalItems int              `json:"totalItems"`
			Items      []map[string]any `json:"items"`
		}
		res.JSON(t, &page)
		if res.Status != http.StatusOK || page.TotalItems != tc.want {
			t.Errorf("%s: status %d, %d items, want %d", tc.collection, res.Status, page.TotalItems, tc.want)
		}
		for _, it := range page.Items {
			if team, ok := it["team"].(string); ok && team != northTeam {
				t.Errorf("%s %v belongs to team %s, not North", tc.collection, it["id"], team)
			}
			if tms, ok := it["teams"].([]any); ok && !containsAny(tms, northTeam) {
				t.Errorf("%s %v is not on North's teams: %v", tc.collection, it["id"], tms)
			}
		}
	}

	// The North officer sees North's people only, and never a clinical note.
	var officer demo.Login
	for _, l := range logins {
		if l.Role == "officer" && strings.HasPrefix(l.Team, "North") {
			officer = l
		}
	}
	res = env.Do(t, http.MethodPost, "/api/collections/users/auth-with-password", "", map[string]any{"identity": officer.Email, "password": officer.Password})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", officer.Email, res.Status, res.Body)
	}
	res.JSON(t, &auth)
	res = env.Do(t, http.MethodGet, "/api/collections/encounters/records?perPage=200", auth.Token, nil)
	var encs struct {
		TotalItems int              `json:"totalItems"`
		Items      []map[string]any `json:"items"`
	}
	res.JSON(t, &encs)
	if res.Status != http.StatusOK || encs.TotalItems != 7*3 {
		t.Errorf("officer encounters: status %d, %d items, want 21", res.Status, encs.TotalItems)
	}
	for _, it := range encs.Items {
		if it["team"] != northTeam {
			t.Errorf("officer sees encounter %v of team %v", it["id"], it["team"])
		}
		if notes, _ := it["clinical_notes"].(string); notes != "" {
			t.Errorf("officer received clinical notes of encounter %v", it["id"])
		}
	}

	// The dashboard superuser works too.
	res = env.Do(t, http.MethodPost, "/api/collections/_superusers/auth-with-password", "", map[string]any{"identity": demo.SuperuserEmail, "password": demo.SuperuserPassword})
	if res.Status != http.StatusOK {
		t.Fatalf("superuser login: %d %s", res.Status, res.Body)
	}
}

func containsAny(list []any, want string) bool {
	for _, v := range list {
		if v == want {
			return true
		}
	}
	return false
}

// TestSeedTwice: a second run changes nothing and says so.
func TestSeedTwice(t *testing.T) {
	env := testenv.New(t)
	if _, err := demo.Seed(env.App); err != nil {
		t.Fatal(err)
	}
	before, _ := env.App.CountRecords("encounters")
	logins, err := demo.Seed(env.App)
	if !errors.Is(err, demo.ErrAlreadyLoaded) {
		t.Fatalf("second seed: err = %v, want ErrAlreadyLoaded", err)
	}
	if len(logins) != 14 {
		t.Errorf("second seed returned %d logins, want 14", len(logins))
	}
	after, _ := env.App.CountRecords("encounters")
	if before != after {
		t.Errorf("encounters went from %d to %d", before, after)
	}
}

// TestCommand runs the demo command twice against a real app and reads its
// output, as a person at a terminal would.
func TestCommand(t *testing.T) {
	env := testenv.New(t)
	for i, want := range []string{"Demo data loaded", "already loaded"} {
		cmd := demo.Command(env.App)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetArgs(nil)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		text := out.String()
		if !strings.Contains(text, want) {
			t.Errorf("run %d: output lacks %q:\n%s", i+1, want, text)
		}
		for _, s := range []string{"north.worker@demo.example.org", demo.Password, demo.SuperuserEmail, "South Side Co-Responder Team", "housing_agent"} {
			if !strings.Contains(text, s) {
				t.Errorf("run %d: output lacks %q", i+1, s)
			}
		}
	}
}

func TestIDsAreValid(t *testing.T) {
	for _, key := range []string{"org/outreach", "team/north", "x"} {
		id := demo.ID(key)
		if len(id) != 15 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("ID(%q) = %q, not a PocketBase id", key, id)
		}
		u := demo.UUID(key)
		if len(u) != 36 || u[14] != '4' || strings.Count(u, "-") != 4 {
			t.Errorf("UUID(%q) = %q, not a UUIDv4", key, u)
		}
	}
	if demo.ID("a") == demo.ID("b") || demo.ID("a") != demo.ID("a") {
		t.Error("ID must be deterministic and distinct")
	}
}
