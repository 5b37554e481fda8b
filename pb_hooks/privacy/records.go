package privacy

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/photos"
)

// consentGated are the collections where the person's consent can make a
// whole record invisible on top of the API rules (see access.Decider.Visible).
var consentGated = map[string]bool{domain.Persons: true}

func registerRecordReads(app core.App) {
	// Enrich runs for every record the records API returns: list and view
	// items, expanded relations (at any depth), batch results and realtime
	// events. Hiding here covers all of them.
	app.OnRecordEnrich().BindFunc(func(e *core.RecordEnrichEvent) error {
		if e.RequestInfo == nil {
			return e.Next()
		}
		if err := redactForViewer(e.App, e.RequestInfo, e.Record); err != nil {
			return err
		}
		return e.Next()
	})

	// A list drops records the viewer may not see at all, so that a person
	// whose consent ended is not even listed (the API rules alone cannot
	// express consent).
	app.OnRecordsListRequest().BindFunc(func(e *core.RecordsListRequestEvent) error {
		d, err := DeciderFor(e.App, e.Auth)
		if err != nil || d == nil {
			if err != nil {
				return err
			}
			return e.Next()
		}
		name := e.Collection.Name
		rows := make([]map[string]any, len(e.Records))
		for i, r := range e.Records {
			rows[i] = fieldsOf(r)
		}
		if err := d.Preload(name, rows); err != nil {
			return err
		}
		if consentGated[name] {
			kept := e.Records[:0]
			for i, r := range e.Records {
				if d.Visible(name, rows[i]) {
					kept = append(kept, r)
				}
			}
			removed := len(e.Records) - len(kept)
			e.Records = kept
			if e.Result != nil {
				e.Result.Items = kept
				if removed > 0 && e.Result.TotalItems > 0 {
					e.Result.TotalItems -= removed
				}
			}
		}
		return e.Next()
	})

	app.OnRecordViewRequest(domain.Persons).BindFunc(func(e *core.RecordRequestEvent) error {
		d, err := DeciderFor(e.App, e.Auth)
		if err != nil {
			return err
		}
		if d != nil && !d.Visible(e.Collection.Name, fieldsOf(e.Record)) {
			return apiError(e.RequestEvent, http.StatusNotFound, "record_not_visible",
				"The requested resource wasn't found, or the person's consent does not allow your agency to see it.", nil)
		}
		return e.Next()
	})
}

// redactForViewer hides, on one record about to be sent, every field the
// request's user may not see, and audits reads of sensitive compartments.
func redactForViewer(app core.App, info *core.RequestInfo, r *core.Record) error {
	name := r.Collection().Name
	if name == photos.Collection {
		return redactPhotoRecord(app, info, r)
	}
	_, governed := access.FieldCompartments[name]
	if !governed && !consentGated[name] {
		return nil
	}
	d, err := DeciderFor(app, info.Auth)
	if err != nil || d == nil {
		return err
	}
	fields := fieldsOf(r)
	if consentGated[name] && !d.Visible(name, fields) {
		// Reached through expand or realtime: keep only the id, so the
		// link is not broken but nothing about the person leaves.
		hide := make([]string, 0, len(fields))
		for _, f := range r.Collection().Fields.FieldNames() {
			if f != "id" {
				hide = append(hide, f)
			}
		}
		r.Hide(hide...)
		return nil
	}
	hidden := d.HiddenFields(name, fields)
	r.Hide(hidden...)
	if info.Method != http.MethodGet {
		return nil // a write echoing back what the writer sent is not a read
	}
	var sensitive []string
	isHidden := map[string]bool{}
	for _, h := range hidden {
		isHidden[h] = true
	}
	for field, c := range access.FieldCompartments[name] {
		if access.IsSensitive(c) && !isHidden[field] && !isEmpty(r.Get(field)) {
			sensitive = append(sensitive, field)
		}
	}
	if len(sensitive) == 0 {
		return nil
	}
	return audit.Append(app, audit.Event{
		Actor: info.Auth.Id, ActorKind: "user", Device: info.Headers[deviceHeaderKey],
		Action: "read_sensitive", Collection: name, RecordID: r.Id, Fields: sensitive,
		Details: map[string]any{"via": info.Context},
	})
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	}
	return false
}
