// Package domain names Tandem's collections, roles, organisation kinds and
// privacy compartments in one place, so hooks, the sync engine and tests agree
// on spelling.
//
// Migrations deliberately do not import this package: a shipped migration is a
// frozen snapshot. Tests in this package check that the enumerations here still
// match the collections the migrations created.
package domain

// Collection names. Table names in SQLite are the same.
const (
	Organizations     = "organizations"
	Users             = "users"
	Teams             = "teams"
	Devices           = "devices"
	Persons           = "persons"
	Consents          = "consents"
	SharingAgreements = "sharing_agreements"
	Encounters        = "encounters"
	Referrals         = "referrals"
	Followups         = "followups"
	Shelters          = "shelters"
	BedPrograms       = "bed_programs"
	BedHolds          = "bed_holds"
	Conflicts         = "conflicts"
	AuditEvents       = "audit_events"
)

// Role is what a user does in the programme; it is the first input of every
// access decision.
type Role string

// The roles of DESIGN.md §1.
const (
	RoleOutreachWorker Role = "outreach_worker"
	RoleClinician      Role = "clinician"
	RoleOfficer        Role = "officer"
	RoleTeamLead       Role = "team_lead"
	RoleHousingAgent   Role = "housing_agent"
	RolePrivacyOfficer Role = "privacy_officer"
	RoleAnalyst        Role = "analyst"
)

// Roles lists every role in the order the admin dashboard shows them.
var Roles = []Role{
	RoleOutreachWorker, RoleClinician, RoleOfficer, RoleTeamLead,
	RoleHousingAgent, RolePrivacyOfficer, RoleAnalyst,
}

// FieldRoles are the roles that go out on shift with a team and carry a
// tablet: they see their teams' records.
var FieldRoles = []Role{RoleOutreachWorker, RoleClinician, RoleOfficer, RoleTeamLead}

// IsFieldRole reports whether r works on a team in the field.
func (r Role) IsFieldRole() bool {
	for _, f := range FieldRoles {
		if f == r {
			return true
		}
	}
	return false
}

// OrgKind is the kind of agency an organisation is; sharing agreements are
// written between kinds.
type OrgKind string

// The organisation kinds of DESIGN.md §3.
const (
	OrgOutreach       OrgKind = "outreach"
	OrgPolice         OrgKind = "police"
	OrgHealth         OrgKind = "health"
	OrgHousing        OrgKind = "housing"
	OrgVictimServices OrgKind = "victim_services"
)

// OrgKinds lists every organisation kind.
var OrgKinds = []OrgKind{OrgOutreach, OrgPolice, OrgHealth, OrgHousing, OrgVictimServices}

// Compartment is a group of fields that share one privacy rule (DESIGN.md §6).
type Compartment string

// The compartments of DESIGN.md §6.
const (
	CompIdentity        Compartment = "identity"
	CompContactLocation Compartment = "contact_location"
	CompHousing         Compartment = "housing"
	CompClinical        Compartment = "clinical"
	CompPart2           Compartment = "part2"
	CompPolice          Compartment = "police"
	CompVictimServices  Compartment = "victim_services"
	CompPhoto           Compartment = "photo"
)

// Compartments lists every compartment.
var Compartments = []Compartment{
	CompIdentity, CompContactLocation, CompHousing, CompClinical,
	CompPart2, CompPolice, CompVictimServices, CompPhoto,
}

// Follow-up statuses. Status only moves forward: see FollowupStatusRank.
const (
	FollowupOpen       = "open"
	FollowupInProgress = "in_progress"
	FollowupDone       = "done"
	FollowupCancelled  = "cancelled"
	FollowupFailed     = "failed"
)

// FollowupStatuses lists follow-up statuses in their forward order.
var FollowupStatuses = []string{FollowupOpen, FollowupInProgress, FollowupDone, FollowupCancelled, FollowupFailed}

// Bed hold statuses.
const (
	HoldRequested              = "requested"
	HoldHeld                   = "held"
	HoldArrived                = "arrived"
	HoldExpired                = "expired"
	HoldCancelled              = "cancelled"
	HoldRejectedNoCapacity     = "rejected_no_capacity"
	HoldCancelledProgramClosed = "cancelled_program_closed"
)

// HoldStatuses lists every bed hold status.
var HoldStatuses = []string{
	HoldRequested, HoldHeld, HoldArrived, HoldExpired, HoldCancelled,
	HoldRejectedNoCapacity, HoldCancelledProgramClosed,
}

// Dispositions are the outcomes an encounter can end with.
var Dispositions = []string{
	"no_action", "voluntary_transport", "emergency_department", "involuntary_hold",
	"citation", "arrest", "placed_in_shelter", "declined",
}

// Populations are the groups a bed programme serves.
var Populations = []string{"single_adult", "women", "family", "youth", "veteran", "dv_survivor"}

// LivingSituations are HUD HMIS 4.12 Current Living Situation response codes.
var LivingSituations = map[string]string{
	"116": "Place not meant for habitation",
	"101": "Emergency shelter, including hotel or motel paid for with emergency shelter voucher, Host Home shelter",
	"118": "Safe Haven",
	"215": "Foster care home or foster care group home",
	"206": "Hospital or other residential non-psychiatric medical facility",
	"207": "Jail, prison or juvenile detention facility",
	"225": "Long-term care facility or nursing home",
	"204": "Psychiatric hospital or other psychiatric facility",
	"205": "Substance abuse treatment facility or detox center",
	"302": "Transitional housing for homeless persons",
	"329": "Residential project or halfway house with no homeless criteria",
	"332": "Host Home (non-crisis)",
	"314": "Hotel or motel paid for without emergency shelter voucher",
	"312": "Staying or living in a family member's room, apartment, or house",
	"313": "Staying or living in a friend's room, apartment, or house",
	"327": "Moved from one HOPWA funded project to HOPWA TH",
	"336": "Staying or living in a friend's room, apartment or house",
	"335": "Staying or living in a family member's room, apartment or house",
	"422": "Staying or living with family, permanent tenure",
	"423": "Staying or living with friends, permanent tenure",
	"426": "Moved from one HOPWA funded project to HOPWA PH",
	"410": "Rental by client, no ongoing housing subsidy",
	"421": "Owned by client, with ongoing housing subsidy",
	"411": "Owned by client, no ongoing housing subsidy",
	"435": "Rental by client, with ongoing housing subsidy",
	"8":   "Client doesn't know",
	"9":   "Client prefers not to answer",
	"17":  "Other",
	"24":  "Deceased",
	"37":  "Worker unable to determine",
	"99":  "Data not collected",
}

// ReferralEvents are HUD HMIS 4.20 Referral Event codes.
var ReferralEvents = map[string]string{
	"1":  "Referral to Prevention Assistance project",
	"2":  "Problem Solving/Diversion/Rapid Resolution intervention or service",
	"3":  "Referral to scheduled Coordinated Entry Crisis Needs Assessment",
	"4":  "Referral to scheduled Coordinated Entry Housing Needs Assessment",
	"5":  "Referral to Post-placement/follow-up case management",
	"6":  "Referral to Street Outreach project or services",
	"7":  "Referral to Housing Navigation project or services",
	"8":  "Referral to Non-continuum services: Ineligible for continuum services",
	"9":  "Referral to Non-continuum services: No availability in continuum services",
	"10": "Referral to Emergency Shelter bed opening",
	"11": "Referral to Transitional Housing bed/unit opening",
	"12": "Referral to Joint TH-RRH project/unit/resource opening",
	"13": "Referral to RRH project resource opening",
	"14": "Referral to PSH project resource opening",
	"15": "Referral to Other PH project/unit/resource opening",
	"16": "Referral to emergency assistance/flex fund/furniture assistance",
	"17": "Referral to Emergency Housing Voucher (EHV)",
	"18": "Referral to a Housing Stability Voucher",
}
