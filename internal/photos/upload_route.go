package photos

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// UploadPath is the sync photo upload endpoint (mobile-contract/PHOTOS.md).
const UploadPath = "/api/sync/v1/photos/{id}"

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Upload is the JSON answer of the upload endpoint.
type Upload struct {
	ID         string `json:"id"`
	Collection string `json:"collection"`
	Record     string `json:"record"`
	File       string `json:"file"`
	URL        string `json:"url"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Bytes      int64  `json:"bytes"`
	Replayed   bool   `json:"replayed"`
}

func registerUploadRoute(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.PUT(UploadPath, upload)
		return se.Next()
	})
}

func upload(e *core.RequestEvent) error {
	if e.Auth == nil || e.Auth.Collection().Name != domain.Users {
		return writeError(e, http.StatusUnauthorized, "auth_required", "Sign in as a Tandem user to upload photos.")
	}
	id := e.Request.PathValue("id")
	if !uuidRe.MatchString(id) {
		return writeError(e, http.StatusBadRequest, "invalid_photo_id", "The photo id must be a lowercase hyphenated UUID generated on the device.")
	}
	q := e.Request.URL.Query()
	ownerColl, ownerID := q.Get("collection"), q.Get("record")
	if (ownerColl != domain.Persons && ownerColl != domain.Encounters) || !uuidRe.MatchString(ownerID) {
		return writeError(e, http.StatusBadRequest, "invalid_photo_owner",
			"Say which record the photo belongs to: ?collection=persons|encounters&record=<uuid>.")
	}

	// Replays of the same upload answer with the stored photo.
	if existing, err := e.App.FindRecordById(Collection, id); err == nil {
		if existing.GetString("uploaded_by") != e.Auth.Id || existing.GetString("owner_record") != ownerID {
			return writeError(e, http.StatusConflict, "photo_id_taken", "Another photo already has this id; generate a new UUID.")
		}
		return e.JSON(http.StatusOK, answer(existing, true))
	}

	viewer, err := access.ViewerFromRecord(e.App, e.Auth)
	if err != nil {
		return err
	}
	if !viewer.Role.IsFieldRole() {
		return writeError(e, http.StatusForbidden, "photo_forbidden", "Only outreach workers, clinicians, officers and team leads upload photos.")
	}
	team := ""
	if owner, err := e.App.FindRecordById(ownerColl, ownerID); err == nil {
		d, err := access.NewDecider(e.App, viewer)
		if err != nil {
			return err
		}
		fields := owner.FieldsData()
		fields["id"] = owner.Id
		if !d.Visible(ownerColl, fields) {
			return writeError(e, http.StatusForbidden, "photo_owner_forbidden", "You may not add photos to this record.")
		}
		team = teamOf(viewer, owner)
	}
	// Otherwise the record has not arrived yet: photos travel apart and may
	// come first. The uploader sees it; the team sees it once the record is
	// there (registerLateTeam).

	body := http.MaxBytesReader(e.Response, e.Request.Body, DefaultLimits.MaxBytes+1)
	raw, err := io.ReadAll(body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || int64(len(raw)) > DefaultLimits.MaxBytes {
		return writeError(e, http.StatusRequestEntityTooLarge, CodeTooLarge, "Photos are limited to 10 MiB.")
	} else if err != nil {
		return writeError(e, http.StatusBadRequest, CodeUnreadable, "The upload was interrupted; send it again.")
	}
	if len(raw) == 0 {
		return writeError(e, http.StatusBadRequest, CodeNotImage, "The request body is empty; send the image bytes as the body.")
	}
	out, info, err := SanitizeBytes(raw, DefaultLimits)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			return writeError(e, statusOf(pe), pe.Code, pe.Message)
		}
		return err
	}

	coll, err := e.App.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return err
	}
	file, err := filesystem.NewFileFromBytes(out, id+".jpg")
	if err != nil {
		return err
	}
	rec := core.NewRecord(coll)
	rec.Id = id
	rec.Set("owner_collection", ownerColl)
	rec.Set("owner_record", ownerID)
	rec.Set("file", file)
	rec.Set("uploaded_by", e.Auth.Id)
	rec.Set("team", team)
	rec.Set("device", strings.TrimSpace(e.Request.Header.Get("X-Tandem-Device")))
	rec.Set("width", info.Width)
	rec.Set("height", info.Height)
	rec.Set("bytes", info.Bytes)
	err = e.App.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		return audit.Append(tx, audit.Event{
			Actor: e.Auth.Id, ActorKind: "user", Device: rec.GetString("device"), Action: "create",
			Collection: Collection, RecordID: id, Fields: []string{"file"},
			Details: map[string]any{"owner_collection": ownerColl, "owner_record": ownerID, "source_format": info.SourceFormat},
		})
	})
	if err != nil {
		return writeError(e, http.StatusBadRequest, "photo_not_saved", "The photo could not be stored: "+err.Error())
	}
	if team == "" {
		orphanCount(e.App)
		orphans.n.Add(1)
	}
	return e.JSON(http.StatusCreated, answer(rec, false))
}

// teamOf picks the team a photo is shared with: the encounter's team, or
// for a person the first of the person's teams the uploader works on.
func teamOf(v access.Viewer, owner *core.Record) string {
	if owner.Collection().Name == domain.Encounters {
		return owner.GetString("team")
	}
	for _, t := range owner.GetStringSlice("teams") {
		if v.InTeam(t) {
			return t
		}
	}
	return ""
}

func answer(r *core.Record, replayed bool) Upload {
	return Upload{
		ID: r.Id, Collection: r.GetString("owner_collection"), Record: r.GetString("owner_record"),
		File: r.GetString("file"), URL: "/api/files/" + Collection + "/" + r.Id + "/" + r.GetString("file"),
		Width: r.GetInt("width"), Height: r.GetInt("height"), Bytes: int64(r.GetInt("bytes")), Replayed: replayed,
	}
}

// orphans counts stored photos not yet shared with a team (their record
// had not arrived), so that creating an encounter costs nothing extra in the
// common case where no photo is waiting for it. It is counted from the
// database on first use and kept up to date by the upload and the hook.
var orphans struct {
	once sync.Once
	n    atomic.Int64
}

func orphanCount(app core.App) int64 {
	orphans.once.Do(func() {
		var n int64
		_ = app.DB().Select("count(*)").From(Collection).Where(dbx.HashExp{"team": ""}).Row(&n)
		orphans.n.Add(n)
	})
	return orphans.n.Load()
}

// registerLateTeam shares a photo that arrived before its encounter with
// the encounter's team once the encounter arrives.
func registerLateTeam(app core.App) {
	app.OnRecordCreateExecute(domain.Encounters).BindFunc(func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		if orphanCount(e.App) <= 0 {
			return nil
		}
		res, err := e.App.DB().Update(Collection, dbx.Params{"team": e.Record.GetString("team")},
			dbx.And(dbx.HashExp{"owner_collection": domain.Encounters, "owner_record": e.Record.Id, "team": ""})).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			orphans.n.Add(-n)
		}
		return nil
	})
}
