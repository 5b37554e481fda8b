// Package persons finds possible duplicate persons and lets a team lead
// merge them as a link, or undo that merge exactly (FIELD-SCENARIO 1: two
// teams meet "Smokey" on the same night and each records a person).
//
// It is Go compiled into the binary, not a JavaScript pb_hooks file.
//
//   - Proposal: when a person is created, or their name, aliases, birth year
//     or HMIS id change, the hub compares them with every person not already
//     merged, across all teams, and opens a person_matches pair for a team
//     lead. Records API writes are checked at once by a request hook; sync
//     pushes do not pass through request hooks, so a job scans the change
//     feed every two minutes for persons written since its last scan. A pair
//     decided not_duplicate or undone is never proposed again.
//   - Merge (POST /api/tandem/persons/merge): from.merged_into = into, from's
//     teams join into.teams, and every encounter, referral, follow-up,
//     consent and bed hold of from points at into. The ids moved are kept
//     in the pair so the undo is exact. One transaction, one audit event.
//   - Undo (POST /api/tandem/persons/unmerge): puts every moved record back,
//     removes the teams the merge added, clears merged_into and marks the
//     pair undone; refused when later changes make that unsafe.
//
// Every record changed goes through app.Save, so the sync change feed
// carries it to devices.
package persons

import (
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// Collection is the name of the possible-duplicates collection.
const Collection = "person_matches"

// Pair statuses.
const (
	StatusOpen         = "open"
	StatusMerged       = "merged"
	StatusNotDuplicate = "not_duplicate"
	StatusUndone       = "undone"
)

// ScanSchedule is how often the proposal job reads the change feed.
const ScanSchedule = "*/2 * * * *"

// APIPrefix is where the merge and undo routes live.
const APIPrefix = "/api/tandem/persons"

// linked lists the collections whose records are about a person, in the
// order a merge moves them.
var linked = []string{domain.Encounters, domain.Referrals, domain.Followups, domain.Consents, domain.BedHolds}

// Register binds the proposal hooks and job, the decision hook and the
// merge and undo routes to app.
func Register(app core.App) error {
	registerProposalHooks(app)
	registerDecisionHook(app)
	if err := app.Cron().Add("tandem_person_matches", ScanSchedule, func() {
		subjects, opened, err := Scan(app)
		switch {
		case err != nil:
			app.Logger().Error("possible-duplicate scan failed", "error", err)
		case opened > 0:
			app.Logger().Info("possible duplicates proposed", "persons_checked", subjects, "pairs_opened", opened)
		}
	}); err != nil {
		return err
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id: "tandem_persons_routes",
		Func: func(se *core.ServeEvent) error {
			g := se.Router.Group(APIPrefix)
			g.POST("/merge", mergeRoute)
			g.POST("/unmerge", unmergeRoute)
			return se.Next()
		},
	})
	return nil
}
