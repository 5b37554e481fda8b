package beds

import (
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// The records API hooks below only add what a request knows and a model
// hook does not: who is asking. The bed rules themselves are in the model
// hooks, which the sync engine reaches too.

// onHoldCreateRequest makes a repeated create of the same hold id return the
// original decision instead of an error, and sets requested_by to the
// signed-in worker.
func onHoldCreateRequest(e *core.RecordRequestEvent) error {
	if e.Record.Id != "" {
		if existing, err := e.App.FindRecordById(domain.BedHolds, e.Record.Id); err == nil {
			info, err := e.RequestInfo()
			if err != nil {
				return err
			}
			if ok, _ := e.App.CanAccessRecord(existing, info, e.Collection.ViewRule); ok {
				if err := apis.EnrichRecord(e.RequestEvent, existing); err != nil {
					return err
				}
				return e.JSON(200, existing)
			}
		}
	}
	// A worker asks for themselves; requested_by is never someone else.
	if e.Auth != nil && !e.Auth.IsSuperuser() {
		e.Record.Set("requested_by", e.Auth.Id)
	}
	return answerRuleError(e.RequestEvent, e.Next())
}

// onHoldUpdateRequest lets each party make only its own moves.
func onHoldUpdateRequest(e *core.RecordRequestEvent) error {
	if !e.HasSuperuserAuth() {
		if err := AuthorizeHoldUpdate(e.App, e.Auth, e.Record.Original(), e.Record); err != nil {
			return answerRuleError(e.RequestEvent, err)
		}
	}
	return answerRuleError(e.RequestEvent, e.Next())
}

// onProgramUpdateRequest refuses writes to the derived fields and records
// who confirmed the counts.
func onProgramUpdateRequest(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return err
	}
	for _, f := range []string{"active_holds", "available"} {
		if _, ok := info.Body[f]; ok {
			return answerRuleError(e.RequestEvent, unprocessable(CodeServerOwnedField,
				"active_holds and available are worked out by the server from the counts and the holds; send total_beds, occupied or out_of_service instead.",
				map[string]any{"field": f}))
		}
	}
	for _, f := range []string{"total_beds", "occupied", "out_of_service", "accepting"} {
		if _, ok := info.Body[f]; ok && e.Auth != nil {
			e.Record.Set("counts_updated_by", actorLabel(e.Auth))
			break
		}
	}
	return answerRuleError(e.RequestEvent, e.Next())
}

// actorLabel names an auth record for counts_updated_by and messages.
func actorLabel(r *core.Record) string {
	if n := r.GetString("name"); n != "" {
		return n + " <" + r.Email() + ">"
	}
	return r.Email()
}
