package demo

// The demo programme, as tables. It is set in "Port Alder", a town that does
// not exist; every person, street name and note below is invented.

type orgRow struct{ key, name, kind, hmis string }

var orgs = []orgRow{
	{"outreach", "Port Alder Street Outreach", "outreach", "PA-OUT-01"},
	{"police", "Port Alder Police Department", "police", ""},
	{"health", "Alder County Behavioral Health", "health", "PA-HLT-02"},
	{"harbor", "Harbor Light Housing", "housing", "PA-HSG-03"},
	{"eastside", "Eastside Family Shelter Network", "housing", "PA-HSG-04"},
	{"safehaven", "Safe Haven Survivor Services", "victim_services", "PA-VSP-05"},
}

func orgByKey(k string) orgRow {
	for _, o := range orgs {
		if o.key == k {
			return o
		}
	}
	panic("demo: unknown organisation " + k)
}

type teamRow struct{ key, name, area string }

var teams = []teamRow{
	{"north", "North Side Co-Responder Team", "Old Mill, Riverside Park, the 5th St bridge"},
	{"south", "South Side Co-Responder Team", "Harbor district, Pine St, the bus depot"},
}

func teamByKey(k string) teamRow {
	for _, t := range teams {
		if t.key == k {
			return t
		}
	}
	panic("demo: unknown team " + k)
}

type personRow struct{ key, name, email, role, org, team, phone string }

// people are the demo user accounts. Emails follow team.role so they are
// easy to type during a demo.
var people = []personRow{
	{"north.worker", "Nadia Flores", "north.worker@demo.example.org", "outreach_worker", "outreach", "north", "555-0101"},
	{"north.clinician", "Kwame Mensah", "north.clinician@demo.example.org", "clinician", "health", "north", "555-0102"},
	{"north.officer", "Jamie Reyes", "north.officer@demo.example.org", "officer", "police", "north", "555-0103"},
	{"north.lead", "Rosa Kim", "north.lead@demo.example.org", "team_lead", "outreach", "north", "555-0104"},
	{"south.worker", "Theo Nakamura", "south.worker@demo.example.org", "outreach_worker", "outreach", "south", "555-0201"},
	{"south.clinician", "Priya Raman", "south.clinician@demo.example.org", "clinician", "health", "south", "555-0202"},
	{"south.officer", "Dana Walsh", "south.officer@demo.example.org", "officer", "police", "south", "555-0203"},
	{"south.lead", "Marcus Bell", "south.lead@demo.example.org", "team_lead", "outreach", "south", "555-0204"},
	{"harbor.agent", "Gwen Ortiz", "harbor.agent@demo.example.org", "housing_agent", "harbor", "", "555-0301"},
	{"eastside.agent", "Luis Ferreira", "eastside.agent@demo.example.org", "housing_agent", "eastside", "", "555-0302"},
	{"safehaven.agent", "Ana Silva", "safehaven.agent@demo.example.org", "housing_agent", "safehaven", "", "555-0303"},
	{"privacy", "Helen Price", "privacy@demo.example.org", "privacy_officer", "outreach", "", "555-0401"},
	{"analyst", "Omar Haddad", "analyst@demo.example.org", "analyst", "outreach", "", "555-0402"},
}

func personByKey(k string) personRow {
	for _, p := range people {
		if p.key == k {
			return p
		}
	}
	panic("demo: unknown user " + k)
}

type shelterRow struct {
	key, org, name, address, phone string
	lat, lon                       float64
	confidential                   bool
}

var shelters = []shelterRow{
	{"harbor", "harbor", "Harbor Light Night Shelter", "12 Wharf Lane, Port Alder", "555-0310", 44.9512, -93.0921, false},
	{"eastside", "eastside", "Eastside Family Center", "400 Larch Ave, Port Alder", "555-0320", 44.9588, -93.0603, false},
	// A domestic-violence refuge: its location never leaves the agency.
	{"safehaven", "safehaven", "Safe Haven House", "(confidential)", "555-0330", 44.9701, -93.1102, true},
}

type programRow struct {
	key, shelter, name, population string
	constraints                    []string
	total, occupied, outOfService  int
	holdMinutes                    int
}

var programs = []programRow{
	{"harbor.men", "harbor", "Men's overnight", "single_adult", []string{"id_required", "curfew", "storage_available"}, 40, 34, 2, 0},
	{"harbor.women", "harbor", "Women's overnight", "women", []string{"curfew", "wheelchair_accessible"}, 20, 16, 0, 0},
	{"harbor.vets", "harbor", "Veterans' beds", "veteran", []string{"sobriety_required"}, 8, 7, 0, 120},
	{"eastside.family", "eastside", "Family rooms", "family", []string{"couples_allowed", "pets_allowed"}, 12, 10, 1, 0},
	{"eastside.youth", "eastside", "Youth beds (18-24)", "youth", []string{"storage_available"}, 10, 6, 0, 60},
	{"safehaven.dv", "safehaven", "Survivor beds", "dv_survivor", []string{"pets_allowed"}, 10, 7, 0, 90},
}

type clientRow struct {
	key, name, quality string
	aliases            []string
	birthYear          int
	teams              []string
}

// clients are the people the teams meet. Smokey (North) and "Smoke" (South)
// are the same man recorded twice, the duplicate a team lead should merge;
// Blue and Sparrow are met by both teams.
var clients = []clientRow{
	{"smokey", "Smokey", "2", []string{"Smoke", "Mr. Smokes"}, 1971, []string{"north"}},
	{"smoke", "Smoke", "2", []string{"Smokey J"}, 1971, []string{"south"}},
	{"blue", "Blue", "2", []string{"Blue Jay"}, 1988, []string{"north", "south"}},
	{"sparrow", "Sparrow", "2", nil, 1999, []string{"north", "south"}},
	{"redcap", "Red Cap", "2", nil, 1965, []string{"north"}},
	{"lefty", "Lefty", "2", []string{"Lefty Lou"}, 1980, []string{"north"}},
	{"tinker", "Tinker", "2", nil, 1993, []string{"north"}},
	{"maya", "Maya Quill", "1", nil, 2002, []string{"south"}},
	{"doc", "Doc", "2", []string{"Doctor"}, 1958, []string{"south"}},
	{"ziggy", "Ziggy", "2", nil, 1990, []string{"south"}},
	{"moth", "Moth", "2", nil, 1996, []string{"south"}},
}

type visit struct {
	person, kind, disposition, living string
	needs, offered                    []string
	where, notes, clinical, police    string
	by                                string // user key
}

// script is what each team's evenings look like; the week cycles through it.
var script = map[string][]visit{
	"north": {
		{"smokey", "outreach", "no_action", "116", []string{"water", "food"}, []string{"water", "food"}, "under the 5th St bridge", "Smokey asked for socks and a bus pass. In good spirits.", "", "", "north.worker"},
		{"redcap", "welfare_check", "voluntary_transport", "116", []string{"medical"}, []string{"medical", "transport"}, "Riverside Park bandstand", "Caller worried about Red Cap sleeping in the cold; he agreed to a ride to the clinic.", "Foot wound, cleaned and dressed; advised follow-up at clinic.", "", "north.clinician"},
		{"blue", "outreach", "placed_in_shelter", "116", []string{"shelter"}, []string{"shelter", "transport"}, "Old Mill loading dock", "Blue accepted a bed at Harbor Light for tonight.", "", "", "north.worker"},
		{"lefty", "crisis_call", "emergency_department", "116", []string{"mental_health"}, []string{"mental_health", "transport"}, "Mill St & 3rd", "Dispatch call: Lefty shouting at traffic. Calmed down with the clinician; agreed to go to the ED.", "Acute distress, not oriented to date. Voluntary ED evaluation.", "PA-26-004512", "north.officer"},
		{"", "outreach", "declined", "37", []string{"food"}, []string{"food"}, "Riverside Park east benches", "Anonymous man, declined to give a name; took a sandwich.", "", "", "north.worker"},
		{"tinker", "follow_up", "no_action", "116", []string{"id_documents", "benefits"}, []string{"id_documents"}, "5th St bridge, north end", "Helped Tinker fill in the ID replacement form.", "", "", "north.worker"},
		{"sparrow", "outreach", "no_action", "116", []string{"hygiene", "phone"}, []string{"hygiene"}, "library steps", "Sparrow wants a phone to call her sister; gave hygiene kit.", "", "", "north.lead"},
		{"smokey", "follow_up", "no_action", "116", []string{"substance_use"}, []string{"substance_use"}, "under the 5th St bridge", "Checked in with Smokey; he asked about detox beds.", "Discussed options calmly.", "", "north.clinician"},
	},
	"south": {
		{"smoke", "outreach", "no_action", "116", []string{"food", "clothing"}, []string{"food", "clothing"}, "bus depot, platform 4", "Smoke (says he also goes by Smokey J) took a coat and soup.", "", "", "south.worker"},
		{"doc", "welfare_check", "no_action", "116", []string{"medical"}, []string{"medical"}, "Pine St underpass", "Doc says his knee is worse; declined transport for now.", "Knee swelling, ambulatory; re-check in two days.", "", "south.clinician"},
		{"maya", "outreach", "placed_in_shelter", "101", []string{"shelter"}, []string{"shelter", "transport"}, "Harbor district pier 2", "Maya Quill, 24, got a youth bed at Eastside.", "", "", "south.worker"},
		{"ziggy", "crisis_call", "citation", "116", []string{"legal"}, []string{"legal"}, "Wharf Lane car park", "Ziggy camped in the car park after hours; officer gave a warning citation, team offered legal aid clinic.", "", "PA-26-004533", "south.officer"},
		{"blue", "outreach", "no_action", "116", []string{"shelter"}, []string{"shelter"}, "bus depot, waiting room", "Blue said he left Harbor Light after one night; wants to try again.", "", "", "south.worker"},
		{"moth", "outreach", "declined", "116", []string{"water"}, []string{"water"}, "Pine St & Larch Ave", "Moth took water, did not want to talk tonight.", "", "", "south.lead"},
		{"sparrow", "referral", "voluntary_transport", "116", []string{"phone", "benefits"}, []string{"transport", "benefits"}, "Harbor district library", "Drove Sparrow to the benefits office for her appointment.", "", "", "south.worker"},
		{"", "welfare_check", "no_action", "37", nil, nil, "bus depot, east exit", "Caller reported a woman sleeping by the exit; nobody there on arrival.", "", "PA-26-004541", "south.officer"},
	},
}

// perNight is how many encounters each team records per evening.
const perNight = 3

// days is how many evenings of work the demo holds (today and the six before).
const days = 7

type referralRow struct {
	key, person, team, encounter, event, target, status, result, notes, by string
}

// Encounter references are "team/day/slot": day 0 is today, 6 a week ago.
var referrals = []referralRow{
	{"r1", "blue", "north", "north/6/2", "10", "Harbor Light Night Shelter - Men's overnight", "accepted", "accepted", "Bed offered and taken.", "north.worker"},
	{"r2", "redcap", "north", "north/6/1", "6", "Alder County wound clinic", "pending", "", "Walk-in hours Tue/Thu.", "north.clinician"},
	{"r3", "tinker", "north", "north/5/2", "7", "Port Alder Housing Navigation", "pending", "", "Needs ID first.", "north.worker"},
	{"r4", "smokey", "north", "north/4/1", "3", "Coordinated Entry crisis assessment", "accepted", "accepted", "Assessment booked Friday 10am.", "north.lead"},
	{"r5", "maya", "south", "south/6/2", "10", "Eastside Family Center - Youth beds", "accepted", "accepted", "Placed same night.", "south.worker"},
	{"r6", "doc", "south", "south/6/1", "6", "Alder County mobile clinic", "rejected", "client_rejected", "Doc prefers to wait.", "south.clinician"},
	{"r7", "sparrow", "south", "south/4/0", "16", "Flex fund - phone and plan", "pending", "", "Application sent.", "south.worker"},
	{"r8", "ziggy", "south", "south/5/0", "8", "Legal aid clinic", "pending", "", "Clinic on Wednesdays.", "south.officer"},
}

type followupRow struct {
	key, person, team, encounter, referral, assignee, status string
	dueHours, attempts                                       int // due relative to now
	notes, by                                                string
}

var followups = []followupRow{
	{"f1", "redcap", "north", "north/6/1", "r2", "north.clinician", "open", 20, 0, "Check the dressing; bring clean socks.", "north.clinician"},
	{"f2", "tinker", "north", "north/5/2", "r3", "north.worker", "in_progress", 48, 1, "ID form posted; check mail at the day centre.", "north.worker"},
	{"f3", "smokey", "north", "north/4/1", "r4", "north.lead", "open", 60, 0, "Remind Smokey about Friday's assessment.", "north.lead"},
	{"f4", "blue", "north", "north/6/2", "r1", "", "done", -100, 1, "Blue arrived at Harbor Light.", "north.worker"},
	{"f5", "lefty", "north", "north/6/0", "", "north.officer", "failed", -30, 3, "Not found at usual spots three nights running.", "north.officer"},
	{"f6", "sparrow", "north", "north/3/0", "", "north.worker", "open", 24, 0, "Ask whether her sister called back.", "north.lead"},
	{"f7", "doc", "south", "south/6/1", "r6", "south.clinician", "open", 12, 1, "Re-check the knee.", "south.clinician"},
	{"f8", "maya", "south", "south/6/2", "r5", "south.worker", "done", -120, 1, "Settled in at Eastside.", "south.worker"},
	{"f9", "sparrow", "south", "south/4/0", "r7", "south.worker", "in_progress", 36, 1, "Flex fund decision due this week.", "south.worker"},
	{"f10", "ziggy", "south", "south/5/0", "r8", "", "open", 72, 0, "Walk Ziggy to the legal aid clinic.", "south.officer"},
	{"f11", "moth", "south", "south/5/2", "", "south.lead", "cancelled", -10, 0, "Moth moved out of the area.", "south.lead"},
	{"f12", "smoke", "south", "south/6/0", "", "south.worker", "open", 30, 0, "Bring Smoke a blanket.", "south.worker"},
}

type consentRow struct {
	key, person, team, purpose, method, status string
	compartments, recipients                   []string
	by                                         string
}

// consents decide what the partner agencies on a team see (internal/access):
// most people agreed to share who they are with the whole team; Red Cap
// refused to share with the police, and Tinker, Ziggy and Moth were not asked
// yet, so the officers and clinicians do not see them.
var consents = []consentRow{
	{"c1", "smokey", "north", "care_coordination", "signed", "active", []string{"identity", "contact_location", "housing", "clinical"}, []string{"outreach", "health", "housing", "police"}, "north.clinician"},
	{"c2", "blue", "north", "housing_placement", "verbal_witnessed", "active", []string{"identity", "contact_location", "housing"}, []string{"outreach", "housing", "police", "health"}, "north.worker"},
	{"c3", "redcap", "north", "crisis_response", "verbal_witnessed", "refused", []string{"identity", "clinical"}, []string{"police"}, "north.officer"},
	{"c4", "redcap", "north", "care_coordination", "verbal_witnessed", "active", []string{"identity", "contact_location", "clinical"}, []string{"outreach", "health"}, "north.clinician"},
	{"c5", "lefty", "north", "crisis_response", "verbal_witnessed", "active", []string{"identity", "contact_location", "clinical"}, []string{"outreach", "health", "police"}, "north.clinician"},
	{"c6", "sparrow", "north", "care_coordination", "signed", "active", []string{"identity", "contact_location", "housing"}, []string{"outreach", "health", "police", "housing"}, "north.lead"},
	{"c7", "maya", "south", "housing_placement", "signed", "active", []string{"identity", "housing", "contact_location"}, []string{"outreach", "housing", "health", "police"}, "south.worker"},
	{"c8", "doc", "south", "care_coordination", "paper_scan", "active", []string{"identity", "contact_location", "clinical", "part2"}, []string{"outreach", "health"}, "south.clinician"},
	{"c9", "smoke", "south", "crisis_response", "verbal_witnessed", "active", []string{"identity", "contact_location"}, []string{"outreach", "health", "police"}, "south.officer"},
}

type agreementRow struct {
	key, name, owner, recipient, purpose string
	compartments                         []string
}

var agreements = []agreementRow{
	{"a1", "Street Outreach / Police co-responder MOU 2026", "outreach", "police", "crisis_response", []string{"identity", "contact_location", "police"}},
	{"a2", "Street Outreach / Behavioral Health MOU 2026", "outreach", "health", "care_coordination", []string{"identity", "contact_location", "housing", "clinical", "part2"}},
	{"a3", "Behavioral Health / Street Outreach MOU 2026", "health", "outreach", "care_coordination", []string{"identity", "contact_location", "housing"}},
	{"a4", "Street Outreach / Housing placement agreement 2026", "outreach", "housing", "housing_placement", []string{"identity", "housing"}},
}

type holdRow struct{ key, program, person, team, by string }

var holds = []holdRow{
	{"h1", "harbor.men", "smokey", "north", "north.worker"},
	{"h2", "eastside.youth", "sparrow", "south", "south.worker"},
}
