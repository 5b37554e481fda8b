package photos

import (
	"bytes"
	"errors"
	"image"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"
	"github.com/pocketbase/pocketbase/tools/hook"
)

// Collection is the collection of photos uploaded apart from records.
const Collection = "photos"

// imageFields are the file fields whose uploads are photos of people or
// scenes; every new file in them is sanitised before it is stored.
var imageFields = map[string][]string{
	"persons":    {"photo"},
	"encounters": {"photos"},
	"consents":   {"document"}, // a paper-scan photo; PDFs pass unchanged
	Collection:   {"file"},
}

// Register binds the photo sanitiser to every records API and dashboard
// upload, and adds the sync photo upload endpoint.
func Register(app core.App) error {
	sanitize := func(e *core.RecordRequestEvent) error {
		if err := SanitizeRecordFiles(e.Record); err != nil {
			var pe *Error
			if errors.As(err, &pe) {
				return writeError(e.RequestEvent, statusOf(pe), pe.Code, pe.Message)
			}
			return err
		}
		return e.Next()
	}
	// Before any other request hook: decoding is CPU work that must not
	// run inside the write transaction the audit hook opens.
	for _, h := range []*hook.TaggedHook[*core.RecordRequestEvent]{app.OnRecordCreateRequest(), app.OnRecordUpdateRequest()} {
		h.Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "tandem_photo_sanitize", Func: sanitize, Priority: -100})
	}
	registerUploadRoute(app)
	registerLateTeam(app)
	return nil
}

// SanitizeRecordFiles re-encodes, in place, every not-yet-saved upload in
// the record's image fields.
func SanitizeRecordFiles(r *core.Record) error {
	fields := imageFields[r.Collection().Name]
	for _, name := range fields {
		for _, f := range r.GetUnsavedFiles(name) {
			if err := sanitizeFile(f, r.Collection().Name == "consents"); err != nil {
				return err
			}
		}
	}
	return nil
}

func sanitizeFile(f *filesystem.File, imagesOnly bool) error {
	rc, err := f.Reader.Open()
	if err != nil {
		return &Error{CodeUnreadable, "the upload could not be read"}
	}
	raw, err := io.ReadAll(io.LimitReader(rc, DefaultLimits.MaxBytes+1))
	rc.Close()
	if err != nil {
		return &Error{CodeUnreadable, "the upload could not be read"}
	}
	if imagesOnly {
		if _, _, err := image.DecodeConfig(bytes.NewReader(raw)); errors.Is(err, image.ErrFormat) {
			return nil // not an image (a PDF form): nothing to strip here
		}
	}
	out, _, err := SanitizeBytes(raw, DefaultLimits)
	if err != nil {
		return err
	}
	f.Reader = &filesystem.BytesReader{Bytes: out}
	f.Size = int64(len(out))
	f.Name = strings.TrimSuffix(f.Name, filepath.Ext(f.Name)) + ".jpg"
	f.OriginalName = strings.TrimSuffix(f.OriginalName, filepath.Ext(f.OriginalName)) + ".jpg"
	return nil
}

func statusOf(e *Error) int {
	switch e.Code {
	case CodeNotImage:
		return http.StatusUnsupportedMediaType
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeTooManyPixels:
		return http.StatusUnprocessableEntity
	default:
		return http.StatusBadRequest
	}
}

func writeError(e *core.RequestEvent, status int, code, message string) error {
	return e.JSON(status, map[string]any{"status": status, "code": code, "message": message, "data": map[string]any{}})
}
