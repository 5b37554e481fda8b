package persons

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// matchFields are the person fields whose change can make or unmake a
// duplicate; other edits (photo, teams) do not trigger a check.
var matchFields = []string{"display_name", "aliases", "birth_year", "hmis_id"}

// registerProposalHooks checks persons written through the records API (and
// the dashboard, and /api/batch) as soon as the write has committed.
func registerProposalHooks(app core.App) {
	check := func(e *core.RecordRequestEvent) error {
		// Captured before Next: the privacy audit hook swaps e.App for its
		// transaction, which has ended by the time Next returns. In a batch,
		// this is the batch's own transaction, still open.
		outer := e.App
		isNew := e.Record.IsNew()
		changed := isNew
		if !isNew {
			if orig := e.Record.Original(); orig != nil {
				for _, f := range matchFields {
					if fmt.Sprint(orig.Get(f)) != fmt.Sprint(e.Record.Get(f)) {
						changed = true
					}
				}
			}
		}
		if err := e.Next(); err != nil || !changed {
			return err
		}
		// A failed proposal must not fail the worker's save: the scan job
		// will try again from the change feed.
		if _, err := Propose(outer, e.Record.Id); err != nil {
			outer.Logger().Error("possible-duplicate check failed", "person", e.Record.Id, "error", err)
		}
		return nil
	}
	// Lowest priority runs first, so this handler wraps the others and
	// proposes after the person is saved.
	app.OnRecordCreateRequest(domain.Persons).Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "tandem_persons_propose_create", Priority: -100, Func: check})
	app.OnRecordUpdateRequest(domain.Persons).Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "tandem_persons_propose_update", Priority: -100, Func: check})
}

// loadProfiles reads every person that has not been merged into another.
func loadProfiles(app core.App) ([]Profile, error) {
	return queryProfiles(app, "", nil)
}

// loadProfilesWhere reads the unmerged persons among ids.
func loadProfilesWhere(app core.App, ids []string) (map[string]Profile, error) {
	raw, _ := json.Marshal(ids)
	list, err := queryProfiles(app, ` AND id IN (SELECT value FROM json_each({:ids}))`, dbx.Params{"ids": string(raw)})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Profile, len(list))
	for _, p := range list {
		out[p.ID] = p
	}
	return out, nil
}

func queryProfiles(app core.App, where string, params dbx.Params) ([]Profile, error) {
	var rows []struct {
		ID          string `db:"id"`
		DisplayName string `db:"display_name"`
		Aliases     string `db:"aliases"`
		BirthYear   int    `db:"birth_year"`
		HMISID      string `db:"hmis_id"`
		Teams       string `db:"teams"`
		Created     string `db:"created"`
	}
	q := app.DB().NewQuery(`SELECT id, COALESCE(display_name, '') AS display_name,
			COALESCE(CAST(aliases AS TEXT), '') AS aliases, CAST(COALESCE(birth_year, 0) AS INTEGER) AS birth_year,
			COALESCE(hmis_id, '') AS hmis_id, COALESCE(CAST(teams AS TEXT), '[]') AS teams, COALESCE(created, '') AS created
		FROM persons WHERE COALESCE(merged_into, '') = ''` + where)
	if params != nil {
		q = q.Bind(params)
	}
	if err := q.All(&rows); err != nil {
		return nil, fmt.Errorf("persons: load profiles: %w", err)
	}
	out := make([]Profile, 0, len(rows))
	for _, r := range rows {
		out = append(out, NewProfile(r.ID, r.DisplayName, r.Aliases, r.BirthYear, r.HMISID, idList(r.Teams), r.Created))
	}
	return out, nil
}

// idList reads a relation stored as a JSON array (or a bare id).
func idList(raw string) []string {
	var ids []string
	if err := json.Unmarshal([]byte(raw), &ids); err == nil {
		return ids
	}
	if s := strings.Trim(strings.TrimSpace(raw), `"`); s != "" && s != "[]" {
		return []string{s}
	}
	return nil
}

// Propose checks the given persons against every person not merged and
// opens a pair for each likely duplicate that has no pair yet. It returns
// how many pairs it opened.
func Propose(app core.App, personIDs ...string) (int, error) {
	if len(personIDs) == 0 {
		return 0, nil
	}
	profiles, m, err := current(app)
	if err != nil {
		return 0, err
	}
	return proposeWith(app, m, profiles, personIDs)
}

func proposeWith(app core.App, m *Matcher, profiles []Profile, personIDs []string) (int, error) {
	byID := make(map[string]int, len(profiles))
	for i, p := range profiles {
		byID[p.ID] = i
	}
	opened := 0
	for _, id := range personIDs {
		i, ok := byID[id]
		if !ok {
			continue // merged into someone, or deleted: nothing to propose
		}
		for _, c := range m.Find(profiles[i]) {
			ok, err := openPair(app, profiles[i], c)
			if err != nil {
				return opened, err
			}
			if ok {
				opened++
			}
		}
	}
	return opened, nil
}

// openPair records a proposed pair unless the pair already exists in any
// status. An open pair is refreshed with the latest evidence.
func openPair(app core.App, subject Profile, c Candidate) (bool, error) {
	a, b := subject, c.Other
	if b.ID < a.ID {
		a, b = b, a
	}
	reasons := c.Reasons
	if a.ID != subject.ID {
		reasons = swapSides(reasons)
	}
	teams := unionSorted(a.Teams, b.Teams)
	existing, err := findPair(app, a.ID, b.ID)
	if err != nil {
		return false, err
	}
	if existing != nil {
		if existing.GetString("status") != StatusOpen {
			return false, nil // decided: never proposed again
		}
		teams = unionSorted(existing.GetStringSlice("teams"), teams)
		if existing.GetFloat("score") == c.Score && slices.Equal(existing.GetStringSlice("teams"), teams) {
			return false, nil
		}
		existing.Set("score", c.Score)
		existing.Set("reasons", reasons)
		existing.Set("teams", teams)
		return false, app.Save(existing)
	}
	col, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return false, err
	}
	rec := core.NewRecord(col)
	rec.Set("person_a", a.ID)
	rec.Set("person_b", b.ID)
	rec.Set("score", c.Score)
	rec.Set("reasons", reasons)
	rec.Set("status", StatusOpen)
	rec.Set("teams", teams)
	if err := app.Save(rec); err != nil {
		if strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "validation_not_unique") {
			return false, nil // proposed at the same moment by the scan job
		}
		return false, fmt.Errorf("persons: open pair %s/%s: %w", a.ID, b.ID, err)
	}
	return true, nil
}

// findPair returns the pair record of a and b (either order), or nil.
func findPair(app core.App, a, b string) (*core.Record, error) {
	if b < a {
		a, b = b, a
	}
	rec, err := app.FindFirstRecordByFilter(Collection, "person_a = {:a} && person_b = {:b}", dbx.Params{"a": a, "b": b})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

func swapSides(in []Reason) []Reason {
	out := make([]Reason, len(in))
	for i, r := range in {
		r.FieldA, r.FieldB = r.FieldB, r.FieldA
		out[i] = r
	}
	return out
}

func unionSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	for _, s := range append(append([]string{}, a...), b...) {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// scanPage is how many changed persons the scan reads from the feed at once.
const scanPage = 1000

var scanMu sync.Mutex

// Scan reads the change feed from where the last scan stopped and checks
// every person written since (by sync pushes, the API, imports or
// anything else), opening pairs for likely duplicates. It returns how many
// persons it checked and how many pairs it opened. The feed's sequence is
// server-assigned and commits in order, so no write is skipped, whatever the
// devices' clocks say.
func Scan(app core.App) (checked, opened int, err error) {
	scanMu.Lock()
	defer scanMu.Unlock()
	if _, err := app.DB().NewQuery(`INSERT OR IGNORE INTO person_match_scan (id, seq) VALUES (1, 0)`).Execute(); err != nil {
		return 0, 0, fmt.Errorf("persons: scan position: %w", err)
	}
	var pos int64
	if err := app.DB().NewQuery(`SELECT seq FROM person_match_scan WHERE id = 1`).Row(&pos); err != nil {
		return 0, 0, fmt.Errorf("persons: scan position: %w", err)
	}
	// Read only up to the feed's head as it was before the profiles are
	// loaded: every person written up to there is in the profiles, and
	// anything later is left for the next scan.
	var head int64
	if err := app.DB().NewQuery(`SELECT COALESCE(MAX(seq), 0) FROM sync_changes`).Row(&head); err != nil {
		return 0, 0, fmt.Errorf("persons: read change feed head: %w", err)
	}
	var m *Matcher
	var profiles []Profile
	for {
		var rows []struct {
			Seq      int64  `db:"seq"`
			RecordID string `db:"record_id"`
		}
		err := app.DB().NewQuery(`SELECT seq, record_id FROM sync_changes
			WHERE seq > {:pos} AND seq <= {:head} AND collection = 'persons' AND op = 'upsert' ORDER BY seq LIMIT {:n}`).
			Bind(dbx.Params{"pos": pos, "head": head, "n": scanPage}).All(&rows)
		if err != nil {
			return checked, opened, fmt.Errorf("persons: read change feed: %w", err)
		}
		if len(rows) == 0 {
			if pos < head {
				// Nothing about persons up to head: remember that too.
				_, err := app.DB().NewQuery(`UPDATE person_match_scan SET seq = {:pos} WHERE id = 1`).
					Bind(dbx.Params{"pos": head}).Execute()
				return checked, opened, err
			}
			return checked, opened, nil
		}
		if m == nil {
			// Loaded once per scan: the pairs opened below do not change
			// any person.
			if profiles, m, err = current(app); err != nil {
				return checked, opened, err
			}
		}
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.RecordID
		}
		n, err := proposeWith(app, m, profiles, ids)
		opened += n
		checked += len(ids)
		if err != nil {
			return checked, opened, err
		}
		pos = rows[len(rows)-1].Seq
		if _, err := app.DB().NewQuery(`UPDATE person_match_scan SET seq = {:pos} WHERE id = 1`).
			Bind(dbx.Params{"pos": pos}).Execute(); err != nil {
			return checked, opened, fmt.Errorf("persons: save scan position: %w", err)
		}
	}
}
