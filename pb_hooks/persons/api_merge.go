package persons

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// maxPersonTeams is persons.teams' MaxSelect in the schema.
const maxPersonTeams = 50

// MergeRequest is the body of POST /api/tandem/persons/merge: either a
// pair (match), optionally with the direction (from or into), or two
// persons (from and into).
type MergeRequest struct {
	Match string `json:"match,omitempty"`
	From  string `json:"from,omitempty"`
	Into  string `json:"into,omitempty"`
}

// MergeResult is the answer of a merge.
type MergeResult struct {
	Match      string         `json:"match"`
	Status     string         `json:"status"`
	From       string         `json:"from"`
	Into       string         `json:"into"`
	Moved      map[string]int `json:"moved"`       // records re-pointed, per collection
	AddedTeams []string       `json:"added_teams"` // teams that now see into
}

// mergeRoute answers POST /api/tandem/persons/merge. Without a direction,
// the newer record is merged into the older one, which usually holds more
// history.
func mergeRoute(e *core.RequestEvent) error {
	return leadRoute(e, nil, merge)
}

// leadRoute is the shape of the lead-only person routes: authorize the
// caller, decode the body into Req, check it, run do in one transaction
// and answer with its result or its refusal.
func leadRoute[Req, Res any](e *core.RequestEvent, check func(Req) error, do func(core.App, *core.RequestEvent, Req) (Res, error)) error {
	if _, err := authorize(e); err != nil {
		return answer(e, err)
	}
	var req Req
	if err := decodeBody(e, &req); err != nil {
		return answer(e, err)
	}
	if check != nil {
		if err := check(req); err != nil {
			return answer(e, err)
		}
	}
	var res Res
	err := e.App.RunInTransaction(func(tx core.App) error {
		var err error
		res, err = do(tx, e, req)
		return err
	})
	if err != nil {
		return answer(e, err)
	}
	return e.JSON(http.StatusOK, res)
}

func findPerson(tx core.App, id, role string) (*core.Record, error) {
	p, err := tx.FindRecordById(domain.Persons, id)
	if err != nil {
		return nil, refuse(http.StatusNotFound, CodePersonNotFound,
			fmt.Sprintf("No person with id %q (the %s person).", id, role), map[string]any{role: id})
	}
	return p, nil
}

// resolveMerge finds the pair and the direction of a merge request.
func resolveMerge(tx core.App, req MergeRequest) (match, from, into *core.Record, err error) {
	if req.Match == "" {
		if req.From == "" || req.Into == "" {
			return nil, nil, nil, refuse(http.StatusBadRequest, CodeBadRequest,
				"Send either match (a possible-duplicate pair), or both from and into (two person ids).", nil)
		}
		if req.From == req.Into {
			return nil, nil, nil, refuse(http.StatusBadRequest, CodeSamePerson, "from and into are the same person.", nil)
		}
		if from, err = findPerson(tx, req.From, "from"); err != nil {
			return nil, nil, nil, err
		}
		if into, err = findPerson(tx, req.Into, "into"); err != nil {
			return nil, nil, nil, err
		}
		match, err = findPair(tx, from.Id, into.Id)
		return match, from, into, err
	}
	match, err = tx.FindRecordById(Collection, req.Match)
	if err != nil {
		return nil, nil, nil, refuse(http.StatusNotFound, CodeMatchNotFound,
			fmt.Sprintf("No possible-duplicate pair with id %q.", req.Match), map[string]any{"match": req.Match})
	}
	a, b := match.GetString("person_a"), match.GetString("person_b")
	pair := []string{a, b}
	fromID, intoID := req.From, req.Into
	for _, id := range []string{fromID, intoID} {
		if id != "" && !slices.Contains(pair, id) {
			return nil, nil, nil, refuse(http.StatusBadRequest, CodeNotInPair,
				fmt.Sprintf("Person %q is not one of this pair's two persons.", id), map[string]any{"person_a": a, "person_b": b})
		}
	}
	other := func(id string) string {
		if id == a {
			return b
		}
		return a
	}
	switch {
	case fromID != "" && intoID != "" && fromID == intoID:
		return nil, nil, nil, refuse(http.StatusBadRequest, CodeSamePerson, "from and into are the same person.", nil)
	case intoID != "" && fromID == "":
		fromID = other(intoID)
	case fromID != "" && intoID == "":
		intoID = other(fromID)
	}
	pa, err := findPerson(tx, a, "person_a")
	if err != nil {
		return nil, nil, nil, err
	}
	pb, err := findPerson(tx, b, "person_b")
	if err != nil {
		return nil, nil, nil, err
	}
	if fromID == "" {
		// The older record keeps the history; on a tie, person_a.
		fromID, intoID = b, a
		if pb.GetDateTime("created").Time().Before(pa.GetDateTime("created").Time()) {
			fromID, intoID = a, b
		}
	}
	if fromID == a {
		return match, pa, pb, nil
	}
	return match, pb, pa, nil
}

func merge(tx core.App, e *core.RequestEvent, req MergeRequest) (MergeResult, error) {
	match, from, into, err := resolveMerge(tx, req)
	if err != nil {
		return MergeResult{}, err
	}
	who, err := authorize(e, from, into)
	if err != nil {
		return MergeResult{}, err
	}
	explicit := req.From != "" || req.Into != ""
	if match != nil {
		switch st := match.GetString("status"); {
		case st == StatusMerged:
			return MergeResult{}, refuse(http.StatusConflict, CodeAlreadyMerged,
				"This pair is merged already. To reverse it, undo the merge.", map[string]any{"match": match.Id})
		case st != StatusOpen && !explicit:
			return MergeResult{}, refuse(http.StatusConflict, CodePairDecided,
				fmt.Sprintf("This pair was decided %q. To merge the two persons anyway, send match with from or into.", st),
				map[string]any{"match": match.Id, "status": st})
		}
	}
	if t := from.GetString("merged_into"); t != "" {
		return MergeResult{}, refuse(http.StatusConflict, CodePersonMerged,
			"The person to merge is already merged into another record; undo that merge first.",
			map[string]any{"from": from.Id, "merged_into": t})
	}
	if t := into.GetString("merged_into"); t != "" {
		return MergeResult{}, refuse(http.StatusConflict, CodeTargetMerged,
			"The record to merge into is itself merged into another record; merge into that record instead.",
			map[string]any{"into": into.Id, "merged_into": t})
	}
	intoTeams := into.GetStringSlice("teams")
	var added []string
	for _, t := range from.GetStringSlice("teams") {
		if !slices.Contains(intoTeams, t) && !slices.Contains(added, t) {
			added = append(added, t)
		}
	}
	if len(intoTeams)+len(added) > maxPersonTeams {
		return MergeResult{}, refuse(http.StatusUnprocessableEntity, CodeTooManyTeams,
			fmt.Sprintf("Merged, this person would be seen by %d teams; a person record allows at most %d.", len(intoTeams)+len(added), maxPersonTeams), nil)
	}

	if match == nil {
		// A lead merging two persons the hub had not paired: record the
		// pair, so the merge can be undone like any other.
		col, err := tx.FindCachedCollectionByNameOrId(Collection)
		if err != nil {
			return MergeResult{}, err
		}
		match = core.NewRecord(col)
		a, b := from.Id, into.Id
		if b < a {
			a, b = b, a
		}
		match.Set("person_a", a)
		match.Set("person_b", b)
		match.Set("score", 0)
		match.Set("reasons", []Reason{{Code: ReasonManual, Message: "Merged by a team lead without a proposal."}})
		match.Set("teams", unionSorted(from.GetStringSlice("teams"), intoTeams))
	}

	moved := map[string][]string{}
	counts := map[string]int{}
	for _, coll := range linked {
		recs, err := tx.FindAllRecords(coll, dbx.HashExp{"person": from.Id})
		if err != nil {
			return MergeResult{}, fmt.Errorf("persons: find %s of %s: %w", coll, from.Id, err)
		}
		ids := make([]string, 0, len(recs))
		for _, r := range recs {
			r.Set("person", into.Id)
			// Only the link changes, to a person that exists: older records
			// that no longer pass today's validation must not block it.
			if err := tx.SaveNoValidate(r); err != nil {
				return MergeResult{}, fmt.Errorf("persons: re-point %s %s: %w", coll, r.Id, err)
			}
			ids = append(ids, r.Id)
		}
		moved[coll] = ids
		counts[coll] = len(ids)
	}
	if len(added) > 0 {
		into.Set("teams", append(intoTeams, added...))
		if err := tx.Save(into); err != nil {
			return MergeResult{}, fmt.Errorf("persons: add teams to %s: %w", into.Id, err)
		}
	}
	from.Set("merged_into", into.Id)
	if err := tx.Save(from); err != nil {
		return MergeResult{}, fmt.Errorf("persons: link %s: %w", from.Id, err)
	}

	at := now()
	match.Set("status", StatusMerged)
	match.Set("merged_from", from.Id)
	match.Set("merged_into", into.Id)
	match.Set("moved", moved)
	match.Set("added_teams", nonNil(added))
	match.Set("decided_at", at)
	match.Set("decided_by", "")
	if who.user {
		match.Set("decided_by", who.id)
	}
	match.Set("undone_by", "")
	match.Set("undone_at", "")
	match.Set("teams", unionSorted(match.GetStringSlice("teams"), append(intoTeams, added...)))
	if err := tx.Save(match); err != nil {
		return MergeResult{}, fmt.Errorf("persons: save pair: %w", err)
	}
	err = audit.Append(tx, audit.Event{
		Actor: who.id, ActorKind: who.kind, Device: who.device, Action: "merge",
		Collection: domain.Persons, RecordID: from.Id, Fields: []string{"merged_into"}, At: at,
		Details: map[string]any{"into": into.Id, "match": match.Id, "moved": counts, "added_teams": nonNil(added)},
	})
	if err != nil {
		return MergeResult{}, err
	}
	return MergeResult{Match: match.Id, Status: StatusMerged, From: from.Id, Into: into.Id, Moved: counts, AddedTeams: nonNil(added)}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
