package beds

import (
	"net/http"
	"slices"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// CountsUpdate is the body of PATCH /api/beds/v1/programs/{id}/counts. Only
// the fields sent change.
type CountsUpdate struct {
	TotalBeds    *int    `json:"total_beds"`
	Occupied     *int    `json:"occupied"`
	OutOfService *int    `json:"out_of_service"`
	Accepting    *bool   `json:"accepting"`
	Status       *string `json:"status"`
	HoldMinutes  *int    `json:"hold_minutes"`
	// Force confirms a capacity cut below the beds already held: the newest
	// holds are cancelled, with the reason, instead of the cut being refused.
	Force bool `json:"force"`
}

// updateCounts answers PATCH /api/beds/v1/programs/{id}/counts.
func updateCounts(e *core.RequestEvent) error {
	p, err := authenticate(e)
	if err != nil {
		return fail(e, err)
	}
	var body CountsUpdate
	if err := decodeBody(e, &body); err != nil {
		return fail(e, err)
	}
	if q := e.Request.URL.Query().Get("force"); q == "true" || q == "1" {
		body.Force = true
	}
	set := map[string]any{}
	for name, v := range map[string]*int{"total_beds": body.TotalBeds, "occupied": body.Occupied, "out_of_service": body.OutOfService, "hold_minutes": body.HoldMinutes} {
		if v == nil {
			continue
		}
		if *v < 0 || *v > 100000 || (name == "hold_minutes" && *v > 1440) {
			return fail(e, unprocessable(CodeCountsInvalid, "Counts are whole numbers from 0 up; hold_minutes is at most 1440 (a day).", map[string]any{"field": name, "value": *v}))
		}
		set[name] = *v
	}
	if body.Accepting != nil {
		set["accepting"] = *body.Accepting
	}
	if body.Status != nil {
		if !slices.Contains([]string{ProgramOpen, ProgramClosed}, *body.Status) {
			return fail(e, unprocessable(CodeCountsInvalid, `status is "open" or "closed".`, map[string]any{"field": "status", "value": *body.Status}))
		}
		set["status"] = *body.Status
	}
	if len(set) == 0 {
		return fail(e, ruleErr(http.StatusBadRequest, CodeBadRequest, "Send at least one of total_beds, occupied, out_of_service, accepting, status or hold_minutes.", nil))
	}

	var view ProgramView
	err = e.App.RunInTransaction(func(tx core.App) error {
		program, err := loadManagedProgram(tx, p, e.Request.PathValue("id"))
		if err != nil {
			return err
		}
		before := map[string]any{}
		fields := make([]string, 0, len(set))
		for k, v := range set {
			before[k] = program.Get(k)
			program.Set(k, v)
			fields = append(fields, k)
		}
		slices.Sort(fields)
		heldBefore := program.GetInt("active_holds")
		ctx := WithActor(e.Request.Context(), p.Label)
		if body.Force {
			ctx = WithForceCut(ctx)
		}
		if err := tx.SaveWithContext(ctx, program); err != nil {
			return err
		}
		action := "counts_update"
		if p.Kind == KindAgencyToken {
			action = "token_use"
		}
		if err := appendAudit(tx, p.event(action, domain.BedPrograms, program.Id, fields, map[string]any{
			"endpoint": "PATCH " + APIPrefix + "/programs/{id}/counts", "before": before, "after": set, "force": body.Force,
			"holds_released": max(0, heldBefore-program.GetInt("active_holds")),
		})); err != nil {
			return err
		}
		view, err = programView(tx, program, timeNow())
		return err
	})
	if err != nil {
		return fail(e, err)
	}
	return e.JSON(http.StatusOK, view)
}
