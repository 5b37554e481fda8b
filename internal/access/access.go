// Package access makes Tandem's one access decision: which records and which
// fields a user may see. Every path (records API, realtime, files, sync pull,
// exports) asks this package, so the rule is written once.
//
// A field belongs to a compartment (DESIGN.md §6). A viewer sees a compartment
// of a record when their role allows it and, for records about a person, when
// the sharing agreement between agencies and the person's consent allow it.
package access

import (
	"encoding/json"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// FieldCompartments declares, per collection, the compartment of each field
// that is not plain operational data. Fields not listed are visible to anyone
// who may see the record at all.
var FieldCompartments = map[string]map[string]domain.Compartment{
	domain.Persons: {
		"display_name": domain.CompIdentity,
		"aliases":      domain.CompIdentity,
		"birth_year":   domain.CompIdentity,
		"hmis_id":      domain.CompIdentity,
		"photo":        domain.CompPhoto,
	},
	domain.Encounters: {
		"location":            domain.CompContactLocation,
		"location_note":       domain.CompContactLocation,
		"living_situation":    domain.CompHousing,
		"clinical_notes":      domain.CompClinical,
		"part2_notes":         domain.CompPart2,
		"police_incident_ref": domain.CompPolice,
		"photos":              domain.CompPhoto,
	},
	domain.Shelters: {
		// Only hidden for confidential (victim-service) sites; see Decider.
		"address":  domain.CompVictimServices,
		"location": domain.CompVictimServices,
	},
}

// roleCompartments is what each role may see at most, before agreements and
// consent narrow it.
var roleCompartments = map[domain.Role][]domain.Compartment{
	domain.RoleOutreachWorker: {domain.CompIdentity, domain.CompContactLocation, domain.CompHousing, domain.CompPhoto},
	domain.RoleClinician:      {domain.CompIdentity, domain.CompContactLocation, domain.CompHousing, domain.CompClinical, domain.CompPart2, domain.CompPhoto},
	domain.RoleOfficer:        {domain.CompIdentity, domain.CompContactLocation, domain.CompPolice, domain.CompPhoto},
	domain.RoleTeamLead:       {domain.CompIdentity, domain.CompContactLocation, domain.CompHousing, domain.CompPolice, domain.CompPhoto},
	domain.RoleHousingAgent:   {},
	domain.RolePrivacyOfficer: {},
	domain.RoleAnalyst:        {},
}

// Viewer is who is looking.
type Viewer struct {
	UserID  string
	Role    domain.Role
	OrgID   string
	OrgKind domain.OrgKind
	Teams   []string
}

// ViewerFromRecord builds a Viewer from an auth record of the users
// collection, looking up the organisation kind.
func ViewerFromRecord(app core.App, user *core.Record) (Viewer, error) {
	v := Viewer{
		UserID: user.Id,
		Role:   domain.Role(user.GetString("role")),
		OrgID:  user.GetString("organization"),
		Teams:  user.GetStringSlice("teams"),
	}
	if v.OrgID != "" {
		org, err := app.FindRecordById(domain.Organizations, v.OrgID)
		if err != nil {
			return v, err
		}
		v.OrgKind = domain.OrgKind(org.GetString("kind"))
	}
	return v, nil
}

// RoleAllows reports whether the viewer's role may ever see compartment c.
func (v Viewer) RoleAllows(c domain.Compartment) bool {
	for _, allowed := range roleCompartments[v.Role] {
		if allowed == c {
			return true
		}
	}
	return false
}

// InTeam reports whether the viewer works on team id.
func (v Viewer) InTeam(id string) bool {
	for _, t := range v.Teams {
		if t == id {
			return true
		}
	}
	return false
}

// Decider answers access questions for one viewer. Build one per request or
// per sync pull; it may cache what it loads.
type Decider struct {
	app    core.App
	viewer Viewer
}

// NewDecider prepares access decisions for viewer.
func NewDecider(app core.App, viewer Viewer) (*Decider, error) {
	return &Decider{app: app, viewer: viewer}, nil
}

// Viewer returns who the decisions are for.
func (d *Decider) Viewer() Viewer { return d.viewer }

// HiddenFields returns the fields of a record in collection that the viewer
// must not receive. fields is the record's field values (as stored).
func (d *Decider) HiddenFields(collection string, fields map[string]any) []string {
	comps := FieldCompartments[collection]
	if len(comps) == 0 {
		return nil
	}
	var hidden []string
	for name, c := range comps {
		if collection == domain.Shelters {
			if confidential, _ := fields["confidential_location"].(bool); !confidential {
				continue
			}
		}
		if !d.viewer.RoleAllows(c) {
			hidden = append(hidden, name)
		}
	}
	return hidden
}

// Redact removes from fields (in place) everything the viewer may not see and
// returns the names it removed.
func (d *Decider) Redact(collection string, fields map[string]any) []string {
	hidden := d.HiddenFields(collection, fields)
	for _, name := range hidden {
		delete(fields, name)
	}
	return hidden
}

// Visible reports whether the viewer may see the record at all (before field
// redaction). fields is the record's field values as stored; relation fields
// hold ids.
func (d *Decider) Visible(collection string, fields map[string]any) bool {
	v := d.viewer
	switch collection {
	case domain.Persons:
		if !v.Role.IsFieldRole() {
			return false
		}
		for _, t := range toStrings(fields["teams"]) {
			if v.InTeam(t) {
				return true
			}
		}
		return false
	case domain.Encounters, domain.Referrals, domain.Followups, domain.BedHolds, domain.Consents:
		team, _ := fields["team"].(string)
		return v.Role.IsFieldRole() && v.InTeam(team)
	case domain.Conflicts:
		team, _ := fields["team"].(string)
		return v.Role == domain.RoleTeamLead && v.InTeam(team)
	case domain.BedPrograms, domain.Shelters, domain.Organizations, domain.Teams, domain.SharingAgreements:
		return v.Role.IsFieldRole()
	default:
		return false
	}
}

func toStrings(v any) []string {
	switch s := v.(type) {
	case []string:
		return s
	case []any:
		out := make([]string, 0, len(s))
		for _, x := range s {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	case string:
		if s == "" {
			return nil
		}
		// Multi-relations read straight from SQLite are JSON arrays.
		if strings.HasPrefix(s, "[") {
			var out []string
			if json.Unmarshal([]byte(s), &out) == nil {
				return out
			}
		}
		return []string{s}
	}
	return nil
}
