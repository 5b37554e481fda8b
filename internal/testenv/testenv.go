// Package testenv starts a real Tandem server for tests: the PocketBase test
// app on a temporary SQLite database, with every Tandem migration, hook and
// route registered, served over real HTTP on 127.0.0.1.
//
// Nothing here is a mock: tests talk to the same handlers production runs.
package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/tandem-outreach/tandem/internal/tandem"
)

// Env is one running Tandem server and its app.
type Env struct {
	App    *tests.TestApp
	URL    string // base URL, for example http://127.0.0.1:41234
	Server *httptest.Server
}

// newTandemApp opens a test app (a copy of dir) with Tandem's settings.
func newTandemApp(dir string) (*tests.TestApp, error) {
	cfg := tandem.Config(dir)
	cfg.EncryptionEnv = "pb_test_env" // as tests.NewTestApp
	return tests.NewTestAppWithConfig(cfg)
}

// New starts a fresh Tandem server on a temporary database, with the
// database settings production uses. It is stopped and its files removed
// when the test ends.
func New(t testing.TB) *Env {
	t.Helper()
	app, err := newTandemApp(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: start app: %v", err)
	}
	if err := tandem.Register(app); err != nil {
		t.Fatalf("testenv: register tandem: %v", err)
	}
	env := &Env{App: app}
	env.serve(t, nil)
	t.Cleanup(func() {
		env.Server.Close()
		env.App.Cleanup()
	})
	return env
}

// NewStock starts plain PocketBase for baselines: the same test app and
// loopback server as New, but with none of Tandem's hooks, routes or jobs
// registered. (Tandem's collections still exist, because Go migrations
// register globally; a baseline should use a collection of its own.)
func NewStock(t testing.TB) *Env {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatalf("testenv: start app: %v", err)
	}
	env := &Env{App: app}
	env.serve(t, nil)
	t.Cleanup(func() {
		env.Server.Close()
		env.App.Cleanup()
	})
	return env
}

// serve builds the router of env.App and serves it over HTTP, on ln when
// given (a restart keeps the address) or on a new loopback port.
func (e *Env) serve(t testing.TB, ln net.Listener) {
	t.Helper()
	e.Server = httptest.NewUnstartedServer(nil)
	if ln != nil {
		e.Server.Listener.Close()
		e.Server.Listener = ln
	}
	router, err := apis.NewRouter(e.App)
	if err != nil {
		t.Fatalf("testenv: router: %v", err)
	}
	serveEvent := &core.ServeEvent{App: e.App, Router: router}
	err = e.App.OnServe().Trigger(serveEvent, func(se *core.ServeEvent) error {
		mux, err := se.Router.BuildMux()
		if err != nil {
			return err
		}
		e.Server.Config.Handler = mux
		return nil
	})
	if err != nil {
		t.Fatalf("testenv: serve hooks: %v", err)
	}
	e.Server.Start()
	e.URL = e.Server.URL
}

// Restart stops the server the way a process exit would (client
// connections cut, requests in flight finished or abandoned, database
// closed), then opens a new app on the same data and serves it on the same
// address, so clients reconnect without knowing. Used to test a server
// restart in the middle of a push (FIELD-SCENARIOS 17).
func (e *Env) Restart(t testing.TB) {
	t.Helper()
	addr := e.Server.Listener.Addr().String()
	e.Server.CloseClientConnections()
	e.Server.Close()
	dir := e.App.DataDir()
	e.App.ResetBootstrapState() // closes the databases; the files stay
	// The test app opens a copy of dir; the copy is the same data.
	app, err := newTandemApp(dir)
	if err != nil {
		t.Fatalf("testenv: restart app: %v", err)
	}
	os.RemoveAll(dir)
	if err := tandem.Register(app); err != nil {
		t.Fatalf("testenv: register tandem after restart: %v", err)
	}
	e.App = app
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("testenv: listen again on %s: %v", addr, err)
	}
	e.serve(t, ln)
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.Status, err, truncate(r.Body))
	}
}

// Do sends one request to the server. body may be nil, a []byte, a string or
// any value to encode as JSON. token, when not empty, is sent as the
// Authorization header.
func (e *Env) Do(t testing.TB, method, path, token string, body any) Response {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		reader = bytes.NewReader(b)
	case string:
		reader = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request: %v", err)
		}
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, reader)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// Create saves a record directly (as the server itself would), failing the
// test on error.
func (e *Env) Create(t testing.TB, collection string, fields map[string]any) *core.Record {
	t.Helper()
	c, err := e.App.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatalf("collection %s: %v", collection, err)
	}
	r := core.NewRecord(c)
	r.Load(fields)
	if c.IsAuth() {
		if pw, ok := fields["password"].(string); ok {
			r.SetPassword(pw)
		}
	}
	if err := e.App.Save(r); err != nil {
		t.Fatalf("create %s %v: %v", collection, fields, err)
	}
	return r
}

// Org creates an organisation of the given kind.
func (e *Env) Org(t testing.TB, name, kind string) *core.Record {
	t.Helper()
	return e.Create(t, "organizations", map[string]any{"name": name, "kind": kind})
}

// Team creates an active team.
func (e *Env) Team(t testing.TB, name string) *core.Record {
	t.Helper()
	return e.Create(t, "teams", map[string]any{"name": name, "active": true})
}

// User creates a user with the given role in org, on the given teams.
func (e *Env) User(t testing.TB, name, role string, org *core.Record, teams ...*core.Record) *core.Record {
	t.Helper()
	ids := make([]string, 0, len(teams))
	for _, tm := range teams {
		ids = append(ids, tm.Id)
	}
	return e.Create(t, "users", map[string]any{
		"email":        strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.org",
		"password":     "correct horse battery",
		"verified":     true,
		"name":         name,
		"role":         role,
		"organization": org.Id,
		"teams":        ids,
	})
}

// Token returns an auth token for user, as the login endpoint would issue.
func (e *Env) Token(t testing.TB, user *core.Record) string {
	t.Helper()
	tok, err := user.NewAuthToken()
	if err != nil {
		t.Fatalf("token for %s: %v", user.Id, err)
	}
	return tok
}

// SuperuserToken creates a superuser and returns its auth token.
func (e *Env) SuperuserToken(t testing.TB) string {
	t.Helper()
	su := e.Create(t, core.CollectionNameSuperusers, map[string]any{
		"email": fmt.Sprintf("admin%d@example.org", superuserSeq.Add(1)), "password": "correct horse battery",
	})
	return e.Token(t, su)
}

var superuserSeq atomic.Int64

func truncate(b []byte) string {
	if len(b) > 500 {
		return string(b[:500]) + "…"
	}
	return string(b)
}
