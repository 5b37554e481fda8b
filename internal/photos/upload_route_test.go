package photos_test

import (
	"bytes"
	"image"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/tandem-outreach/tandem/internal/photos"
	"github.com/tandem-outreach/tandem/internal/photos/phototest"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

func send(t *testing.T, env *testenv.Env, method, path, token, contentType string, body []byte) testenv.Response {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return testenv.Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

func multipartBody(t *testing.T, fields map[string]string, field, name string, data []byte) (string, []byte) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile(field, name)
	_, _ = fw.Write(data)
	_ = mw.Close()
	return mw.FormDataContentType(), b.Bytes()
}

func assertClean(t *testing.T, jpg []byte, w, h int) {
	t.Helper()
	if phototest.HasAPP1(jpg) || bytes.Contains(jpg, []byte("Exif")) || bytes.Contains(jpg, phototest.GPSMarker) {
		t.Fatal("stored photo still carries EXIF/GPS")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(jpg))
	if err != nil || format != "jpeg" || cfg.Width != w || cfg.Height != h {
		t.Fatalf("stored photo: %v %s %dx%d, want jpeg %dx%d", err, format, cfg.Width, cfg.Height, w, h)
	}
}

// Uploads through the records API (the dashboard uses the same) are
// re-encoded before they are stored.
func TestRecordsAPIUploadsAreSanitised(t *testing.T) {
	env := testenv.New(t)
	org := env.Org(t, "City Outreach", "outreach")
	north := env.Team(t, "North")
	worker := env.User(t, "Ana Worker", "outreach_worker", org, north)
	tok := env.Token(t, worker)
	su := env.SuperuserToken(t)

	ct, body := multipartBody(t, map[string]string{"display_name": "Smokey", "teams": north.Id}, "photo", "IMG_0001.JPG",
		phototest.JPEGWithEXIF(t, 40, 20, 6))
	res := send(t, env, http.MethodPost, "/api/collections/persons/records", tok, ct, body)
	if res.Status != http.StatusOK {
		t.Fatalf("create person with photo: %d %s", res.Status, res.Body)
	}
	var p struct{ ID, Photo string }
	res.JSON(t, &p)
	if p.Photo == "" || !bytes.HasSuffix([]byte(p.Photo), []byte(".jpg")) {
		// The worker has no photo consent for this person, so the field
		// is hidden in the answer; read the stored name instead.
		rec, err := env.App.FindRecordById("persons", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		p.Photo = rec.GetString("photo")
	}
	file := "/api/files/persons/" + p.ID + "/" + p.Photo
	if res := send(t, env, http.MethodGet, file, "", "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("anonymous download of a person's photo: want 404, got %d", res.Status)
	}
	if res := send(t, env, http.MethodGet, file, tok, "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("photo without the person's photo consent: want 404, got %d", res.Status)
	}
	got := send(t, env, http.MethodGet, file, su, "", nil)
	if got.Status != http.StatusOK {
		t.Fatalf("superuser download: %d %s", got.Status, got.Body)
	}
	assertClean(t, got.Body, 20, 40)

	enc := env.Create(t, "encounters", map[string]any{"team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	for _, c := range []struct {
		name string
		data []byte
		code string
	}{
		{"notes.txt", []byte("not a photo at all"), photos.CodeNotImage},
		{"bomb.png", phototest.PNGBomb(t, 60000, 60000), photos.CodeTooManyPixels},
	} {
		ct, body := multipartBody(t, nil, "photos", c.name, c.data)
		res := send(t, env, http.MethodPatch, "/api/collections/encounters/records/"+enc.Id, tok, ct, body)
		var e struct{ Code string }
		res.JSON(t, &e)
		if res.Status < 400 || e.Code != c.code {
			t.Fatalf("%s: want refusal %s, got %d %s", c.name, c.code, res.Status, res.Body)
		}
	}
}

// The sync photo endpoint: photos travel apart from records, may arrive
// before them, are idempotent by id and are re-encoded.
func TestSyncPhotoUpload(t *testing.T) {
	env := testenv.New(t)
	org := env.Org(t, "City Outreach", "outreach")
	police := env.Org(t, "Metro PD", "police")
	north := env.Team(t, "North")
	worker := env.User(t, "Ana Worker", "outreach_worker", org, north)
	officer := env.User(t, "Omar Officer", "officer", police, north)
	tok, otok := env.Token(t, worker), env.Token(t, officer)

	encID := "6f1c2d3e-4a5b-4c6d-8e7f-8a9b0c1d2e3f"
	photoID := "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	path := "/api/sync/v1/photos/" + photoID + "?collection=encounters&record=" + encID
	src := phototest.JPEGWithEXIF(t, 40, 20, 6)

	res := send(t, env, http.MethodPut, path, tok, "image/jpeg", src)
	if res.Status != http.StatusCreated {
		t.Fatalf("upload before its encounter exists: %d %s", res.Status, res.Body)
	}
	var up photos.Upload
	res.JSON(t, &up)
	if up.ID != photoID || up.Width != 20 || up.Height != 40 || up.Replayed {
		t.Fatalf("answer: %+v", up)
	}
	res = send(t, env, http.MethodPut, path, tok, "image/jpeg", src)
	res.JSON(t, &up)
	if res.Status != http.StatusOK || !up.Replayed {
		t.Fatalf("replay should answer 200 replayed, got %d %s", res.Status, res.Body)
	}
	if n, _ := env.App.CountRecords(photos.Collection); n != 1 {
		t.Fatalf("replay must not duplicate: %d photos", n)
	}

	// The uploader downloads it with a file token; the officer (no photo
	// consent for this person) and strangers cannot.
	ftok := func(token string) string {
		var f struct{ Token string }
		send(t, env, http.MethodPost, "/api/files/token", token, "", nil).JSON(t, &f)
		return f.Token
	}
	env.Create(t, "encounters", map[string]any{"id": encID, "team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	got := send(t, env, http.MethodGet, up.URL+"?token="+ftok(tok), "", "", nil)
	if got.Status != http.StatusOK {
		t.Fatalf("uploader download: %d %s", got.Status, got.Body)
	}
	assertClean(t, got.Body, 20, 40)
	if res := send(t, env, http.MethodGet, up.URL+"?token="+ftok(otok), "", "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("officer without consent: want 404, got %d", res.Status)
	}
	if res := send(t, env, http.MethodGet, up.URL, "", "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("anonymous: want 404, got %d", res.Status)
	}

	bad := []struct {
		name, path, token string
		body              []byte
		status            int
		code              string
	}{
		{"not an image", "/api/sync/v1/photos/2a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d?collection=encounters&record=" + encID, tok, []byte("%PDF-1.4"), 415, photos.CodeNotImage},
		{"bomb", "/api/sync/v1/photos/3a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d?collection=encounters&record=" + encID, tok, phototest.PNGBomb(t, 100000, 100000), 422, photos.CodeTooManyPixels},
		{"bad id", "/api/sync/v1/photos/IMG_0001?collection=encounters&record=" + encID, tok, src, 400, "invalid_photo_id"},
		{"no owner", "/api/sync/v1/photos/4a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", tok, src, 400, "invalid_photo_owner"},
		{"anonymous", "/api/sync/v1/photos/5a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d?collection=encounters&record=" + encID, "", src, 401, "auth_required"},
		{"id taken", path, otok, src, 409, "photo_id_taken"},
	}
	for _, c := range bad {
		res := send(t, env, http.MethodPut, c.path, c.token, "image/jpeg", c.body)
		var e struct{ Code string }
		res.JSON(t, &e)
		if res.Status != c.status || e.Code != c.code {
			t.Errorf("%s: want %d %s, got %d %s", c.name, c.status, c.code, res.Status, res.Body)
		}
	}
}

// A photo uploaded before its encounter is shared with the encounter's team
// once the encounter arrives.
func TestEarlyPhotoJoinsTheTeam(t *testing.T) {
	env := testenv.New(t)
	org := env.Org(t, "City Outreach", "outreach")
	north := env.Team(t, "North")
	worker := env.User(t, "Ana Worker", "outreach_worker", org, north)
	encID := "7f1c2d3e-4a5b-4c6d-8e7f-8a9b0c1d2e3f"
	res := send(t, env, http.MethodPut, "/api/sync/v1/photos/8a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d?collection=encounters&record="+encID,
		env.Token(t, worker), "image/jpeg", phototest.JPEGWithEXIF(t, 40, 20, 1))
	if res.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", res.Status, res.Body)
	}
	env.Create(t, "encounters", map[string]any{"id": encID, "team": north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	p, err := env.App.FindRecordById(photos.Collection, "8a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d")
	if err != nil || p.GetString("team") != north.Id {
		t.Fatalf("photo should now belong to team North: %v %v", err, p)
	}
}
