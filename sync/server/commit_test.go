package server

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// The committer is tested on a bare PocketBase app with a scratch table:
// what matters is which writes commit, not what they are.
func newCommitterApp(t *testing.T) core.App {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	if _, err := app.DB().NewQuery(`CREATE TABLE scratch (who TEXT NOT NULL)`).Execute(); err != nil {
		t.Fatal(err)
	}
	return app
}

func insertScratch(who string) func(core.App, *changefeed.Statements) error {
	return func(_ core.App, st *changefeed.Statements) error {
		_, err := st.Q(`INSERT INTO scratch (who) VALUES ({:w})`).Bind(map[string]any{"w": who}).Execute()
		return err
	}
}

func queued(c *committer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

func scratchRows(t *testing.T, app core.App) map[string]int {
	t.Helper()
	var rows []struct {
		Who string `db:"who"`
	}
	if err := app.DB().NewQuery(`SELECT who FROM scratch`).All(&rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Who]++
	}
	return out
}

func TestCommitterIsolatesFailingRequests(t *testing.T) {
	cases := []struct {
		name    string
		fn      func(core.App, *changefeed.Statements) error
		wantErr bool
	}{
		{"commits", insertScratch("ok"), false},
		{"error after a write", func(tx core.App, st *changefeed.Statements) error {
			if err := insertScratch("error")(tx, st); err != nil {
				return err
			}
			return errors.New("refused half-way")
		}, true},
		{"panic after a write", func(tx core.App, st *changefeed.Statements) error {
			if err := insertScratch("panic")(tx, st); err != nil {
				return err
			}
			panic("bug")
		}, true},
		{"bad SQL", func(_ core.App, st *changefeed.Statements) error {
			_, err := st.Q(`INSERT INTO no_such_table VALUES (1)`).Execute()
			return err
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := newCommitterApp(t)
			c := newCommitter(app)
			// The case runs in one group between two good requests, which
			// must commit whatever it does. Holding the leader lock while they
			// queue puts all three in the same transaction.
			var wg sync.WaitGroup
			errs := make([]error, 3)
			c.leader.Lock()
			for i, fn := range []func(core.App, *changefeed.Statements) error{insertScratch("before"), tc.fn, insertScratch("after")} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = c.do(1, fn)
				}()
				for queued(c) < i+1 {
					time.Sleep(time.Millisecond)
				}
			}
			c.leader.Unlock()
			wg.Wait()
			if n := c.groups.Load(); n != 1 {
				t.Fatalf("%d transactions, want the three requests in one", n)
			}
			if (errs[1] != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error: %v", errs[1], tc.wantErr)
			}
			if errs[0] != nil || errs[2] != nil {
				t.Fatalf("the other requests failed: %v, %v", errs[0], errs[2])
			}
			got := scratchRows(t, app)
			if got["before"] != 1 || got["after"] != 1 {
				t.Fatalf("other requests' writes: %v", got)
			}
			if tc.wantErr && (got["error"] != 0 || got["panic"] != 0) {
				t.Fatalf("a failed request's writes were kept: %v", got)
			}
			if !tc.wantErr && got["ok"] != 1 {
				t.Fatalf("a good request's write is missing: %v", got)
			}
		})
	}
}

func TestCommitterGroupsConcurrentRequests(t *testing.T) {
	app := newCommitterApp(t)
	c := newCommitter(app)
	const requests = 200
	var wg sync.WaitGroup
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.do(maxGroupMutations/50, insertScratch("r")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := scratchRows(t, app)["r"]; got != requests {
		t.Fatalf("%d of %d requests committed", got, requests)
	}
	commits := int(c.groups.Load())
	// 200 requests of 80 mutations fit 50 to a group: at least 4 groups,
	// and far fewer than one per request when they arrive together.
	if commits < requests*(maxGroupMutations/50)/maxGroupMutations || commits >= requests {
		t.Fatalf("%d transactions for %d concurrent requests", commits, requests)
	}
	t.Logf("%d concurrent requests in %d transactions", requests, commits)
}
