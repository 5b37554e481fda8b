// Package access makes Tandem's one access decision: which records and which
// fields a user may see. Every path (records API, realtime, files, sync pull,
// exports) asks this package, so the rule is written once.
//
// A field belongs to a compartment (DESIGN.md §6). A viewer sees a
// compartment of a record when all three of these allow it:
//
//  1. the role ceiling: what the viewer's role may ever see (officers never
//     see clinical or part2; housing agents, privacy officers and analysts
//     see no client compartment);
//  2. the sharing agreement: when the viewer's organisation kind differs from
//     the kind of agency that owns the data, a sharing agreement from the
//     owner kind to the viewer's kind must cover the compartment and be valid
//     now;
//  3. the person's consent, for compartments that need it (see
//     NeedsConsent): an active consent of the person the record is about,
//     valid now, naming the compartment and the viewer's organisation kind.
//
// Who owns the data of a record: the organisation kind of the user who
// recorded it (encounters.recorded_by, referrals.created_by,
// followups.created_by); when that is unknown, the compartment's natural
// owner (OwnerKind). Persons records are owned by outreach. The police
// compartment always belongs to the police, whoever typed it in.
//
// Victim-service compartments (the address and map position of a
// confidential shelter) never leave the agency that runs the site, whatever
// the role.
package access

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
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

// SensitiveCompartments are the compartments whose every read through the
// records API leaves a read_sensitive audit event.
var SensitiveCompartments = []domain.Compartment{
	domain.CompClinical, domain.CompPart2, domain.CompPolice, domain.CompVictimServices,
}

// IsSensitive reports whether reading compartment c must be audited.
func IsSensitive(c domain.Compartment) bool {
	for _, s := range SensitiveCompartments {
		if s == c {
			return true
		}
	}
	return false
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

// naturalOwner is the kind of agency that owns a compartment's data when the
// record does not say who recorded it.
var naturalOwner = map[domain.Compartment]domain.OrgKind{
	domain.CompIdentity:        domain.OrgOutreach,
	domain.CompContactLocation: domain.OrgOutreach,
	domain.CompHousing:         domain.OrgOutreach,
	domain.CompPhoto:           domain.OrgOutreach,
	domain.CompClinical:        domain.OrgHealth,
	domain.CompPart2:           domain.OrgHealth,
	domain.CompPolice:          domain.OrgPolice,
	domain.CompVictimServices:  domain.OrgVictimServices,
}

// OwnerKind is the kind of agency that owns compartment c when a record does
// not name who recorded it.
func OwnerKind(c domain.Compartment) domain.OrgKind { return naturalOwner[c] }

// NeedsConsent reports whether compartment c, owned by an agency of kind
// owner, may reach a viewer of kind viewer only with the person's consent.
//
//   - part2 (42 CFR Part 2) and photo always need consent, even inside the
//     agency that recorded them: Part 2 forbids re-disclosure without written
//     consent, and a photo is taken only with the person's permission.
//   - identity, contact_location, housing and clinical need consent when they
//     cross from one kind of agency to another.
//   - police and victim_services never need the person's consent: police
//     data is the police's own operational record (shared by agreement only),
//     and victim-service locations never leave their agency at all.
func NeedsConsent(c domain.Compartment, owner, viewer domain.OrgKind) bool {
	switch c {
	case domain.CompPart2, domain.CompPhoto:
		return true
	case domain.CompIdentity, domain.CompContactLocation, domain.CompHousing, domain.CompClinical:
		return owner != viewer
	default:
		return false
	}
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

// grant is one (compartment, recipient kind) permission with its validity.
type grant struct {
	compartments []string
	recipients   []string // org kinds; for agreements, the one recipient kind
	owner        string   // agreements only: data owner kind
	from, until  time.Time
}

func (g grant) validAt(now time.Time) bool {
	if !g.from.IsZero() && now.Before(g.from) {
		return false
	}
	return g.until.IsZero() || now.Before(g.until)
}

func (g grant) covers(c domain.Compartment, kind domain.OrgKind) bool {
	return contains(g.compartments, string(c)) && contains(g.recipients, string(kind))
}

// Decider answers access questions for one viewer. Build one per request or
// per sync pull: it loads the sharing agreements once, and the consents and
// recorders' agencies it needs on first use (or in bulk with Preload), then
// reuses them. A Decider is safe for concurrent use.
type Decider struct {
	app    core.App
	viewer Viewer
	now    time.Time

	agreements []grant // valid now, recipient = viewer's kind

	mu        sync.Mutex
	consents  map[string][]grant        // person id -> active consents valid now
	userKinds map[string]domain.OrgKind // user id -> org kind (loaded once)
}

// NewDecider prepares access decisions for viewer, loading the sharing
// agreements that name the viewer's organisation kind as recipient.
func NewDecider(app core.App, viewer Viewer) (*Decider, error) {
	d := &Decider{app: app, viewer: viewer, now: time.Now().UTC(), consents: map[string][]grant{}}
	if viewer.OrgKind == "" {
		return d, nil
	}
	var rows []struct {
		Owner        string `db:"data_owner_kind"`
		Compartments string `db:"compartments"`
		From         string `db:"valid_from"`
		Until        string `db:"valid_until"`
	}
	err := app.DB().NewQuery(`SELECT data_owner_kind, compartments, valid_from, valid_until
		FROM sharing_agreements WHERE recipient_kind = {:kind}`).Bind(dbx.Params{"kind": string(viewer.OrgKind)}).All(&rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		g := grant{owner: r.Owner, compartments: toStrings(r.Compartments), recipients: []string{string(viewer.OrgKind)},
			from: parseTime(r.From), until: parseTime(r.Until)}
		if g.validAt(d.now) {
			d.agreements = append(d.agreements, g)
		}
	}
	return d, nil
}

// Viewer returns who the decisions are for.
func (d *Decider) Viewer() Viewer { return d.viewer }

// Preload loads, in a few bounded queries, the consents of every person the
// given records are about, so that deciding on a page of records does not
// query per record. rows are field values as stored.
func (d *Decider) Preload(collection string, rows []map[string]any) error {
	ids := make([]string, 0, len(rows))
	for _, f := range rows {
		if p := personOf(collection, f); p != "" {
			ids = append(ids, p)
		}
	}
	return d.loadConsents(ids)
}

const preloadChunk = 500

func (d *Decider) loadConsents(personIDs []string) error {
	d.mu.Lock()
	missing := make([]any, 0, len(personIDs))
	seen := map[string]bool{}
	for _, id := range personIDs {
		if _, ok := d.consents[id]; !ok && !seen[id] {
			seen[id] = true
			missing = append(missing, id)
		}
	}
	d.mu.Unlock()
	for len(missing) > 0 {
		chunk := missing
		if len(chunk) > preloadChunk {
			chunk = chunk[:preloadChunk]
		}
		missing = missing[len(chunk):]
		var rows []struct {
			Person       string `db:"person"`
			Compartments string `db:"compartments"`
			Recipients   string `db:"recipients"`
			From         string `db:"valid_from"`
			Until        string `db:"valid_until"`
			RevokedAt    string `db:"revoked_at"`
		}
		ids, _ := json.Marshal(chunk)
		// One bound JSON array instead of 500 placeholders: SQLite prepares
		// the statement in microseconds instead of milliseconds.
		err := d.app.DB().NewQuery(`SELECT person, compartments, recipients, valid_from, valid_until, revoked_at
			FROM consents WHERE status = 'active' AND person IN (SELECT value FROM json_each({:ids}))`).
			Bind(dbx.Params{"ids": string(ids)}).All(&rows)
		if err != nil {
			return err
		}
		found := map[string][]grant{}
		for _, r := range rows {
			if r.RevokedAt != "" {
				continue
			}
			g := grant{compartments: toStrings(r.Compartments), recipients: toStrings(r.Recipients),
				from: parseTime(r.From), until: parseTime(r.Until)}
			if g.validAt(d.now) {
				found[r.Person] = append(found[r.Person], g)
			}
		}
		d.mu.Lock()
		for _, id := range chunk {
			d.consents[id.(string)] = found[id.(string)]
		}
		d.mu.Unlock()
	}
	return nil
}

func (d *Decider) consentsOf(person string) []grant {
	d.mu.Lock()
	gs, ok := d.consents[person]
	d.mu.Unlock()
	if ok {
		return gs
	}
	if err := d.loadConsents([]string{person}); err != nil {
		// Failing closed: without the consents no consent-gated field is shown.
		d.app.Logger().Error("access: load consents", "person", person, "error", err)
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.consents[person]
}

// recorderKind returns the organisation kind of user id ("" when unknown).
func (d *Decider) recorderKind(userID string) domain.OrgKind {
	if userID == "" {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.userKinds == nil {
		d.userKinds = map[string]domain.OrgKind{}
		var rows []struct {
			ID   string `db:"id"`
			Kind string `db:"kind"`
		}
		// One query for every user: a hub serves hundreds of staff, not millions.
		err := d.app.DB().NewQuery(`SELECT u.id AS id, COALESCE(o.kind, '') AS kind
			FROM users u LEFT JOIN organizations o ON o.id = u.organization`).All(&rows)
		if err != nil {
			d.app.Logger().Error("access: load users' agencies", "error", err)
		}
		for _, r := range rows {
			d.userKinds[r.ID] = domain.OrgKind(r.Kind)
		}
	}
	return d.userKinds[userID]
}

// ownerKind is the kind of agency that owns compartment c of a record.
// Police and victim-service compartments always belong to their own kind
// of agency, whoever typed them in.
func (d *Decider) ownerKind(collection string, fields map[string]any, c domain.Compartment) domain.OrgKind {
	if c == domain.CompPolice || c == domain.CompVictimServices {
		return naturalOwner[c]
	}
	var recorder string
	switch collection {
	case domain.Encounters:
		recorder, _ = fields["recorded_by"].(string)
	case domain.Referrals, domain.Followups:
		recorder, _ = fields["created_by"].(string)
	}
	if k := d.recorderKind(recorder); k != "" {
		return k
	}
	return naturalOwner[c]
}

// personOf returns the id of the person a record is about ("" if none).
func personOf(collection string, fields map[string]any) string {
	switch collection {
	case domain.Persons:
		id, _ := fields["id"].(string)
		return id
	case domain.Encounters, domain.Referrals, domain.Followups, domain.BedHolds, domain.Consents:
		p, _ := fields["person"].(string)
		return p
	}
	return ""
}

// CompartmentVisible reports whether the viewer may see compartment c of the
// record (collection, fields): role ceiling ∩ sharing agreement ∩ consent.
func (d *Decider) CompartmentVisible(collection string, fields map[string]any, c domain.Compartment) bool {
	v := d.viewer
	if c == domain.CompVictimServices {
		// Victim-service locations never leave the agency that runs the site.
		org, _ := fields["organization"].(string)
		return v.OrgID != "" && org == v.OrgID
	}
	if !v.RoleAllows(c) {
		return false
	}
	owner := d.ownerKind(collection, fields, c)
	if owner != v.OrgKind && !d.agreementCovers(owner, c) {
		return false
	}
	if !NeedsConsent(c, owner, v.OrgKind) {
		return true
	}
	person := personOf(collection, fields)
	if person == "" {
		// An anonymous contact has nobody whose consent could be asked; the
		// data is operational and stays inside the agreement.
		return c != domain.CompPart2
	}
	for _, g := range d.consentsOf(person) {
		if g.covers(c, v.OrgKind) {
			return true
		}
	}
	return false
}

func (d *Decider) agreementCovers(owner domain.OrgKind, c domain.Compartment) bool {
	for _, g := range d.agreements {
		if g.owner == string(owner) && contains(g.compartments, string(c)) {
			return true
		}
	}
	return false
}

// MayQuery reports whether the viewer may filter or sort collection on
// field. A filter is evaluated before redaction, so it may only touch
// fields the viewer would see on every record: compartments that depend on
// a per-record consent, or that the role never sees, are refused.
func (d *Decider) MayQuery(collection, field string) bool {
	c, ok := FieldCompartments[collection][field]
	if !ok {
		return true
	}
	v := d.viewer
	if c == domain.CompVictimServices || !v.RoleAllows(c) {
		return false
	}
	owner := naturalOwner[c]
	if NeedsConsent(c, owner, v.OrgKind) {
		return false
	}
	return owner == v.OrgKind || d.agreementCovers(owner, c)
}

// governedFields is FieldCompartments as lists sorted by field name:
// HiddenFields runs for every record a pull sends, and walking a short
// slice is cheaper than ranging over a map; the sorted order also makes
// the names it returns (and the audit details built from them) stable.
var governedFields = func() map[string][]governedField {
	out := make(map[string][]governedField, len(FieldCompartments))
	for coll, comps := range FieldCompartments {
		list := make([]governedField, 0, len(comps))
		for name, c := range comps {
			list = append(list, governedField{name, c})
		}
		slices.SortFunc(list, func(a, b governedField) int { return strings.Compare(a.name, b.name) })
		out[coll] = list
	}
	return out
}()

type governedField struct {
	name string
	comp domain.Compartment
}

// HiddenFields returns the fields of a record in collection that the viewer
// must not receive, sorted by name. fields is the record's field values (as
// stored).
func (d *Decider) HiddenFields(collection string, fields map[string]any) []string {
	governed := governedFields[collection]
	if len(governed) == 0 {
		return nil
	}
	if collection == domain.Shelters {
		if confidential, _ := fields["confidential_location"].(bool); !confidential {
			return nil
		}
	}
	var hidden []string
	for _, f := range governed {
		if !d.CompartmentVisible(collection, fields, f.comp) {
			hidden = append(hidden, f.name)
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
// hold ids. A person is visible to a team member only when the person's
// identity compartment is: when consent to share it with the viewer's kind
// of agency ends, the whole person record leaves the viewer.
func (d *Decider) Visible(collection string, fields map[string]any) bool {
	v := d.viewer
	switch collection {
	case domain.Persons:
		if !v.Role.IsFieldRole() {
			return false
		}
		for _, t := range toStrings(fields["teams"]) {
			if v.InTeam(t) {
				return d.CompartmentVisible(collection, fields, domain.CompIdentity)
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseTime reads a PocketBase datetime as stored ("" is the zero time).
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02 15:04:05.000Z", "2006-01-02 15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
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
		// Multi-relations and multi-selects read straight from SQLite are
		// JSON arrays; ids and enumeration values never need escaping, so
		// the common case is split without a JSON decoder.
		if strings.HasPrefix(s, "[") && !strings.Contains(s, `\`) {
			inner := strings.TrimSpace(s[1 : len(s)-1])
			if inner == "" {
				return nil
			}
			parts := strings.Split(inner, ",")
			out := make([]string, 0, len(parts))
			for _, p := range parts {
				p = strings.TrimSpace(p)
				if len(p) < 2 || p[0] != '"' || p[len(p)-1] != '"' {
					out = nil
					break
				}
				out = append(out, p[1:len(p)-1])
			}
			if out != nil {
				return out
			}
		}
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
