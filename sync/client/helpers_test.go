package client_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/client"
)

// fixture is one outreach team on a real server.
type fixture struct {
	env    *testenv.Env
	org    *core.Record
	team   *core.Record
	worker *core.Record
	lead   *core.Record
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := testenv.New(t)
	f := &fixture{env: env}
	f.org = env.Org(t, "Downtown Outreach", "outreach")
	f.team = env.Team(t, "Team A")
	f.worker = env.User(t, "Wanda Worker", "outreach_worker", f.org, f.team)
	f.lead = env.User(t, "Lee Lead", "team_lead", f.org, f.team)
	return f
}

// device opens a new reference client for user, with its own store.
func (f *fixture) device(t *testing.T, user *core.Record, tweak func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{
		BaseURL:    f.env.URL,
		Token:      f.env.Token(t, user),
		StorePath:  filepath.Join(t.TempDir(), "device.db"),
		HTTPClient: &http.Client{Transport: http.DefaultTransport},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deviceTB opens a plain device for benchmarks.
func (f *fixture) deviceTB(tb testing.TB, user *core.Record) *client.Client {
	tb.Helper()
	c, err := client.New(client.Config{BaseURL: f.env.URL, Token: f.env.Token(tb, user), StorePath: filepath.Join(tb.TempDir(), "device.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func mustSync(t *testing.T, c *client.Client) client.SyncReport {
	t.Helper()
	rep, err := c.Sync(context.Background())
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return rep
}

func countServer(t *testing.T, env *testenv.Env, collection, filter string) int {
	t.Helper()
	recs, err := env.App.FindRecordsByFilter(collection, filter, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}
