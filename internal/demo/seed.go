package demo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// seeder writes the tables of data.go inside one transaction.
type seeder struct {
	app core.App
	now time.Time
}

func (s *seeder) save(collection, id string, fields map[string]any) (*core.Record, error) {
	c, err := s.app.FindCachedCollectionByNameOrId(collection)
	if err != nil {
		return nil, err
	}
	r := core.NewRecord(c)
	r.Id = id
	r.Load(fields)
	if c.IsAuth() {
		if pw, ok := fields["password"].(string); ok {
			r.SetPassword(pw)
		}
	}
	if err := s.app.Save(r); err != nil {
		return nil, fmt.Errorf("%s %s: %w", collection, id, err)
	}
	return r, nil
}

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// night returns the evening of day d (0 today, 6 a week ago) at the slot's
// hour: shifts run 19:00-24:00.
func (s *seeder) night(d, slot int) time.Time {
	midnight := s.now.Truncate(24 * time.Hour)
	at := midnight.AddDate(0, 0, -d).Add(time.Duration(19*60+slot*95+d*7) * time.Minute)
	if at.After(s.now) { // tonight's shift has not happened yet: use last night's hour
		at = at.AddDate(0, 0, -1)
	}
	return at
}

func encounterKey(team string, d, slot int) string {
	return "encounter/" + team + "/" + strconv.Itoa(d) + "/" + strconv.Itoa(slot)
}

func (s *seeder) run() error {
	su, err := s.app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	if _, err := s.app.FindAuthRecordByEmail(su, SuperuserEmail); err != nil {
		if _, err := s.save(core.CollectionNameSuperusers, ID("superuser"), map[string]any{"email": SuperuserEmail, "password": SuperuserPassword}); err != nil {
			return err
		}
	}

	for _, o := range orgs {
		if _, err := s.save("organizations", ID("org/"+o.key), map[string]any{"name": o.name, "kind": o.kind, "hmis_org_id": o.hmis}); err != nil {
			return err
		}
	}
	for _, t := range teams {
		if _, err := s.save("teams", ID("team/"+t.key), map[string]any{"name": t.name, "area": t.area, "active": true}); err != nil {
			return err
		}
	}
	for _, p := range people {
		var tms []string
		if p.team != "" {
			tms = []string{ID("team/" + p.team)}
		}
		_, err := s.save("users", ID("user/"+p.key), map[string]any{
			"email": p.email, "password": Password, "verified": true, "emailVisibility": true,
			"name": p.name, "role": p.role, "organization": ID("org/" + p.org), "teams": tms, "phone": p.phone,
		})
		if err != nil {
			return err
		}
	}
	for _, a := range agreements {
		_, err := s.save("sharing_agreements", ID("agreement/"+a.key), map[string]any{
			"name": a.name, "data_owner_kind": a.owner, "recipient_kind": a.recipient,
			"compartments": a.compartments, "purpose": a.purpose, "valid_from": dbTime(s.now.AddDate(0, -10, 0)),
		})
		if err != nil {
			return err
		}
	}
	if err := s.beds(); err != nil {
		return err
	}
	if err := s.clients(); err != nil {
		return err
	}
	if err := s.week(); err != nil {
		return err
	}
	return s.holdsAndConflicts()
}

func (s *seeder) beds() error {
	for _, sh := range shelters {
		_, err := s.save("shelters", ID("shelter/"+sh.key), map[string]any{
			"organization": ID("org/" + sh.org), "name": sh.name, "address": sh.address, "phone": sh.phone,
			"location": types.GeoPoint{Lat: sh.lat, Lon: sh.lon}, "confidential_location": sh.confidential,
		})
		if err != nil {
			return err
		}
	}
	for i, p := range programs {
		_, err := s.save("bed_programs", ID("program/"+p.key), map[string]any{
			"shelter": ID("shelter/" + p.shelter), "name": p.name, "population": p.population,
			"constraints": p.constraints, "total_beds": p.total, "occupied": p.occupied,
			"out_of_service": p.outOfService, "hold_minutes": p.holdMinutes, "accepting": true, "status": "open",
			"counts_updated_at": dbTime(s.now.Add(-time.Duration(7+11*i) * time.Minute)),
			"counts_updated_by": personByKey(p.shelter + ".agent").name,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *seeder) clients() error {
	for _, c := range clients {
		tms := make([]string, len(c.teams))
		for i, t := range c.teams {
			tms[i] = ID("team/" + t)
		}
		aliases := c.aliases
		if aliases == nil {
			aliases = []string{} // the dashboard shows "null" otherwise
		}
		_, err := s.save("persons", UUID("person/"+c.key), map[string]any{
			"display_name": c.name, "name_quality": c.quality, "aliases": aliases,
			"birth_year": c.birthYear, "birth_year_quality": "2", "teams": tms,
		})
		if err != nil {
			return err
		}
	}
	for _, c := range consents {
		_, err := s.save("consents", UUID("consent/"+c.key), map[string]any{
			"person": UUID("person/" + c.person), "team": ID("team/" + c.team), "compartments": c.compartments,
			"recipients": c.recipients, "purpose": c.purpose, "method": c.method, "status": c.status,
			"valid_from": dbTime(s.now.AddDate(0, 0, -6)), "recorded_by": ID("user/" + c.by),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// week records each team's evenings, oldest first, so the change feed and
// the audit trail read in the order the work happened.
func (s *seeder) week() error {
	for d := days - 1; d >= 0; d-- {
		for _, t := range teams {
			visits := script[t.key]
			for slot := 0; slot < perNight; slot++ {
				v := visits[(d*perNight+slot)%len(visits)]
				person := ""
				if v.person != "" {
					person = UUID("person/" + v.person)
				}
				// Spread the places a little so the map is not one dot.
				lat := float64(449500+((d*perNight+slot)%9)*40) / 10000
				lon := float64(-930900+((d*5+slot*3)%11)*30) / 10000
				_, err := s.save("encounters", UUID(encounterKey(t.key, d, slot)), map[string]any{
					"person": person, "team": ID("team/" + t.key), "occurred_at": dbTime(s.night(d, slot)),
					"location": types.GeoPoint{Lat: lat, Lon: lon}, "location_note": v.where,
					"living_situation": v.living, "encounter_type": v.kind, "disposition": v.disposition,
					"needs": v.needs, "services_offered": v.offered, "general_notes": v.notes,
					"clinical_notes": v.clinical, "police_incident_ref": v.police, "recorded_by": ID("user/" + v.by),
				})
				if err != nil {
					return err
				}
			}
		}
	}
	for _, r := range referrals {
		enc := strings.SplitN(r.encounter, "/", 3)
		d, _ := strconv.Atoi(enc[1])
		slot, _ := strconv.Atoi(enc[2])
		fields := map[string]any{
			"person": UUID("person/" + r.person), "team": ID("team/" + r.team),
			"encounter": UUID(encounterKey(enc[0], d, slot)), "event_code": r.event,
			"target_program": r.target, "status": r.status, "result": r.result, "notes": r.notes,
			"created_by": ID("user/" + r.by),
		}
		if r.result != "" {
			fields["result_date"] = dbTime(s.night(d, slot).Add(20 * time.Hour))
		}
		if _, err := s.save("referrals", UUID("referral/"+r.key), fields); err != nil {
			return err
		}
	}
	for _, f := range followups {
		enc := strings.SplitN(f.encounter, "/", 3)
		d, _ := strconv.Atoi(enc[1])
		slot, _ := strconv.Atoi(enc[2])
		fields := map[string]any{
			"person": UUID("person/" + f.person), "team": ID("team/" + f.team),
			"encounter": UUID(encounterKey(enc[0], d, slot)), "status": f.status, "attempts": f.attempts,
			"due_at": dbTime(s.now.Add(time.Duration(f.dueHours) * time.Hour)), "notes": f.notes,
			"created_by": ID("user/" + f.by),
		}
		if f.referral != "" {
			fields["referral"] = UUID("referral/" + f.referral)
		}
		if f.assignee != "" {
			fields["assignee"] = ID("user/" + f.assignee)
		}
		if _, err := s.save("followups", UUID("followup/"+f.key), fields); err != nil {
			return err
		}
	}
	return nil
}

// holdsAndConflicts asks for tonight's beds (the beds hooks decide them, as
// for a tablet) and leaves one conflict for the North team lead to review.
func (s *seeder) holdsAndConflicts() error {
	for _, h := range holds {
		_, err := s.save("bed_holds", UUID("hold/"+h.key), map[string]any{
			"program": ID("program/" + h.program), "person": UUID("person/" + h.person), "team": ID("team/" + h.team),
			"requested_by": ID("user/" + h.by), "requested_at": dbTime(s.now.Add(-5 * time.Minute)), "status": "requested",
		})
		if err != nil {
			return err
		}
	}
	// Two tablets changed follow-up f3's due date offline; the later push
	// won, and the other value waits here for Rosa (North lead).
	won := dbTime(s.now.Add(60 * time.Hour))
	lost := dbTime(s.now.Add(36 * time.Hour))
	_, err := s.save("conflicts", ID("conflict/f3-due"), map[string]any{
		"collection": "followups", "record_id": UUID("followup/f3"), "field": "due_at",
		"base_value": dbTime(s.now.Add(48 * time.Hour)), "device_value": lost, "server_value": won,
		"chosen_value": won, "status": "open", "team": ID("team/north"),
	})
	return err
}
