package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Possible duplicate persons (FIELD-SCENARIO 1). Two teams meet the same
// person on the same night under different street names; the hub proposes the
// pair, a team lead merges it as a link (persons.merged_into) or says the two
// are different people, and a merge can be undone exactly.
//
//   - person_matches: one row per unordered pair (person_a < person_b), so a
//     pair is proposed once. A pair decided not_duplicate or undone stays, and
//     its existence is what stops it being proposed again.
//   - person_match_scan: the change-feed position the proposal job has read
//     up to (sync pushes bypass record hooks, so a job scans the feed).
//
// Only team leads of a team that has met either person see a pair. Through
// the records API they may only mark an open pair not_duplicate; merging
// and undoing go through /api/tandem/persons/merge and /unmerge, which move
// records and write the audit trail in one transaction. Nobody creates or
// deletes pairs through the API.

const (
	matchLeadRead = `@request.auth.role = "team_lead" && teams.id ?= @request.auth.teams.id`
	// Only status may change, and only from open to not_duplicate; who
	// decided and when are set by the server.
	matchLeadUpdate = matchLeadRead + ` && status = "open" && @request.body.status = "not_duplicate"` +
		` && @request.body.person_a:changed = false && @request.body.person_b:changed = false` +
		` && @request.body.score:changed = false && @request.body.reasons:changed = false` +
		` && @request.body.teams:changed = false && @request.body.merged_from:changed = false` +
		` && @request.body.merged_into:changed = false && @request.body.moved:changed = false` +
		` && @request.body.added_teams:changed = false && @request.body.undone_by:changed = false` +
		` && @request.body.undone_at:changed = false`
)

func init() {
	m.Register(createPersonMatches, dropPersonMatches)
}

func createPersonMatches(app core.App) error {
	persons, err := app.FindCollectionByNameOrId("persons")
	if err != nil {
		return err
	}
	teams, err := app.FindCollectionByNameOrId("teams")
	if err != nil {
		return err
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}

	c := core.NewBaseCollection("person_matches", "tdm_person_matches")
	c.Fields.Add(
		// Cascade: when a person is deleted (retention, a team lead), the
		// question of whether they duplicate someone disappears with them.
		&core.RelationField{Name: "person_a", CollectionId: persons.Id, Required: true, MaxSelect: 1, CascadeDelete: true,
			Help: "One person of the pair (the smaller id)."},
		&core.RelationField{Name: "person_b", CollectionId: persons.Id, Required: true, MaxSelect: 1, CascadeDelete: true,
			Help: "The other person of the pair (the larger id)."},
		&core.NumberField{Name: "score", Min: types.Pointer(0.0), Max: types.Pointer(1.0),
			Help: "How alike the two look, 0 to 1 (1: same HMIS id or same name with a close birth year)."},
		&core.JSONField{Name: "reasons", MaxSize: 1 << 14,
			Help: "Why they look alike: same or similar name or alias, birth year within 2, same HMIS id. Codes only, never the names themselves."},
		&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{"open", "merged", "not_duplicate", "undone"},
			Help: "open: waiting for a team lead. merged: linked. not_duplicate and undone pairs are never proposed again."},
		&core.RelationField{Name: "teams", CollectionId: teams.Id, MaxSelect: 100,
			Help: "Teams that had met either person when the pair was proposed; their team leads review it."},
		&core.RelationField{Name: "merged_from", CollectionId: persons.Id, MaxSelect: 1,
			Help: "Set by a merge: the record that now points at merged_into."},
		&core.RelationField{Name: "merged_into", CollectionId: persons.Id, MaxSelect: 1,
			Help: "Set by a merge: the record everything now shows under."},
		&core.JSONField{Name: "moved", MaxSize: 1 << 22,
			Help: "Set by a merge: ids of the encounters, referrals, follow-ups, consents and bed holds re-pointed, so an undo is exact."},
		&core.JSONField{Name: "added_teams", MaxSize: 1 << 14,
			Help: "Set by a merge: teams added to merged_into, removed again by an undo."},
		&core.RelationField{Name: "decided_by", CollectionId: users.Id, MaxSelect: 1, Help: "Team lead who merged the pair or marked it not a duplicate."},
		&core.DateField{Name: "decided_at", Help: "When the pair was decided (server clock)."},
		&core.RelationField{Name: "undone_by", CollectionId: users.Id, MaxSelect: 1, Help: "Team lead who undid the merge."},
		&core.DateField{Name: "undone_at", Help: "When the merge was undone (server clock)."},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	c.ListRule, c.ViewRule = types.Pointer(matchLeadRead), types.Pointer(matchLeadRead)
	c.UpdateRule = types.Pointer(matchLeadUpdate)
	c.CreateRule, c.DeleteRule = nil, nil
	c.AddIndex("idx_person_matches_pair", true, "person_a, person_b", "")
	c.AddIndex("idx_person_matches_b", false, "person_b", "")
	c.AddIndex("idx_person_matches_status", false, "status", "")
	if err := app.Save(c); err != nil {
		return err
	}
	_, err = app.DB().NewQuery(`CREATE TABLE IF NOT EXISTS person_match_scan (
		id  INTEGER PRIMARY KEY CHECK (id = 1),
		seq INTEGER NOT NULL DEFAULT 0
	)`).Execute()
	return err
}

func dropPersonMatches(app core.App) error {
	if _, err := app.DB().NewQuery(`DROP TABLE IF EXISTS person_match_scan`).Execute(); err != nil {
		return err
	}
	c, err := app.FindCollectionByNameOrId("person_matches")
	if err != nil {
		return nil
	}
	return app.Delete(c)
}
