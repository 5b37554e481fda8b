package persons_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/pb_hooks/persons"
)

// world: two co-responder teams that both meet "Smokey", a third team that
// never did, and a superuser for checking the whole picture.
type world struct {
	env                    *testenv.Env
	teamA, teamB, teamC    *core.Record
	workerA, workerB       *core.Record
	leadA, leadB, leadC    *core.Record
	tokWorkerA, tokWorkerB string
	tokLeadA, tokLeadB     string
	tokLeadC, tokOfficerA  string
	tokSuper               string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env}
	outreach := env.Org(t, "City Outreach", "outreach")
	police := env.Org(t, "City Police", "police")
	w.teamA, w.teamB, w.teamC = env.Team(t, "North Side"), env.Team(t, "South Side"), env.Team(t, "East Side")
	w.workerA = env.User(t, "Ana Worker", "outreach_worker", outreach, w.teamA)
	w.workerB = env.User(t, "Ben Worker", "outreach_worker", outreach, w.teamB)
	officerA := env.User(t, "Oscar Officer", "officer", police, w.teamA)
	w.leadA = env.User(t, "Lea Lead", "team_lead", outreach, w.teamA)
	w.leadB = env.User(t, "Luis Lead", "team_lead", outreach, w.teamB)
	w.leadC = env.User(t, "Lin Lead", "team_lead", outreach, w.teamC)
	w.tokWorkerA, w.tokWorkerB = env.Token(t, w.workerA), env.Token(t, w.workerB)
	w.tokLeadA, w.tokLeadB, w.tokLeadC = env.Token(t, w.leadA), env.Token(t, w.leadB), env.Token(t, w.leadC)
	w.tokOfficerA = env.Token(t, officerA)
	w.tokSuper = env.SuperuserToken(t)
	return w
}

// create posts a record through the records API and returns its id.
func (w *world) create(t *testing.T, tok, collection string, body map[string]any) string {
	t.Helper()
	res := w.env.Do(t, http.MethodPost, "/api/collections/"+collection+"/records", tok, body)
	if res.Status != http.StatusOK {
		t.Fatalf("create %s: %d %s", collection, res.Status, res.Body)
	}
	var out struct {
		ID string `json:"id"`
	}
	res.JSON(t, &out)
	return out.ID
}

type matchView struct {
	ID        string           `json:"id"`
	PersonA   string           `json:"person_a"`
	PersonB   string           `json:"person_b"`
	Status    string           `json:"status"`
	Score     float64          `json:"score"`
	Reasons   []persons.Reason `json:"reasons"`
	DecidedBy string           `json:"decided_by"`
}

func (w *world) listMatches(t *testing.T, tok string) []matchView {
	t.Helper()
	res := w.env.Do(t, http.MethodGet, "/api/collections/person_matches/records?perPage=200", tok, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("list pairs: %d %s", res.Status, res.Body)
	}
	var out struct {
		Items []matchView `json:"items"`
	}
	res.JSON(t, &out)
	return out.Items
}

type apiErr struct {
	Status int            `json:"status"`
	Code   string         `json:"code"`
	Msg    string         `json:"message"`
	Data   map[string]any `json:"data"`
}

// post calls a merge or undo route and checks the status; on an error it
// returns the decoded error body.
func (w *world) post(t *testing.T, path, tok string, body any, want int) (testenv.Response, apiErr) {
	t.Helper()
	res := w.env.Do(t, http.MethodPost, path, tok, body)
	if res.Status != want {
		t.Fatalf("POST %s: status %d, want %d: %s", path, res.Status, want, res.Body)
	}
	var e apiErr
	if want >= 400 {
		res.JSON(t, &e)
		if e.Code == "" || e.Msg == "" || e.Status != want {
			t.Fatalf("POST %s: error without code, message or status: %s", path, res.Body)
		}
	}
	return res, e
}

func (w *world) person(t *testing.T, id string) *core.Record {
	t.Helper()
	p, err := w.env.App.FindRecordById("persons", id)
	if err != nil {
		t.Fatalf("person %s: %v", id, err)
	}
	return p
}

func (w *world) personOf(t *testing.T, collection, id string) string {
	t.Helper()
	r, err := w.env.App.FindRecordById(collection, id)
	if err != nil {
		t.Fatalf("%s %s: %v", collection, id, err)
	}
	return r.GetString("person")
}

func (w *world) encounter(t *testing.T, tok, team, person string) string {
	return w.create(t, tok, "encounters", map[string]any{
		"person": person, "team": team, "occurred_at": time.Now().UTC().Format(time.RFC3339),
		"encounter_type": "outreach", "general_notes": "Met under the bridge.",
	})
}

const (
	mergePath   = "/api/tandem/persons/merge"
	unmergePath = "/api/tandem/persons/unmerge"
)

// TestTwoTeamsOnePerson is FIELD-SCENARIO 1 end to end over HTTP.
func TestTwoTeamsOnePerson(t *testing.T) {
	w := newWorld(t)

	// Both teams meet Smokey the same night and each records a person.
	smokeyA := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.teamA.Id}})
	smokeyB := w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "smokey ", "name_quality": "2", "birth_year": 1979, "teams": []string{w.teamB.Id}})
	other := w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "Stanley", "teams": []string{w.teamB.Id}})
	encA := w.encounter(t, w.tokWorkerA, w.teamA.Id, smokeyA)
	encB1 := w.encounter(t, w.tokWorkerB, w.teamB.Id, smokeyB)
	encB2 := w.encounter(t, w.tokWorkerB, w.teamB.Id, smokeyB)
	encOther := w.encounter(t, w.tokWorkerB, w.teamB.Id, other)
	refB := w.create(t, w.tokWorkerB, "referrals", map[string]any{"person": smokeyB, "team": w.teamB.Id, "event_code": "10", "status": "pending"})
	fupB := w.create(t, w.tokWorkerB, "followups", map[string]any{"person": smokeyB, "team": w.teamB.Id, "status": "open"})
	consentB := w.env.Create(t, "consents", map[string]any{"person": smokeyB, "team": w.teamB.Id, "compartments": []string{"identity"},
		"recipients": []string{"outreach"}, "purpose": "care_coordination", "method": "verbal_witnessed", "status": "active",
		"valid_from": time.Now().UTC().Add(-time.Hour)}).Id
	housing := w.env.Org(t, "Harbor Housing", "housing")
	shelter := w.env.Create(t, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	program := w.env.Create(t, "bed_programs", map[string]any{"shelter": shelter.Id, "name": "Overnight", "population": "single_adult",
		"status": "open", "accepting": true, "total_beds": 5})
	holdB := w.create(t, w.tokWorkerB, "bed_holds", map[string]any{"program": program.Id, "person": smokeyB, "team": w.teamB.Id})

	// A pair appears for the lead of either team, and for nobody else.
	for _, tok := range []string{w.tokLeadA, w.tokLeadB} {
		ms := w.listMatches(t, tok)
		if len(ms) != 1 {
			t.Fatalf("a lead sees %d pairs, want 1: %+v", len(ms), ms)
		}
		m := ms[0]
		if m.Status != persons.StatusOpen || !slices.Equal([]string{m.PersonA, m.PersonB}, sorted(smokeyA, smokeyB)) {
			t.Fatalf("pair %+v, want open Smokey pair", m)
		}
		if len(m.Reasons) == 0 || m.Reasons[0].Code != persons.ReasonSameName || m.Score < 0.9 {
			t.Fatalf("pair evidence %+v (score %.2f), want same_name with a high score", m.Reasons, m.Score)
		}
	}
	for name, tok := range map[string]string{"worker A": w.tokWorkerA, "officer A": w.tokOfficerA, "lead C": w.tokLeadC, "guest": ""} {
		if ms := w.listMatches(t, tok); len(ms) != 0 {
			t.Errorf("%s sees %d pairs, want none", name, len(ms))
		}
	}
	match := w.listMatches(t, w.tokLeadA)[0].ID

	// Only a lead of one of the two teams may merge.
	_, e := w.post(t, mergePath, w.tokWorkerA, map[string]any{"match": match}, http.StatusForbidden)
	if e.Code != persons.CodeTeamLeadOnly {
		t.Errorf("worker merge code %q, want %q", e.Code, persons.CodeTeamLeadOnly)
	}
	_, e = w.post(t, mergePath, w.tokLeadC, map[string]any{"match": match}, http.StatusForbidden)
	if e.Code != persons.CodeNotYourTeam {
		t.Errorf("lead C merge code %q, want %q", e.Code, persons.CodeNotYourTeam)
	}
	w.post(t, mergePath, "", map[string]any{"match": match}, http.StatusUnauthorized)

	// Lead A merges: the newer record (B's) becomes a link to the older.
	res, _ := w.post(t, mergePath, w.tokLeadA, map[string]any{"match": match}, http.StatusOK)
	var merged persons.MergeResult
	res.JSON(t, &merged)
	if merged.From != smokeyB || merged.Into != smokeyA || merged.Moved["encounters"] != 2 || merged.Moved["referrals"] != 1 || merged.Moved["followups"] != 1 ||
		merged.Moved["consents"] != 1 || merged.Moved["bed_holds"] != 1 {
		t.Fatalf("merge result %+v, want B into A with 2 encounters and 1 referral, follow-up, consent and bed hold moved", merged)
	}
	for coll, id := range map[string]string{"referrals": refB, "followups": fupB, "consents": consentB, "bed_holds": holdB} {
		if p := w.personOf(t, coll, id); p != smokeyA {
			t.Errorf("%s %s belongs to %s after merge, want A", coll, id, p)
		}
	}
	if got := w.person(t, smokeyB).GetString("merged_into"); got != smokeyA {
		t.Errorf("B.merged_into = %q, want %q", got, smokeyA)
	}
	if teams := w.person(t, smokeyA).GetStringSlice("teams"); !slices.Contains(teams, w.teamA.Id) || !slices.Contains(teams, w.teamB.Id) {
		t.Errorf("A.teams = %v, want both teams", teams)
	}
	// All of Smokey's encounters now show under one person.
	res = w.env.Do(t, http.MethodGet, "/api/collections/encounters/records?perPage=50&filter="+urlq("person='"+smokeyA+"'"), w.tokSuper, nil)
	var encs struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	res.JSON(t, &encs)
	var got []string
	for _, it := range encs.Items {
		got = append(got, it.ID)
	}
	if want := sorted(encA, encB1, encB2); !slices.Equal(sorted(got...), want) {
		t.Errorf("encounters under A after merge %v, want %v", got, want)
	}
	if p := w.personOf(t, "encounters", encOther); p != other {
		t.Errorf("an unrelated encounter moved to %s", p)
	}
	// Team B's lead can now open the merged person.
	if res := w.env.Do(t, http.MethodGet, "/api/collections/persons/records/"+smokeyA, w.tokLeadB, nil); res.Status != http.StatusOK {
		t.Errorf("lead B views merged person: %d %s", res.Status, res.Body)
	}
	_, e = w.post(t, mergePath, w.tokLeadB, map[string]any{"match": match}, http.StatusConflict)
	if e.Code != persons.CodeAlreadyMerged {
		t.Errorf("second merge code %q, want %q", e.Code, persons.CodeAlreadyMerged)
	}

	// Undo, by the other team's lead: everything goes back where it was.
	w.post(t, unmergePath, w.tokWorkerB, map[string]any{"match": match}, http.StatusForbidden)
	res, _ = w.post(t, unmergePath, w.tokLeadB, map[string]any{"match": match}, http.StatusOK)
	var undone persons.UnmergeResult
	res.JSON(t, &undone)
	if undone.Restored["encounters"] != 2 || undone.Restored["referrals"] != 1 || undone.Restored["followups"] != 1 ||
		undone.Restored["consents"] != 1 || undone.Restored["bed_holds"] != 1 || len(undone.Deleted) != 0 {
		t.Errorf("undo result %+v", undone)
	}
	for id, want := range map[string]string{encA: smokeyA, encB1: smokeyB, encB2: smokeyB, encOther: other} {
		if p := w.personOf(t, "encounters", id); p != want {
			t.Errorf("encounter %s belongs to %s after undo, want %s", id, p, want)
		}
	}
	for coll, id := range map[string]string{"referrals": refB, "followups": fupB, "consents": consentB, "bed_holds": holdB} {
		if p := w.personOf(t, coll, id); p != smokeyB {
			t.Errorf("%s %s belongs to %s after undo, want B", coll, id, p)
		}
	}
	if got := w.person(t, smokeyB).GetString("merged_into"); got != "" {
		t.Errorf("B.merged_into = %q after undo, want empty", got)
	}
	if teams := w.person(t, smokeyA).GetStringSlice("teams"); !slices.Equal(teams, []string{w.teamA.Id}) {
		t.Errorf("A.teams = %v after undo, want only team A", teams)
	}
	w.post(t, unmergePath, w.tokLeadB, map[string]any{"match": match}, http.StatusConflict)

	// The pair is never proposed again: not when B is edited through the
	// API, not when the scan job reads the feed.
	res = w.env.Do(t, http.MethodPatch, "/api/collections/persons/records/"+smokeyB, w.tokWorkerB, map[string]any{"display_name": "Smokey"})
	if res.Status != http.StatusOK {
		t.Fatalf("edit B: %d %s", res.Status, res.Body)
	}
	if _, _, err := persons.Scan(w.env.App); err != nil {
		t.Fatal(err)
	}
	ms := w.listMatches(t, w.tokLeadA)
	if len(ms) != 1 || ms[0].Status != persons.StatusUndone {
		t.Fatalf("pairs after undo and re-check %+v, want the one undone pair", ms)
	}
	// A third Smokey is still paired with each of them.
	w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Smokie", "birth_year": 1980, "teams": []string{w.teamA.Id}})
	if n := countStatus(w.listMatches(t, w.tokLeadA), persons.StatusOpen); n != 2 {
		t.Errorf("open pairs after a third Smokey: %d, want 2", n)
	}

	// Every merge and undo is in the audit chain, and the chain holds.
	var n int
	if err := w.env.App.DB().NewQuery(`SELECT COUNT(*) FROM audit_events WHERE action IN ('merge', 'unmerge') AND record_id = {:id}`).
		Bind(dbx.Params{"id": smokeyB}).Row(&n); err != nil || n != 2 {
		t.Errorf("merge/unmerge audit events for B: %d (%v), want 2", n, err)
	}
	if _, err := audit.Verify(w.env.App); err != nil {
		t.Errorf("audit chain: %v", err)
	}
}

// TestSyncWritesAreScanned: persons written without the records API (as
// sync pushes are) are paired by the scan job reading the change feed.
func TestSyncWritesAreScanned(t *testing.T) {
	w := newWorld(t)
	a := w.env.Create(t, "persons", map[string]any{"display_name": "Little Joe", "teams": []string{w.teamA.Id}})
	b := w.env.Create(t, "persons", map[string]any{"display_name": "little-joe", "aliases": []string{"LJ"}, "teams": []string{w.teamB.Id}})
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 0 {
		t.Fatalf("pairs before the scan: %+v", ms)
	}
	checked, opened, err := persons.Scan(w.env.App)
	if err != nil || opened != 1 || checked < 2 {
		t.Fatalf("scan checked %d, opened %d, err %v; want >= 2 checked and 1 opened", checked, opened, err)
	}
	ms := w.listMatches(t, w.tokLeadB)
	if len(ms) != 1 || !slices.Equal([]string{ms[0].PersonA, ms[0].PersonB}, sorted(a.Id, b.Id)) {
		t.Fatalf("pairs after the scan %+v", ms)
	}
	// A second scan has nothing new to read.
	if checked, opened, err := persons.Scan(w.env.App); err != nil || checked != 0 || opened != 0 {
		t.Errorf("second scan checked %d opened %d err %v, want nothing", checked, opened, err)
	}
}

// TestNotDuplicateThroughRecordsAPI: a lead marks a pair not_duplicate in
// the dashboard; it is stamped with who and when, and only that change is
// allowed.
func TestNotDuplicateThroughRecordsAPI(t *testing.T) {
	w := newWorld(t)
	a := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Red", "teams": []string{w.teamA.Id}})
	w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "red", "teams": []string{w.teamB.Id}})
	id := w.listMatches(t, w.tokLeadA)[0].ID
	path := "/api/collections/person_matches/records/" + id

	for name, tc := range map[string]struct {
		tok  string
		body map[string]any
	}{
		"worker":               {w.tokWorkerA, map[string]any{"status": "not_duplicate"}},
		"lead of another team": {w.tokLeadC, map[string]any{"status": "not_duplicate"}},
		"status merged":        {w.tokLeadA, map[string]any{"status": "merged"}},
		"moving a person":      {w.tokLeadA, map[string]any{"status": "not_duplicate", "person_a": a, "person_b": a}},
	} {
		if res := w.env.Do(t, http.MethodPatch, path, tc.tok, tc.body); res.Status == http.StatusOK {
			t.Errorf("%s: update allowed: %s", name, res.Body)
		}
	}
	// Superusers pass API rules, but a merge must still move records.
	res := w.env.Do(t, http.MethodPatch, path, w.tokSuper, map[string]any{"status": "merged"})
	var e apiErr
	if res.JSON(t, &e); res.Status != http.StatusBadRequest || e.Code != persons.CodeUseMergeRoute {
		t.Errorf("superuser marks a pair merged by hand: %d %s, want 400 %s", res.Status, res.Body, persons.CodeUseMergeRoute)
	}
	if _, e := w.post(t, mergePath, w.tokWorkerA, map[string]any{"match": "nope"}, http.StatusForbidden); e.Code != persons.CodeTeamLeadOnly {
		t.Errorf("a worker probing pair ids gets %q, want %q before any lookup", e.Code, persons.CodeTeamLeadOnly)
	}
	if res := w.env.Do(t, http.MethodPost, "/api/collections/person_matches/records", w.tokLeadA,
		map[string]any{"person_a": a, "person_b": a, "status": "open"}); res.Status == http.StatusOK {
		t.Errorf("a lead created a pair through the API: %s", res.Body)
	}
	if res := w.env.Do(t, http.MethodDelete, path, w.tokLeadA, nil); res.Status == http.StatusNoContent {
		t.Errorf("a lead deleted a pair through the API")
	}

	res = w.env.Do(t, http.MethodPatch, path, w.tokLeadB, map[string]any{"status": "not_duplicate"})
	if res.Status != http.StatusOK {
		t.Fatalf("lead B marks not_duplicate: %d %s", res.Status, res.Body)
	}
	var m matchView
	res.JSON(t, &m)
	if m.Status != persons.StatusNotDuplicate || m.DecidedBy != w.leadB.Id {
		t.Errorf("pair after decision %+v, want not_duplicate decided by lead B", m)
	}
	// Merging a decided pair needs an explicit direction.
	_, e = w.post(t, mergePath, w.tokLeadA, map[string]any{"match": id}, http.StatusConflict)
	if e.Code != persons.CodePairDecided {
		t.Errorf("merge of a decided pair: code %q, want %q", e.Code, persons.CodePairDecided)
	}
	if _, _, err := persons.Scan(w.env.App); err != nil {
		t.Fatal(err)
	}
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 1 || ms[0].Status != persons.StatusNotDuplicate {
		t.Errorf("pairs after a rescan %+v, want the one not_duplicate pair", ms)
	}
	// A lead who learns better merges anyway by naming the direction.
	res, _ = w.post(t, mergePath, w.tokLeadA, map[string]any{"match": id, "into": a}, http.StatusOK)
	var mr persons.MergeResult
	if res.JSON(t, &mr); mr.Into != a || mr.Match != id || mr.Status != persons.StatusMerged {
		t.Errorf("explicit merge of a decided pair: %+v", mr)
	}
}

// TestUnsafeUndoIsRefused: when later work has moved on, an undo refuses
// with a code and changes nothing.
func TestUnsafeUndoIsRefused(t *testing.T) {
	w := newWorld(t)
	a := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Tiny", "teams": []string{w.teamA.Id}})
	b := w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "Tiny", "teams": []string{w.teamB.Id}})
	c := w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "Jo", "teams": []string{w.teamB.Id}})
	encB := w.encounter(t, w.tokWorkerB, w.teamB.Id, b)

	// Merge b into a by naming both persons.
	res, _ := w.post(t, mergePath, w.tokLeadB, map[string]any{"from": b, "into": a}, http.StatusOK)
	var m persons.MergeResult
	res.JSON(t, &m)

	// Someone corrects the encounter: it was about Jo.
	rec, _ := w.env.App.FindRecordById("encounters", encB)
	rec.Set("person", c)
	if err := w.env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	_, e := w.post(t, unmergePath, w.tokLeadB, map[string]any{"match": m.Match}, http.StatusConflict)
	if e.Code != persons.CodeRecordsMovedSince {
		t.Fatalf("undo code %q, want %q", e.Code, persons.CodeRecordsMovedSince)
	}
	if got := w.person(t, b).GetString("merged_into"); got != a {
		t.Errorf("a refused undo changed B.merged_into to %q", got)
	}
	if p := w.personOf(t, "encounters", encB); p != c {
		t.Errorf("a refused undo moved the corrected encounter to %s", p)
	}

	// Put it back, then merge a into c: the first merge is superseded.
	rec.Set("person", a)
	if err := w.env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	w.post(t, mergePath, w.tokLeadB, map[string]any{"from": a, "into": c}, http.StatusOK)
	_, e = w.post(t, unmergePath, w.tokLeadB, map[string]any{"match": m.Match}, http.StatusConflict)
	if e.Code != persons.CodeMergeSuperseded {
		t.Errorf("undo after a later merge: code %q, want %q", e.Code, persons.CodeMergeSuperseded)
	}
	// Merging into a merged record is refused too.
	_, e = w.post(t, mergePath, w.tokLeadB, map[string]any{"from": c, "into": b}, http.StatusConflict)
	if e.Code != persons.CodeTargetMerged {
		t.Errorf("merge into a merged record: code %q, want %q", e.Code, persons.CodeTargetMerged)
	}
}

func TestMergeBadInput(t *testing.T) {
	w := newWorld(t)
	a := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Ace", "teams": []string{w.teamA.Id}})
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		code       string
	}{
		{"truncated JSON", mergePath, `{"match":`, http.StatusBadRequest, persons.CodeBadRequest},
		{"unknown field", mergePath, map[string]any{"matchh": "x"}, http.StatusBadRequest, persons.CodeBadRequest},
		{"nothing to merge", mergePath, map[string]any{}, http.StatusBadRequest, persons.CodeBadRequest},
		{"only from", mergePath, map[string]any{"from": a}, http.StatusBadRequest, persons.CodeBadRequest},
		{"same person", mergePath, map[string]any{"from": a, "into": a}, http.StatusBadRequest, persons.CodeSamePerson},
		{"unknown pair", mergePath, map[string]any{"match": "nope"}, http.StatusNotFound, persons.CodeMatchNotFound},
		{"unknown person", mergePath, map[string]any{"from": a, "into": "00000000-0000-4000-8000-000000000000"}, http.StatusNotFound, persons.CodePersonNotFound},
		{"undo without match", unmergePath, map[string]any{}, http.StatusBadRequest, persons.CodeBadRequest},
		{"undo of an unknown pair", unmergePath, map[string]any{"match": "nope"}, http.StatusNotFound, persons.CodeMatchNotFound},
		{"wrong type", unmergePath, map[string]any{"match": 7}, http.StatusBadRequest, persons.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, e := w.post(t, tc.path, w.tokLeadA, tc.body, tc.status)
			if e.Code != tc.code {
				t.Errorf("code %q, want %q (%s)", e.Code, tc.code, e.Msg)
			}
		})
	}
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func countStatus(ms []matchView, status string) int {
	n := 0
	for _, m := range ms {
		if m.Status == status {
			n++
		}
	}
	return n
}

func urlq(s string) string { return url.QueryEscape(s) }

// TestUndoAfterLaterWork: records deleted since the merge are reported, not
// resurrected; a team that recorded something about the merged person
// since keeps sight of it.
func TestUndoAfterLaterWork(t *testing.T) {
	w := newWorld(t)
	a := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Doc", "teams": []string{w.teamA.Id}})
	b := w.create(t, w.tokWorkerB, "persons", map[string]any{"display_name": "Doc.", "teams": []string{w.teamB.Id}})
	gone := w.encounter(t, w.tokWorkerB, w.teamB.Id, b)
	match := w.listMatches(t, w.tokLeadA)[0].ID
	w.post(t, mergePath, w.tokLeadA, map[string]any{"match": match, "into": a}, http.StatusOK)

	// After the merge team B meets Doc again, under the merged record, and
	// a lead deletes a mistaken encounter.
	later := w.encounter(t, w.tokWorkerB, w.teamB.Id, a)
	rec, _ := w.env.App.FindRecordById("encounters", gone)
	if err := w.env.App.Delete(rec); err != nil {
		t.Fatal(err)
	}

	res, _ := w.post(t, unmergePath, w.tokLeadA, map[string]any{"match": match}, http.StatusOK)
	var u persons.UnmergeResult
	res.JSON(t, &u)
	if len(u.Deleted) != 1 || u.Deleted[0].ID != gone || u.Restored["encounters"] != 0 {
		t.Errorf("undo %+v, want the deleted encounter reported and nothing restored", u)
	}
	if !slices.Equal(u.KeptTeams, []string{w.teamB.Id}) || !slices.Contains(w.person(t, a).GetStringSlice("teams"), w.teamB.Id) {
		t.Errorf("kept teams %v, A.teams %v: team B recorded Doc since the merge and must keep sight of him", u.KeptTeams, w.person(t, a).GetStringSlice("teams"))
	}
	if p := w.personOf(t, "encounters", later); p != a {
		t.Errorf("an encounter recorded after the merge moved to %s", p)
	}
	if _, err := w.env.App.FindRecordById("encounters", gone); err == nil {
		t.Errorf("the undo brought a deleted encounter back")
	}
}

// TestBatchCreatesArePaired: persons created in one /api/batch request
// (inside its transaction) are paired, and a failed batch leaves no pair.
func TestBatchCreatesArePaired(t *testing.T) {
	w := newWorld(t)
	s := w.env.App.Settings()
	s.Batch.Enabled = true
	if err := w.env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	req := func(name string, teams []string) map[string]any {
		return map[string]any{"method": "POST", "url": "/api/collections/persons/records",
			"body": map[string]any{"display_name": name, "teams": teams}}
	}
	// The second create names a team the worker is not on: the batch fails
	// as a whole, and so does the pair its first create would have opened.
	bad := map[string]any{"requests": []map[string]any{req("Wren", []string{w.teamA.Id}), req("wren", []string{w.teamB.Id})}}
	if res := w.env.Do(t, http.MethodPost, "/api/batch", w.tokWorkerA, bad); res.Status == http.StatusOK {
		t.Fatalf("a batch with a forbidden create succeeded: %s", res.Body)
	}
	w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "W.ren", "teams": []string{w.teamA.Id}})
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 0 {
		t.Fatalf("a rolled-back batch left pairs behind: %+v", ms)
	}
	good := map[string]any{"requests": []map[string]any{req("Wren", []string{w.teamA.Id}), req("Wren!", []string{w.teamA.Id})}}
	if res := w.env.Do(t, http.MethodPost, "/api/batch", w.tokWorkerA, good); res.Status != http.StatusOK {
		t.Fatalf("batch: %d %s", res.Status, res.Body)
	}
	// "W.ren" normalises to "w ren", which Jaro–Winkler finds close to "wren".
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 3 {
		t.Errorf("pairs after the batch: %d, want 3 (every two of the three)", len(ms))
	}
}

// TestIndexFollowsRenamesAndDeletes: the in-memory index of persons keeps
// up with renames and deletions made by any path.
func TestIndexFollowsRenamesAndDeletes(t *testing.T) {
	w := newWorld(t)
	a := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Moe", "teams": []string{w.teamA.Id}})
	b := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Moe", "teams": []string{w.teamA.Id}})
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 1 {
		t.Fatalf("pairs %+v, want 1", ms)
	}
	// b is deleted (the pair goes with it), a is renamed in-process, as
	// a sync push would.
	if err := w.env.App.Delete(w.person(t, b)); err != nil {
		t.Fatal(err)
	}
	pa := w.person(t, a)
	pa.Set("display_name", "Zed")
	if err := w.env.App.Save(pa); err != nil {
		t.Fatal(err)
	}
	c := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "moe", "teams": []string{w.teamA.Id}})
	if ms := w.listMatches(t, w.tokLeadA); len(ms) != 0 {
		t.Errorf("pairs after delete and rename %+v, want none: %s matched a ghost", ms, c)
	}
	d := w.create(t, w.tokWorkerA, "persons", map[string]any{"display_name": "Zedd", "teams": []string{w.teamA.Id}})
	ms := w.listMatches(t, w.tokLeadA)
	if len(ms) != 1 || !slices.Equal([]string{ms[0].PersonA, ms[0].PersonB}, sorted(a, d)) {
		t.Errorf("pairs %+v, want the renamed Zed with Zedd", ms)
	}
}
