package migrations_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

// The role matrix: who may list, view, create, update and delete what
// through the records API. It reads as the access policy of Tandem's
// collections; the test below drives every cell over real HTTP and asserts
// the exact answer PocketBase gives, so loosening any API rule fails here.
//
// Every cell targets a record that belongs to the North team (or to Harbor
// Housing, for beds). Actors from the South team and from Bridge Housing are
// the "someone else's records" cases.

// Actors. Everyone below except anon and the South/Bridge users works with
// the North team or is a programme-wide role.
const (
	worker     = "outreach_worker" // North
	clinician  = "clinician"       // North
	officer    = "officer"         // North
	lead       = "team_lead"       // North
	agent      = "housing_agent"   // Harbor Housing
	privacy    = "privacy_officer" // no team
	analyst    = "analyst"         // no team
	anon       = "anonymous"       // no token at all
	southWkr   = "south_worker"    // outreach worker on the South team
	southLead  = "south_lead"      // team lead of the South team
	otherAgent = "bridge_agent"    // housing agent of another organisation
)

var allActors = []string{worker, clinician, officer, lead, agent, privacy, analyst, anon, southWkr, southLead, otherAgent}

// who is the outcome of one operation for every actor.
type who struct {
	superusersOnly bool     // the rule is nil: every non-superuser gets 403
	allowed        []string // actors for whom the operation succeeds
}

func only(actors ...string) who { return who{allowed: actors} }

var (
	superusers   = who{superusersOnly: true}
	signedIn     = only(worker, clinician, officer, lead, agent, privacy, analyst, southWkr, southLead, otherAgent)
	northField   = only(worker, clinician, officer, lead)
	northLead    = only(lead)
	bedReaders   = only(worker, clinician, officer, lead, southWkr, southLead, analyst, agent)
	harborAgent  = only(agent)
	northOrAgent = only(worker, clinician, officer, lead, agent)
)

// ops is one collection's row of the matrix.
type ops struct{ list, view, create, update, delete who }

// policy is the access policy of the records API, one row per collection.
var policy = []struct {
	collection string
	ops        ops
}{
	{"organizations", ops{list: signedIn, view: signedIn, create: superusers, update: superusers, delete: superusers}},
	{"teams", ops{list: signedIn, view: signedIn, create: superusers, update: superusers, delete: superusers}},
	// The target is the North outreach worker's own account: they, their team
	// lead and the privacy officer see it; only they may edit it (and not
	// their role, organisation or teams: see TestPrivilegeEscalation).
	{"users", ops{list: only(worker, lead, privacy), view: only(worker, lead, privacy), create: superusers, update: only(worker), delete: superusers}},
	// The target is the North outreach worker's tablet. Anyone signed in may
	// enrol a device of their own; revocation is for leads and the privacy officer.
	{"devices", ops{list: only(worker, lead, privacy), view: only(worker, lead, privacy), create: signedIn, update: only(lead, privacy), delete: superusers}},
	{"persons", ops{list: northField, view: northField, create: northField, update: northField, delete: northLead}},
	{"consents", ops{list: only(worker, clinician, officer, lead, privacy), view: only(worker, clinician, officer, lead, privacy), create: northField, update: northField, delete: superusers}},
	{"sharing_agreements", ops{list: signedIn, view: signedIn, create: only(privacy), update: only(privacy), delete: superusers}},
	{"encounters", ops{list: northField, view: northField, create: northField, update: northField, delete: northLead}},
	{"referrals", ops{list: northField, view: northField, create: northField, update: northField, delete: northLead}},
	{"followups", ops{list: northField, view: northField, create: northField, update: northField, delete: northLead}},
	{"shelters", ops{list: bedReaders, view: bedReaders, create: superusers, update: harborAgent, delete: superusers}},
	{"bed_programs", ops{list: bedReaders, view: bedReaders, create: superusers, update: harborAgent, delete: superusers}},
	{"bed_holds", ops{list: northOrAgent, view: northOrAgent, create: northField, update: northOrAgent, delete: superusers}},
	{"conflicts", ops{list: northLead, view: northLead, create: superusers, update: northLead, delete: superusers}},
	// Nobody writes the audit trail through the API; only the server appends.
	{"audit_events", ops{list: only(privacy), view: only(privacy), create: superusers, update: superusers, delete: superusers}},
}

// world is the fixture every cell runs against.
type world struct {
	env    *testenv.Env
	orgs   map[string]*core.Record // outreach, police, health, harbor, bridge, dv
	north  *core.Record
	south  *core.Record
	users  map[string]*core.Record // by actor
	tokens map[string]string       // by actor; anon has none
	seq    int

	// Records of North (or of Harbor Housing), the targets of every cell.
	person, encounter, program, shelter *core.Record
	targets                             map[string]*core.Record
}

func now() string { return time.Now().UTC().Format("2006-01-02 15:04:05.000Z") }

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env, orgs: map[string]*core.Record{}, users: map[string]*core.Record{}, tokens: map[string]string{}, targets: map[string]*core.Record{}}
	for key, o := range map[string][2]string{
		"outreach": {"City Outreach", "outreach"},
		"police":   {"Metro Police", "police"},
		"health":   {"County Health", "health"},
		"harbor":   {"Harbor Housing", "housing"},
		"bridge":   {"Bridge Housing", "housing"},
		"dv":       {"Safe Harbour DV Services", "victim_services"},
	} {
		w.orgs[key] = env.Org(t, o[0], o[1])
	}
	w.north, w.south = env.Team(t, "North"), env.Team(t, "South")
	mk := func(actor, name, role, org string, teams ...*core.Record) {
		u := env.User(t, name, role, w.orgs[org], teams...)
		w.users[actor], w.tokens[actor] = u, env.Token(t, u)
	}
	mk(worker, "Nora Worker", "outreach_worker", "outreach", w.north)
	mk(clinician, "Cleo Clinician", "clinician", "health", w.north)
	mk(officer, "Otto Officer", "officer", "police", w.north)
	mk(lead, "Lena Lead", "team_lead", "outreach", w.north)
	mk(agent, "Hana Agent", "housing_agent", "harbor")
	mk(privacy, "Pia Privacy", "privacy_officer", "outreach")
	mk(analyst, "Ari Analyst", "analyst", "outreach")
	mk(southWkr, "Sam South", "outreach_worker", "outreach", w.south)
	mk(southLead, "Sol South", "team_lead", "outreach", w.south)
	mk(otherAgent, "Bea Bridge", "housing_agent", "bridge")

	// One target per collection, owned by North / Harbor Housing.
	for _, row := range policy {
		w.targets[row.collection] = w.make(t, row.collection)
	}
	// A working programme: the memoranda between outreach and its police and
	// health partners, and the people's consent to share who they are with
	// them. Without these the privacy layer (internal/access) hides persons
	// from the officer and the clinician whatever the API rules say; this
	// test is about the rules.
	for _, kind := range []string{"police", "health"} {
		env.Create(t, "sharing_agreements", map[string]any{"name": "Outreach / " + kind + " MOU", "data_owner_kind": "outreach", "recipient_kind": kind, "compartments": []string{"identity", "contact_location"}, "purpose": "care_coordination", "valid_from": "2026-01-01 00:00:00.000Z"})
	}
	for _, p := range []*core.Record{w.person, w.targets["persons"]} {
		env.Create(t, "consents", map[string]any{"person": p.Id, "team": w.north.Id, "compartments": []string{"identity", "contact_location"}, "recipients": []string{"outreach", "police", "health"}, "purpose": "care_coordination", "method": "signed", "status": "active", "valid_from": "2026-01-01 00:00:00.000Z"})
	}
	// South's own records exist too, so "filtered out" is tested against a
	// table that is not empty for the other team.
	env.Create(t, "encounters", map[string]any{"team": w.south.Id, "occurred_at": now(), "encounter_type": "outreach"})
	env.Create(t, "persons", map[string]any{"display_name": "Smokey", "teams": []string{w.south.Id}})
	return w
}

// make creates, as the server, a fresh North/Harbor record of collection.
func (w *world) make(t *testing.T, collection string) *core.Record {
	t.Helper()
	w.seq++
	n := w.seq
	e := w.env
	if w.person == nil {
		w.person = e.Create(t, "persons", map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.north.Id}})
		w.encounter = e.Create(t, "encounters", map[string]any{"team": w.north.Id, "person": w.person.Id, "occurred_at": now(), "encounter_type": "outreach"})
		w.shelter = e.Create(t, "shelters", map[string]any{"organization": w.orgs["harbor"].Id, "name": "Harbor Night Shelter"})
		w.program = e.Create(t, "bed_programs", map[string]any{"shelter": w.shelter.Id, "name": "Adults overnight", "population": "single_adult", "status": "open", "total_beds": 200, "accepting": true})
	}
	switch collection {
	case "organizations":
		return e.Org(t, fmt.Sprintf("Fixture Org %d", n), "health")
	case "teams":
		return e.Team(t, fmt.Sprintf("Fixture Team %d", n))
	case "users":
		if w.targets["users"] == nil {
			return w.users[worker]
		}
		return e.User(t, fmt.Sprintf("Fixture User %d", n), "outreach_worker", w.orgs["outreach"], w.north)
	case "devices":
		return e.Create(t, "devices", map[string]any{"user": w.users[worker].Id, "label": fmt.Sprintf("Tablet %d, North", n)})
	case "persons":
		return e.Create(t, "persons", map[string]any{"display_name": fmt.Sprintf("Red Cap %d", n), "name_quality": "2", "teams": []string{w.north.Id}})
	case "consents":
		return e.Create(t, "consents", map[string]any{"person": w.person.Id, "team": w.north.Id, "compartments": []string{"identity"}, "recipients": []string{"outreach", "health"}, "purpose": "care_coordination", "method": "verbal_witnessed", "status": "active", "valid_from": now()})
	case "sharing_agreements":
		return e.Create(t, "sharing_agreements", map[string]any{"name": fmt.Sprintf("Outreach / Health MOU %d", n), "data_owner_kind": "outreach", "recipient_kind": "health", "compartments": []string{"identity"}, "purpose": "care_coordination", "valid_from": now()})
	case "encounters":
		return e.Create(t, "encounters", map[string]any{"team": w.north.Id, "person": w.person.Id, "occurred_at": now(), "encounter_type": "welfare_check"})
	case "referrals":
		return e.Create(t, "referrals", map[string]any{"team": w.north.Id, "person": w.person.Id, "event_code": "10", "status": "pending"})
	case "followups":
		return e.Create(t, "followups", map[string]any{"team": w.north.Id, "person": w.person.Id, "status": "open"})
	case "shelters":
		return e.Create(t, "shelters", map[string]any{"organization": w.orgs["harbor"].Id, "name": fmt.Sprintf("Harbor Annex %d", n)})
	case "bed_programs":
		return e.Create(t, "bed_programs", map[string]any{"shelter": w.shelter.Id, "name": fmt.Sprintf("Overflow %d", n), "population": "single_adult", "status": "open", "total_beds": 10, "accepting": true})
	case "bed_holds":
		return e.Create(t, "bed_holds", map[string]any{"program": w.program.Id, "team": w.north.Id, "status": "requested", "requested_at": now()})
	case "conflicts":
		return e.Create(t, "conflicts", map[string]any{"collection": "encounters", "record_id": w.encounter.Id, "field": "disposition", "status": "open", "team": w.north.Id})
	case "audit_events":
		// Only the audit package appends to the trail; app.Save is refused.
		if err := audit.Append(e.App, audit.Event{Actor: "fixture", ActorKind: "system", Action: "fixture", Details: map[string]any{"n": n}}); err != nil {
			t.Fatalf("append audit event: %v", err)
		}
		last, err := e.App.FindRecordsByFilter("audit_events", "", "-seq", 1, 0)
		if err != nil || len(last) != 1 {
			t.Fatalf("read audit head: %v", err)
		}
		return last[0]
	}
	t.Fatalf("no fixture for %s", collection)
	return nil
}

// createBody is what each actor sends to create a North/Harbor record.
func (w *world) createBody(collection, actor string) map[string]any {
	w.seq++
	n := w.seq
	self := ""
	if u := w.users[actor]; u != nil {
		self = u.Id
	}
	switch collection {
	case "organizations":
		return map[string]any{"name": fmt.Sprintf("New Org %d", n), "kind": "outreach"}
	case "teams":
		return map[string]any{"name": fmt.Sprintf("New Team %d", n)}
	case "users":
		return map[string]any{"email": fmt.Sprintf("new%d@example.org", n), "password": "correct horse battery", "passwordConfirm": "correct horse battery", "role": "outreach_worker", "organization": w.orgs["outreach"].Id}
	case "devices":
		return map[string]any{"user": self, "label": "My tablet"}
	case "persons":
		return map[string]any{"display_name": "Lefty", "name_quality": "2", "teams": []string{w.north.Id}}
	case "consents":
		return map[string]any{"person": w.person.Id, "team": w.north.Id, "compartments": []string{"identity", "housing"}, "recipients": []string{"housing"}, "purpose": "housing_placement", "method": "signed", "status": "active", "valid_from": now()}
	case "sharing_agreements":
		return map[string]any{"name": fmt.Sprintf("New MOU %d", n), "data_owner_kind": "outreach", "recipient_kind": "police", "compartments": []string{"identity"}, "purpose": "crisis_response", "valid_from": now()}
	case "encounters":
		return map[string]any{"team": w.north.Id, "occurred_at": now(), "encounter_type": "outreach", "general_notes": "Checked in under the 5th St bridge."}
	case "referrals":
		return map[string]any{"team": w.north.Id, "person": w.person.Id, "event_code": "6", "status": "pending"}
	case "followups":
		return map[string]any{"team": w.north.Id, "person": w.person.Id, "status": "open", "notes": "Bring socks."}
	case "shelters":
		return map[string]any{"organization": w.orgs["harbor"].Id, "name": fmt.Sprintf("New Site %d", n)}
	case "bed_programs":
		return map[string]any{"shelter": w.shelter.Id, "name": fmt.Sprintf("New Programme %d", n), "population": "women", "status": "open"}
	case "bed_holds":
		return map[string]any{"program": w.program.Id, "team": w.north.Id, "status": "requested", "requested_at": now()}
	case "conflicts":
		return map[string]any{"collection": "encounters", "record_id": w.encounter.Id, "field": "disposition", "status": "open", "team": w.north.Id}
	case "audit_events":
		return map[string]any{"seq": 2000000 + n, "action": "forged", "at": now(), "hash": strings.Repeat("f", 64)}
	}
	return nil
}

// updateBody is an ordinary edit of each collection, the kind its owners
// make every day.
var updateBody = map[string]map[string]any{
	"organizations":      {"hmis_org_id": "ORG-7"},
	"teams":              {"area": "Riverside"},
	"users":              {"name": "Nora W."},
	"devices":            {"label": "Tablet 7, North"},
	"persons":            {"name_quality": "2"},
	"consents":           {"valid_until": "2027-11-01 00:00:00.000Z"},
	"sharing_agreements": {"valid_until": "2027-12-31 00:00:00.000Z"},
	"encounters":         {"general_notes": "Accepted water and socks."},
	"referrals":          {"notes": "Intake at 9am."},
	"followups":          {"notes": "Try the library steps."},
	"shelters":           {"phone": "555-0100"},
	"bed_programs":       {"occupied": 3},
	"bed_holds":          {},
	"conflicts":          {},
	"audit_events":       {"action": "tampered"},
}

func (w *world) do(t *testing.T, method, path, actor string, body any) testenv.Response {
	t.Helper()
	return w.env.Do(t, method, path, w.tokens[actor], body)
}

func listed(t *testing.T, res testenv.Response, id string) bool {
	t.Helper()
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	res.JSON(t, &page)
	for _, it := range page.Items {
		if it.ID == id {
			return true
		}
	}
	return false
}

// refusedByRule reports whether a 400 answer to a create is PocketBase's
// create-rule refusal (no field errors), not a validation failure.
func refusedByRule(t *testing.T, res testenv.Response) bool {
	t.Helper()
	var body struct {
		Data map[string]any `json:"data"`
	}
	res.JSON(t, &body)
	return len(body.Data) == 0
}

func (o who) allows(actor string) bool {
	for _, a := range o.allowed {
		if a == actor {
			return true
		}
	}
	return false
}

// expected returns the status PocketBase answers op with, for actor.
func expected(op string, o who, actor string) int {
	if o.superusersOnly {
		return http.StatusForbidden
	}
	allowed := o.allows(actor)
	switch op {
	case "list":
		return http.StatusOK // filtered, never refused
	case "create":
		if allowed {
			return http.StatusOK
		}
		return http.StatusBadRequest
	case "delete":
		if allowed {
			return http.StatusNoContent
		}
		return http.StatusNotFound
	default: // view, update
		if allowed {
			return http.StatusOK
		}
		return http.StatusNotFound
	}
}

// TestRoleMatrix drives every cell of policy over HTTP.
func TestRoleMatrix(t *testing.T) {
	w := newWorld(t)
	for _, row := range policy {
		c := row.collection
		base := "/api/collections/" + c + "/records"
		target := w.targets[c]
		for _, actor := range allActors {
			t.Run(c+"/"+actor, func(t *testing.T) {
				// list: the North record is in the page, or it is not.
				res := w.do(t, http.MethodGet, base+"?perPage=500", actor, nil)
				if want := expected("list", row.ops.list, actor); res.Status != want {
					t.Fatalf("list: status %d, want %d: %s", res.Status, want, res.Body)
				}
				if !row.ops.list.superusersOnly {
					if got, want := listed(t, res, target.Id), row.ops.list.allows(actor); got != want {
						t.Errorf("list: North record listed=%v, want %v", got, want)
					}
				}

				res = w.do(t, http.MethodGet, base+"/"+target.Id, actor, nil)
				if want := expected("view", row.ops.view, actor); res.Status != want {
					t.Errorf("view: status %d, want %d: %s", res.Status, want, res.Body)
				}

				res = w.do(t, http.MethodPost, base, actor, w.createBody(c, actor))
				if want := expected("create", row.ops.create, actor); res.Status != want {
					t.Errorf("create: status %d, want %d: %s", res.Status, want, res.Body)
				} else if want == http.StatusBadRequest && !refusedByRule(t, res) {
					// A 400 from validation would hide a loosened rule.
					t.Errorf("create: refused for a reason other than the create rule: %s", res.Body)
				}

				res = w.do(t, http.MethodPatch, base+"/"+target.Id, actor, updateBody[c])
				if want := expected("update", row.ops.update, actor); res.Status != want {
					t.Errorf("update: status %d, want %d: %s", res.Status, want, res.Body)
				}

				victim := w.make(t, c)
				res = w.do(t, http.MethodDelete, base+"/"+victim.Id, actor, nil)
				if want := expected("delete", row.ops.delete, actor); res.Status != want {
					t.Errorf("delete: status %d, want %d: %s", res.Status, want, res.Body)
				}
				_, err := w.env.App.FindRecordById(c, victim.Id)
				if deleted := err != nil; deleted != row.ops.delete.allows(actor) {
					t.Errorf("delete: record gone=%v, want %v", deleted, row.ops.delete.allows(actor))
				}
			})
		}
	}
}

// TestPrivilegeEscalation: requests that try to widen the caller's own
// reach, each of which must be refused with the status given.
func TestPrivilegeEscalation(t *testing.T) {
	w := newWorld(t)
	southEnc := w.env.Create(t, "encounters", map[string]any{"team": w.south.Id, "occurred_at": now(), "encounter_type": "outreach"})
	bridgeShelter := w.env.Create(t, "shelters", map[string]any{"organization": w.orgs["bridge"].Id, "name": "Bridge House"})
	bridgeProgram := w.env.Create(t, "bed_programs", map[string]any{"shelter": bridgeShelter.Id, "name": "Bridge family rooms", "population": "family", "status": "open", "total_beds": 4})
	revoked := w.env.Create(t, "consents", map[string]any{"person": w.person.Id, "team": w.north.Id, "compartments": []string{"identity"}, "recipients": []string{"outreach"}, "purpose": "care_coordination", "method": "signed", "status": "revoked", "valid_from": now(), "revoked_at": now()})
	active := w.targets["consents"]
	self := "/api/collections/users/records/" + w.users[worker].Id

	cases := []struct {
		name   string
		actor  string
		method string
		path   string
		body   any
		status int
	}{
		{"worker makes themself team lead", worker, "PATCH", self, map[string]any{"role": "team_lead"}, 404},
		{"worker makes themself privacy officer", worker, "PATCH", self, map[string]any{"role": "privacy_officer"}, 404},
		{"worker moves to the police", worker, "PATCH", self, map[string]any{"organization": w.orgs["police"].Id}, 404},
		{"worker joins South", worker, "PATCH", self, map[string]any{"teams": []string{w.north.Id, w.south.Id}}, 404},
		{"worker joins South with a + modifier", worker, "PATCH", self, map[string]any{"teams+": w.south.Id}, 404},
		{"worker leaves North with a - modifier", worker, "PATCH", self, map[string]any{"teams-": w.north.Id}, 404},
		{"worker verifies themself", worker, "PATCH", self, map[string]any{"verified": false}, 400},
		{"worker changes email without confirmation", worker, "PATCH", self, map[string]any{"email": "elsewhere@example.org"}, 400},
		{"lead changes a team member's role", lead, "PATCH", self, map[string]any{"role": "officer"}, 404},
		{"privacy officer changes a role", privacy, "PATCH", self, map[string]any{"role": "analyst"}, 404},
		{"worker enrols a tablet for someone else", worker, "POST", "/api/collections/devices/records", map[string]any{"user": w.users[officer].Id}, 400},
		{"worker enrols an already revoked tablet", worker, "POST", "/api/collections/devices/records", map[string]any{"user": w.users[worker].Id, "revoked_at": now()}, 400},
		{"worker un-revokes their tablet", worker, "PATCH", "/api/collections/devices/records/" + w.targets["devices"].Id, map[string]any{"revoked_at": ""}, 404},
		{"North worker records for South", worker, "POST", "/api/collections/encounters/records", map[string]any{"team": w.south.Id, "occurred_at": now(), "encounter_type": "outreach"}, 400},
		{"North worker edits South's encounter", worker, "PATCH", "/api/collections/encounters/records/" + southEnc.Id, map[string]any{"general_notes": "x"}, 404},
		{"North worker moves an encounter to South", worker, "PATCH", "/api/collections/encounters/records/" + w.encounter.Id, map[string]any{"team": w.south.Id}, 404},
		{"North lead deletes South's encounter", lead, "DELETE", "/api/collections/encounters/records/" + southEnc.Id, nil, 404},
		{"South lead reads North's encounter by id", southLead, "GET", "/api/collections/encounters/records/" + w.encounter.Id, nil, 404},
		{"North worker creates a person only South sees", worker, "POST", "/api/collections/persons/records", map[string]any{"display_name": "Ghost", "teams": []string{w.south.Id}}, 400},
		{"worker signs an encounter as someone else", worker, "POST", "/api/collections/encounters/records", map[string]any{"team": w.north.Id, "occurred_at": now(), "encounter_type": "outreach", "recorded_by": w.users[lead].Id}, 400},
		{"worker re-signs an encounter", worker, "PATCH", "/api/collections/encounters/records/" + w.encounter.Id, map[string]any{"recorded_by": w.users[clinician].Id}, 404},
		{"worker signs a referral as someone else", worker, "POST", "/api/collections/referrals/records", map[string]any{"team": w.north.Id, "person": w.person.Id, "event_code": "10", "status": "pending", "created_by": w.users[lead].Id}, 400},
		{"worker signs a follow-up as someone else", worker, "POST", "/api/collections/followups/records", map[string]any{"team": w.north.Id, "status": "open", "created_by": w.users[lead].Id}, 400},
		{"officer records a consent in someone else's name", officer, "POST", "/api/collections/consents/records", map[string]any{"person": w.person.Id, "team": w.north.Id, "compartments": []string{"police"}, "recipients": []string{"police"}, "purpose": "public_safety", "method": "verbal_witnessed", "status": "active", "valid_from": now(), "recorded_by": w.users[worker].Id}, 400},
		{"officer re-activates a revoked consent", officer, "PATCH", "/api/collections/consents/records/" + revoked.Id, map[string]any{"status": "active"}, 404},
		{"officer widens a consent to police", officer, "PATCH", "/api/collections/consents/records/" + active.Id, map[string]any{"recipients+": "police"}, 404},
		{"officer widens a consent to clinical notes", officer, "PATCH", "/api/collections/consents/records/" + active.Id, map[string]any{"compartments": []string{"identity", "clinical"}}, 404},
		{"worker moves a consent to another person", worker, "PATCH", "/api/collections/consents/records/" + active.Id, map[string]any{"person": w.targets["persons"].Id}, 404},
		{"worker back-dates a consent", worker, "PATCH", "/api/collections/consents/records/" + active.Id, map[string]any{"valid_from": "2020-01-01 00:00:00.000Z"}, 404},
		// The beds hook, not the rule, refuses this (with a machine code), so
		// 422 is as good as the rule's 400; see statusOK.
		{"worker creates a hold already granted", worker, "POST", "/api/collections/bed_holds/records", map[string]any{"program": w.program.Id, "team": w.north.Id, "status": "held", "requested_at": now()}, 400},
		{"worker extends their team's hold", worker, "PATCH", "/api/collections/bed_holds/records/" + w.targets["bed_holds"].Id, map[string]any{"held_until": "2030-01-01 00:00:00.000Z"}, 400},
		{"worker moves their hold to another programme", worker, "PATCH", "/api/collections/bed_holds/records/" + w.targets["bed_holds"].Id, map[string]any{"program": bridgeProgram.Id}, 400},
		{"agent updates another agency's counts", agent, "PATCH", "/api/collections/bed_programs/records/" + bridgeProgram.Id, map[string]any{"occupied": 1}, 404},
		{"agent moves a programme to another agency's site", agent, "PATCH", "/api/collections/bed_programs/records/" + w.program.Id, map[string]any{"shelter": bridgeShelter.Id}, 404},
		{"agent hands a shelter to another agency", agent, "PATCH", "/api/collections/shelters/records/" + w.shelter.Id, map[string]any{"organization": w.orgs["bridge"].Id}, 404},
		{"Bridge agent reads Harbor's holds", otherAgent, "GET", "/api/collections/bed_holds/records/" + w.targets["bed_holds"].Id, nil, 404},
		{"analyst reads a person", analyst, "GET", "/api/collections/persons/records/" + w.person.Id, nil, 404},
		{"privacy officer writes the audit trail", privacy, "POST", "/api/collections/audit_events/records", map[string]any{"seq": 5, "action": "x", "at": now(), "hash": "h"}, 403},
		{"anonymous lists persons with a filter", anon, "GET", "/api/collections/persons/records?filter=" + "display_name%3D%27Smokey%27", nil, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.do(t, tc.method, tc.path, tc.actor, tc.body)
			if !statusOK(res.Status, tc.status) {
				t.Fatalf("%s %s: status %d, want %d: %s", tc.method, tc.path, res.Status, tc.status, res.Body)
			}
			if tc.method == http.MethodGet && res.Status == http.StatusOK && strings.Contains(tc.path, "?") && listed(t, res, w.person.Id) {
				t.Fatalf("filtered list leaked the North person: %s", res.Body)
			}
		})
	}

	// Nothing above changed what it tried to change.
	u, _ := w.env.App.FindRecordById("users", w.users[worker].Id)
	if u.GetString("role") != "outreach_worker" || u.GetString("organization") != w.orgs["outreach"].Id || strings.Join(u.GetStringSlice("teams"), ",") != w.north.Id {
		t.Errorf("worker account changed: role=%s org=%s teams=%v", u.GetString("role"), u.GetString("organization"), u.GetStringSlice("teams"))
	}
	c, _ := w.env.App.FindRecordById("consents", revoked.Id)
	if c.GetString("status") != "revoked" {
		t.Errorf("revoked consent is now %q", c.GetString("status"))
	}
}

// statusOK accepts got for want; a 400 refusal may also come from a hook as
// 422 (Unprocessable Entity), which refuses just as firmly.
func statusOK(got, want int) bool {
	return got == want || (want == http.StatusBadRequest && got == http.StatusUnprocessableEntity)
}

// TestConsentWithdrawal: the legitimate consent edit, withdrawal, still works
// for the team, and the rule that forbids re-activation does not forbid it.
func TestConsentWithdrawal(t *testing.T) {
	w := newWorld(t)
	id := w.targets["consents"].Id
	res := w.do(t, http.MethodPatch, "/api/collections/consents/records/"+id, officer, map[string]any{"status": "revoked", "revoked_at": now()})
	if res.Status != http.StatusOK {
		t.Fatalf("withdrawing consent: status %d: %s", res.Status, res.Body)
	}
	c, _ := w.env.App.FindRecordById("consents", id)
	if c.GetString("status") != "revoked" {
		t.Fatalf("status = %q, want revoked", c.GetString("status"))
	}
	// A client that sends the whole record back unchanged is not refused.
	full := map[string]any{"person": w.person.Id, "team": w.north.Id, "compartments": []string{"identity"}, "recipients": []string{"outreach", "health"}, "purpose": "care_coordination", "method": "verbal_witnessed", "status": "revoked", "valid_until": "2027-01-01 00:00:00.000Z"}
	if res := w.do(t, http.MethodPatch, "/api/collections/consents/records/"+id, worker, full); res.Status != http.StatusOK {
		t.Fatalf("resending an unchanged consent: status %d: %s", res.Status, res.Body)
	}
}
