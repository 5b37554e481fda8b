package privacy

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
)

// CodeCompartmentWriteForbidden is the error code when a user changes a
// field they may not see.
const CodeCompartmentWriteForbidden = "compartment_write_forbidden"

// A user may not change a field they may not see: an officer overwriting a
// clinician's notes would destroy data they cannot even read. Sending a
// hidden field back unchanged (clients that PATCH whole records) is fine.
// On a create only the role ceiling applies: an officer may write down the
// street name they heard, but never clinical notes.
func registerWriteGuard(app core.App) {
	guard := func(e *core.RecordRequestEvent) error {
		comps := access.FieldCompartments[e.Collection.Name]
		if len(comps) == 0 {
			return e.Next()
		}
		d, err := DeciderFor(e.App, e.Auth)
		if err != nil || d == nil {
			if err != nil {
				return err
			}
			return e.Next()
		}
		info, err := e.RequestInfo()
		if err != nil {
			return err
		}
		// Decide on the record as stored (for an update) so a write cannot
		// widen its own access by changing who recorded it.
		base := e.Record
		if orig := e.Record.Original(); orig != nil && !e.Record.IsNew() {
			base = orig
		}
		fields := fieldsOf(base)
		if e.Record.IsNew() {
			fields = fieldsOf(e.Record)
		}
		for key := range info.Body {
			name := strings.TrimRight(strings.TrimLeft(key, "+"), "+-")
			c, ok := comps[name]
			if !ok {
				continue
			}
			// A create discloses nothing the writer does not already know, so
			// only the role ceiling applies (the sync push does the same).
			if e.Record.IsNew() && d.Viewer().RoleAllows(c) {
				continue
			}
			if !e.Record.IsNew() && d.CompartmentVisible(e.Collection.Name, fields, c) {
				continue
			}
			var was any
			if !e.Record.IsNew() {
				was = e.Record.Original().Get(name)
			}
			if fmt.Sprint(was) == fmt.Sprint(e.Record.Get(name)) || (isEmpty(was) && isEmpty(e.Record.Get(name))) {
				continue
			}
			return apiError(e.RequestEvent, http.StatusForbidden, CodeCompartmentWriteForbidden,
				fmt.Sprintf("You may not write %s: it belongs to the %s compartment, which your role, agency or the person's consent does not open to you.", name, c),
				map[string]any{"field": name})
		}
		return e.Next()
	}
	app.OnRecordCreateRequest().BindFunc(guard)
	app.OnRecordUpdateRequest().BindFunc(guard)
}
