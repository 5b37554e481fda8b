package persons

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// UnmergeRequest is the body of POST /api/tandem/persons/unmerge.
type UnmergeRequest struct {
	Match string `json:"match"`
}

// MovedRecord names one record an undo could not put back.
type MovedRecord struct {
	Collection string `json:"collection"`
	ID         string `json:"id"`
	Person     string `json:"person,omitempty"`
}

// UnmergeResult is the answer of an undo.
type UnmergeResult struct {
	Match    string         `json:"match"`
	Status   string         `json:"status"`
	From     string         `json:"from"`
	Into     string         `json:"into"`
	Restored map[string]int `json:"restored"` // records pointed back at from, per collection
	// Deleted are records the merge moved that were deleted since: there
	// is nothing to put back.
	Deleted []MovedRecord `json:"deleted"`
	// KeptTeams are teams the merge added to into that stay, because they
	// recorded something about into after the merge.
	KeptTeams []string `json:"kept_teams"`
}

// unmergeRoute answers POST /api/tandem/persons/unmerge.
func unmergeRoute(e *core.RequestEvent) error {
	return leadRoute(e, func(req UnmergeRequest) error {
		if req.Match == "" {
			return refuse(http.StatusBadRequest, CodeBadRequest, "Send match: the id of the merged pair to undo.", nil)
		}
		return nil
	}, unmerge)
}

func unmerge(tx core.App, e *core.RequestEvent, req UnmergeRequest) (UnmergeResult, error) {
	match, err := tx.FindRecordById(Collection, req.Match)
	if err != nil {
		return UnmergeResult{}, refuse(http.StatusNotFound, CodeMatchNotFound,
			fmt.Sprintf("No possible-duplicate pair with id %q.", req.Match), map[string]any{"match": req.Match})
	}
	fromID, intoID := match.GetString("merged_from"), match.GetString("merged_into")
	if match.GetString("status") != StatusMerged || fromID == "" || intoID == "" {
		return UnmergeResult{}, refuse(http.StatusConflict, CodeNotMerged,
			fmt.Sprintf("This pair is %s, not merged: there is nothing to undo.", match.GetString("status")),
			map[string]any{"match": match.Id, "status": match.GetString("status")})
	}
	from, err := findPerson(tx, fromID, "from")
	if err != nil {
		return UnmergeResult{}, err
	}
	into, err := findPerson(tx, intoID, "into")
	if err != nil {
		return UnmergeResult{}, err
	}
	who, err := authorize(e, from, into)
	if err != nil {
		return UnmergeResult{}, err
	}

	// Refuse when later changes would make putting things back unsafe.
	if from.GetString("merged_into") != into.Id {
		return UnmergeResult{}, refuse(http.StatusConflict, CodeMergeChanged,
			"The merged record no longer points at the record it was merged into; someone changed the link since. Review the two persons by hand.",
			map[string]any{"from": from.Id, "into": into.Id, "merged_into_now": from.GetString("merged_into")})
	}
	if t := into.GetString("merged_into"); t != "" {
		return UnmergeResult{}, refuse(http.StatusConflict, CodeMergeSuperseded,
			"The record this pair was merged into has since been merged into another record. Undo that later merge first.",
			map[string]any{"into": into.Id, "merged_into_now": t})
	}
	var moved map[string][]string
	if err := json.Unmarshal([]byte(match.GetString("moved")), &moved); err != nil {
		return UnmergeResult{}, fmt.Errorf("persons: read moved records of %s: %w", match.Id, err)
	}
	type back struct {
		coll string
		rec  *core.Record
	}
	var restore []back
	var deleted, elsewhere []MovedRecord
	for _, coll := range linked {
		for _, id := range moved[coll] {
			r, err := tx.FindRecordById(coll, id)
			if errors.Is(err, sql.ErrNoRows) {
				deleted = append(deleted, MovedRecord{Collection: coll, ID: id})
				continue
			}
			if err != nil {
				return UnmergeResult{}, err
			}
			switch p := r.GetString("person"); p {
			case into.Id:
				restore = append(restore, back{coll, r})
			case from.Id:
				// already back (a device re-linked it): nothing to do
			default:
				elsewhere = append(elsewhere, MovedRecord{Collection: coll, ID: id, Person: p})
			}
		}
	}
	if len(elsewhere) > 0 {
		return UnmergeResult{}, refuse(http.StatusConflict, CodeRecordsMovedSince,
			fmt.Sprintf("%d record(s) the merge moved now point at a third person; putting them back would undo someone's later correction. Fix them by hand, then undo.", len(elsewhere)),
			map[string]any{"records": elsewhere})
	}

	restored := map[string]int{}
	for _, b := range restore {
		b.rec.Set("person", from.Id)
		if err := tx.SaveNoValidate(b.rec); err != nil {
			return UnmergeResult{}, fmt.Errorf("persons: restore %s %s: %w", b.coll, b.rec.Id, err)
		}
		restored[b.coll]++
	}
	for _, coll := range linked {
		if _, ok := restored[coll]; !ok {
			restored[coll] = 0
		}
	}

	// Remove the teams the merge added, unless a team has recorded
	// something about into since: it would lose sight of its own record.
	var added []string
	_ = json.Unmarshal([]byte(match.GetString("added_teams")), &added)
	kept := []string{}
	teams := into.GetStringSlice("teams")
	for _, t := range added {
		uses, err := teamUsesPerson(tx, t, into.Id)
		if err != nil {
			return UnmergeResult{}, err
		}
		if uses {
			if slices.Contains(teams, t) {
				kept = append(kept, t)
			}
			continue
		}
		teams = slices.DeleteFunc(teams, func(s string) bool { return s == t })
	}
	if len(teams) == 0 {
		// persons.teams is required: never leave a record no team can see.
		teams = into.GetStringSlice("teams")
	}
	if !slices.Equal(teams, into.GetStringSlice("teams")) {
		into.Set("teams", teams)
		if err := tx.Save(into); err != nil {
			return UnmergeResult{}, fmt.Errorf("persons: remove teams from %s: %w", into.Id, err)
		}
	}
	from.Set("merged_into", "")
	if err := tx.Save(from); err != nil {
		return UnmergeResult{}, fmt.Errorf("persons: unlink %s: %w", from.Id, err)
	}

	at := now()
	match.Set("status", StatusUndone)
	match.Set("undone_at", at)
	match.Set("undone_by", "")
	if who.user {
		match.Set("undone_by", who.id)
	}
	if err := tx.Save(match); err != nil {
		return UnmergeResult{}, fmt.Errorf("persons: save pair: %w", err)
	}
	err = audit.Append(tx, audit.Event{
		Actor: who.id, ActorKind: who.kind, Device: who.device, Action: "unmerge",
		Collection: domain.Persons, RecordID: from.Id, Fields: []string{"merged_into"}, At: at,
		Details: map[string]any{"into": into.Id, "match": match.Id, "restored": restored, "deleted_since": len(deleted), "kept_teams": kept},
	})
	if err != nil {
		return UnmergeResult{}, err
	}
	if deleted == nil {
		deleted = []MovedRecord{}
	}
	return UnmergeResult{Match: match.Id, Status: StatusUndone, From: from.Id, Into: into.Id,
		Restored: restored, Deleted: deleted, KeptTeams: kept}, nil
}

// teamUsesPerson reports whether team holds any record about person.
func teamUsesPerson(tx core.App, team, person string) (bool, error) {
	for _, coll := range linked {
		var n int
		err := tx.DB().NewQuery(fmt.Sprintf(`SELECT COUNT(*) FROM [[%s]] WHERE person = {:p} AND team = {:t}`, coll)).
			Bind(dbx.Params{"p": person, "t": team}).Row(&n)
		if err != nil {
			return false, fmt.Errorf("persons: %s of team %s: %w", coll, team, err)
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}
