package persons

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"
)

// CodeUseMergeRoute refuses a records API edit that would mark a pair
// merged or undone, or change a merged pair, without moving any record.
const CodeUseMergeRoute = "use_merge_route"

// registerDecisionHook stamps who marked a pair not_duplicate through the
// records API or the dashboard, and when. The collection's update rule has
// already allowed only that one change (migration 1763800400), so the
// values come from the server, never from the body.
func registerDecisionHook(app core.App) {
	app.OnRecordUpdateRequest(Collection).BindFunc(func(e *core.RecordRequestEvent) error {
		was, is := e.Record.Original().GetString("status"), e.Record.GetString("status")
		// Superusers pass API rules; a merge still has to move records.
		if was != is && (is == StatusMerged || is == StatusUndone || was == StatusMerged) {
			return e.JSON(http.StatusBadRequest, map[string]any{"status": http.StatusBadRequest, "code": CodeUseMergeRoute, "data": map[string]any{},
				"message": "Merging and undoing move records and are audited: use POST " + APIPrefix + "/merge or /unmerge instead of editing the pair."})
		}
		if e.Record.GetString("status") == StatusNotDuplicate && e.Record.Original().GetString("status") != StatusNotDuplicate {
			e.Record.Set("decided_at", now())
			e.Record.Set("decided_by", "")
			if e.Auth != nil && !e.Auth.IsSuperuser() {
				e.Record.Set("decided_by", e.Auth.Id)
			}
		}
		return e.Next()
	})
}
