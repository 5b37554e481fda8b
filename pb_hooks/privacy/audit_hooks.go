package privacy

import (
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// Records API and dashboard writes are audited inside their own
// transaction: the request hook opens the transaction and marks the record
// with who is acting; the Execute hook, which runs after the row is written
// and still inside that transaction, appends the audit event. In-process
// saves (the sync engine, which audits its own pushes; migrations; cron)
// carry no mark and are not audited twice.

type actor struct {
	id, kind, device string
}

var writeMarks sync.Map // *core.Record -> actor

// CodeAuditAppendOnly is the error code when someone tries to change the
// audit trail.
const CodeAuditAppendOnly = "audit_append_only"

func registerAuditWrites(app core.App) {
	wrap := func(e *core.RecordRequestEvent) error {
		if e.Collection.Name == domain.AuditEvents {
			return e.Next() // refused by registerAuditImmutable
		}
		id, kind := actorOf(e.RequestEvent)
		writeMarks.Store(e.Record, actor{id: id, kind: kind, device: deviceOf(e.RequestEvent)})
		defer writeMarks.Delete(e.Record)
		return e.App.RunInTransaction(func(tx core.App) error {
			e.App = tx
			return e.Next()
		})
	}
	app.OnRecordCreateRequest().BindFunc(wrap)
	app.OnRecordUpdateRequest().BindFunc(wrap)
	app.OnRecordDeleteRequest().BindFunc(wrap)

	record := func(action string) func(e *core.RecordEvent) error {
		return func(e *core.RecordEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			v, ok := writeMarks.Load(e.Record)
			if !ok {
				return nil
			}
			a := v.(actor)
			return audit.Append(e.App, audit.Event{
				Actor: a.id, ActorKind: a.kind, Device: a.device, Action: action,
				Collection: e.Record.Collection().Name, RecordID: e.Record.Id,
				Fields: touchedFields(action, e.Record),
			})
		}
	}
	app.OnRecordCreateExecute().BindFunc(record("create"))
	app.OnRecordUpdateExecute().BindFunc(record("update"))
	app.OnRecordDeleteExecute().BindFunc(record("delete"))
}

// touchedFields names the fields a write set or changed (never their
// values: the audit trail must not become a copy of the sensitive data).
func touchedFields(action string, r *core.Record) []string {
	if action == "delete" {
		return nil
	}
	var out []string
	orig := r.Original()
	for _, f := range r.Collection().Fields {
		name := f.GetName()
		if name == "id" || name == "created" || name == "updated" || f.GetHidden() {
			continue
		}
		now := r.Get(name)
		if action == "create" {
			if !isEmpty(now) && fmt.Sprint(now) != "0" && fmt.Sprint(now) != "false" && fmt.Sprint(now) != "" {
				out = append(out, name)
			}
			continue
		}
		if fmt.Sprint(orig.Get(name)) != fmt.Sprint(now) {
			out = append(out, name)
		}
	}
	return out
}

// errAuditAppendOnly is returned to any code path that tries to change the
// audit trail through PocketBase.
var errAuditAppendOnly = errors.New("the audit trail is append-only: audit events cannot be created, changed or deleted through the API, the dashboard or app.Save")

func registerAuditImmutable(app core.App) {
	refuseRequest := func(e *core.RecordRequestEvent) error {
		return apiError(e.RequestEvent, http.StatusForbidden, CodeAuditAppendOnly, errAuditAppendOnly.Error(), nil)
	}
	app.OnRecordCreateRequest(domain.AuditEvents).BindFunc(refuseRequest)
	app.OnRecordUpdateRequest(domain.AuditEvents).BindFunc(refuseRequest)
	app.OnRecordDeleteRequest(domain.AuditEvents).BindFunc(refuseRequest)

	// Backstop for every other path (superuser dashboard actions that skip
	// the request hooks, truncation, Go code calling app.Save or app.Delete).
	// audit.Append writes rows directly and is the only way in.
	refuseModel := func(e *core.RecordEvent) error { return errAuditAppendOnly }
	app.OnRecordCreate(domain.AuditEvents).BindFunc(refuseModel)
	app.OnRecordUpdate(domain.AuditEvents).BindFunc(refuseModel)
	app.OnRecordDelete(domain.AuditEvents).BindFunc(refuseModel)

	app.OnCollectionDeleteRequest().BindFunc(func(e *core.CollectionRequestEvent) error {
		if e.Collection.Name == domain.AuditEvents {
			return apiError(e.RequestEvent, http.StatusForbidden, CodeAuditAppendOnly, "the audit trail collection cannot be deleted", nil)
		}
		return e.Next()
	})
	app.OnCollectionUpdateRequest().BindFunc(func(e *core.CollectionRequestEvent) error {
		if e.Collection.Name == domain.AuditEvents {
			return apiError(e.RequestEvent, http.StatusForbidden, CodeAuditAppendOnly, "the audit trail collection's fields and rules are fixed by Tandem's migrations", nil)
		}
		return e.Next()
	})
}
