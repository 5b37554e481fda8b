package privacy

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/internal/photos"
)

// guardedFiles are the collections whose files are about people: a file
// URL of theirs is served only to someone who may see the record and the
// file's compartment. (PocketBase serves unprotected file fields to anyone
// holding the URL; these checks close that path.)
var guardedFiles = map[string]bool{
	domain.Persons: true, domain.Encounters: true, domain.Consents: true, photos.Collection: true,
}

// CodeFileNotAvailable is the error code of a refused file download.
const CodeFileNotAvailable = "file_not_available"

func registerFiles(app core.App) {
	app.OnFileDownloadRequest().BindFunc(func(e *core.FileDownloadRequestEvent) error {
		name := e.Collection.Name
		if !guardedFiles[name] {
			return e.Next()
		}
		auth := e.Auth
		if tok := e.Request.URL.Query().Get("token"); tok != "" {
			if r, err := e.App.FindAuthRecordByToken(tok, core.TokenTypeFile); err == nil {
				auth = r
			}
		}
		refuse := func() error {
			return apiError(e.RequestEvent, http.StatusNotFound, CodeFileNotAvailable,
				"The file wasn't found or you may not see it: sign in (or pass a file token) as someone who may see this record and its photos.", nil)
		}
		if auth == nil {
			return refuse()
		}
		if auth.IsSuperuser() {
			return e.Next()
		}
		if ok, err := mayDownload(e.App, auth, e.Record, e.FileField.Name); err != nil {
			return err
		} else if !ok {
			return refuse()
		}
		return e.Next()
	})
}

// mayDownload decides whether auth may fetch the file in field of record.
func mayDownload(app core.App, auth *core.Record, record *core.Record, field string) (bool, error) {
	d, err := DeciderFor(app, auth)
	if err != nil || d == nil {
		return false, err
	}
	name := record.Collection().Name
	if name == photos.Collection {
		return photoVisible(app, d, auth, record)
	}
	fields := fieldsOf(record)
	if !recordVisible(d, name, fields) {
		return false, nil
	}
	c, ok := access.FieldCompartments[name][field]
	if !ok {
		return true, nil
	}
	return d.CompartmentVisible(name, fields, c), nil
}

// recordVisible applies access.Decider.Visible: team scope, role and, for
// persons, consent.
func recordVisible(d *access.Decider, name string, fields map[string]any) bool {
	return d.Visible(name, fields)
}

// photoVisible decides on a separately uploaded photo: its uploader may
// always see it (it may arrive before the record that uses it); anyone else
// must see the record it belongs to and that record's photo compartment.
func photoVisible(app core.App, d *access.Decider, auth *core.Record, photo *core.Record) (bool, error) {
	if photo.GetString("uploaded_by") == auth.Id {
		return true, nil
	}
	ownerColl, ownerID := photo.GetString("owner_collection"), photo.GetString("owner_record")
	owner, err := app.FindRecordById(ownerColl, ownerID)
	if err != nil {
		return false, nil // the record has not arrived yet, or is gone
	}
	fields := fieldsOf(owner)
	if !d.Visible(ownerColl, fields) {
		return false, nil
	}
	return d.CompartmentVisible(ownerColl, fields, domain.CompPhoto), nil
}

// redactPhotoRecord hides the file name of a photo record the viewer may not
// see, so the file URL cannot even be built.
func redactPhotoRecord(app core.App, info *core.RequestInfo, r *core.Record) error {
	if info.Auth == nil || info.Auth.IsSuperuser() {
		return nil
	}
	d, err := DeciderFor(app, info.Auth)
	if err != nil || d == nil {
		return err
	}
	ok, err := photoVisible(app, d, info.Auth, r)
	if err != nil {
		return err
	}
	if !ok {
		r.Hide("file", "width", "height", "bytes")
	}
	return nil
}
