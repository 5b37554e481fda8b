package server

import (
	"encoding/json"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// bindConflictResolution applies a team lead's decision: when a conflict
// leaves "open" (accepted or overridden, in the dashboard or through the
// records API), its chosen value is written to the record, in the same
// transaction, so it reaches every device through the change feed like any
// other change.
func bindConflictResolution(app core.App) {
	app.OnRecordUpdateRequest(domain.Conflicts).BindFunc(func(e *core.RecordRequestEvent) error {
		if e.Auth != nil && e.Auth.Collection().Name == domain.Users && e.Record.GetString("status") != "open" &&
			e.Record.Original().GetString("status") == "open" {
			e.Record.Set("resolved_by", e.Auth.Id)
		}
		return e.Next()
	})
	app.OnRecordUpdateExecute(domain.Conflicts).BindFunc(func(e *core.RecordEvent) error {
		status := e.Record.GetString("status")
		if status == "open" {
			return e.Next()
		}
		orig := e.Record.Original()
		if orig.GetString("status") == status && string(mustJSON(orig.Get("chosen_value"))) == string(mustJSON(e.Record.Get("chosen_value"))) {
			return e.Next() // nothing decided now
		}
		if e.Record.GetDateTime("resolved_at").IsZero() {
			e.Record.Set("resolved_at", types.NowDateTime())
		}
		if err := e.Next(); err != nil {
			return err
		}
		return applyChosen(e.App, e.Record)
	})
}

// applyChosen writes a conflict's chosen value into its record.
func applyChosen(app core.App, conflict *core.Record) error {
	target, err := app.FindRecordById(conflict.GetString("collection"), conflict.GetString("record_id"))
	if err != nil {
		return nil // the record is gone: nothing to apply
	}
	field := conflict.GetString("field")
	if target.Collection().Fields.GetByName(field) == nil {
		return nil
	}
	var chosen any
	if err := json.Unmarshal(mustJSON(conflict.Get("chosen_value")), &chosen); err != nil {
		return nil
	}
	if string(mustJSON(target.Get(field))) == string(mustJSON(chosen)) {
		return nil
	}
	target.Set(field, chosen)
	return app.Save(target)
}

func mustJSON(v any) []byte {
	if raw, ok := v.(types.JSONRaw); ok {
		if len(raw) == 0 {
			return []byte("null")
		}
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}
