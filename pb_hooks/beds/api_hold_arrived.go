package beds

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// holdArrived answers POST /api/beds/v1/programs/{id}/holds/{hold}/arrived:
// the guest came, the held bed becomes an occupied one.
func holdArrived(e *core.RequestEvent) error {
	return holdOutcome(e, domain.HoldArrived, "hold_arrived", "")
}

// holdOutcome records what became of a granted hold, for the arrived and
// no-show endpoints. Repeating the same call answers the same result.
func holdOutcome(e *core.RequestEvent, status, action, reason string) error {
	p, err := authenticate(e)
	if err != nil {
		return fail(e, err)
	}
	var out map[string]any
	err = e.App.RunInTransaction(func(tx core.App) error {
		program, err := loadManagedProgram(tx, p, e.Request.PathValue("id"))
		if err != nil {
			return err
		}
		hold, err := tx.FindRecordById(domain.BedHolds, e.Request.PathValue("hold"))
		if err != nil || hold.GetString("program") != program.Id {
			return ruleErr(http.StatusNotFound, CodeNotFound, "This programme has no hold with this id.", map[string]any{"hold": e.Request.PathValue("hold")})
		}
		if hold.GetString("status") != status {
			hold.Set("status", status)
			if reason != "" {
				hold.Set("reason", reason)
			}
			if err := tx.SaveWithContext(WithActor(e.Request.Context(), p.Label), hold); err != nil {
				return err
			}
			kind := action
			if p.Kind == KindAgencyToken {
				kind = "token_use"
			}
			if err := appendAudit(tx, p.event(kind, domain.BedHolds, hold.Id, []string{"status", "reason"},
				map[string]any{"endpoint": "POST " + e.Request.URL.Path, "status": status, "program": program.Id})); err != nil {
				return err
			}
			if program, err = tx.FindRecordById(domain.BedPrograms, program.Id); err != nil {
				return err
			}
		}
		view, err := programView(tx, program, timeNow())
		if err != nil {
			return err
		}
		out = map[string]any{
			"hold":    map[string]any{"id": hold.Id, "status": hold.GetString("status"), "reason": hold.GetString("reason")},
			"program": view,
		}
		return nil
	})
	if err != nil {
		return fail(e, err)
	}
	return e.JSON(http.StatusOK, out)
}

func appendAudit(tx core.App, ev audit.Event) error { return audit.Append(tx, ev) }
