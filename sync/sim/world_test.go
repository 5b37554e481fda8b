package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

var ctx = context.Background()

var flagTrace = flag.Bool("sim.trace", false, "print every sync request and answer (to debug one seed)")

// world is one team on a real server: an outreach worker, a clinician, an
// officer from the police and a team lead.
type world struct {
	env     *testenv.Env
	team    *core.Record
	users   map[string]*core.Record // by role
	wire    *wireLog
	outOrg  *core.Record
	police  *core.Record
	devices []*device
	seeded  []*core.Record // records created on the server before the run
	teamB   *core.Record   // where the clinician goes when she leaves team A
}

// moves counts the team moves in the processing order.
func (w *world) moves() int {
	n := 0
	for _, e := range w.wire.order {
		if e.teamMove != nil {
			n++
		}
	}
	return n
}

// device is one simulated tablet.
type device struct {
	name  string
	role  string
	user  *core.Record
	c     *client.Client
	lossy *client.LossyTransport
	// made lists every mutation this device queued, in order.
	made []protocol.Mutation
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env, users: map[string]*core.Record{}, wire: &wireLog{}}
	w.outOrg = env.Org(t, "Downtown Outreach", "outreach")
	w.police = env.Org(t, "Metro Police", "police")
	w.team = env.Team(t, "Team A")
	w.users["outreach_worker"] = env.User(t, "Wanda Worker", "outreach_worker", w.outOrg, w.team)
	w.users["clinician"] = env.User(t, "Cleo Clinician", "clinician", w.outOrg, w.team)
	w.users["officer"] = env.User(t, "Oscar Officer", "officer", w.police, w.team)
	w.users["team_lead"] = env.User(t, "Lee Lead", "team_lead", w.outOrg, w.team)
	return w
}

// addDevice opens a tablet for the user of role. drop decides which
// answers its connection loses (nil: none); clock is its (untrusted) clock.
func (w *world) addDevice(t *testing.T, name, role string, drop func(*http.Request) bool, clock func() time.Time, tweak func(*client.Config)) *device {
	t.Helper()
	d := &device{name: name, role: role, user: w.users[role]}
	d.lossy = &client.LossyTransport{Base: w.wire.transport(d), Drop: drop}
	cfg := client.Config{
		BaseURL:    w.env.URL,
		Token:      w.env.Token(t, d.user),
		StorePath:  filepath.Join(t.TempDir(), name+".db"),
		HTTPClient: &http.Client{Transport: d.lossy, Timeout: 2 * time.Minute},
		Now:        clock,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	d.c = c
	w.devices = append(w.devices, d)
	return d
}

func (d *device) create(t *testing.T, collection string, fields map[string]any) protocol.Mutation {
	t.Helper()
	m, err := d.c.Create(ctx, collection, fields)
	if err != nil {
		t.Fatalf("%s create %s: %v", d.name, collection, err)
	}
	d.made = append(d.made, m)
	return m
}

func (d *device) update(t *testing.T, collection, id string, fields map[string]any) protocol.Mutation {
	t.Helper()
	m, err := d.c.Update(ctx, collection, id, fields)
	if err != nil {
		t.Fatalf("%s update %s/%s: %v", d.name, collection, id, err)
	}
	d.made = append(d.made, m)
	return m
}

func (d *device) delete(t *testing.T, collection, id string) protocol.Mutation {
	t.Helper()
	m, err := d.c.Delete(ctx, collection, id)
	if err != nil {
		t.Fatalf("%s delete %s/%s: %v", d.name, collection, id, err)
	}
	d.made = append(d.made, m)
	return m
}

func (d *device) sync(t *testing.T) client.SyncReport {
	t.Helper()
	rep, err := d.c.Sync(ctx)
	if err != nil {
		t.Fatalf("%s sync: %v", d.name, err)
	}
	return rep
}

// wireLog records, in the order the server processed them, the mutation
// ids of every push the server answered with 200, whether or not the
// answer then reached the device. A mutation's first appearance is when
// the server applied it; later ones are replays.
type wireLog struct {
	mu    sync.Mutex
	order []wireEntry
	seen  map[string]bool
}

type wireEntry struct {
	device     *device
	mutationID string
	// teamMove, when set, is not a mutation: from here on the user of
	// role teamMove.role is (or is not) on the simulated team.
	teamMove *teamMove
}

type teamMove struct {
	role   string
	onTeam bool
}

// note appends a non-mutation event to the processing order.
func (l *wireLog) note(e wireEntry) {
	l.mu.Lock()
	l.order = append(l.order, e)
	l.mu.Unlock()
}

func (l *wireLog) transport(d *device) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		var body []byte
		if (*flagTrace || strings.HasSuffix(req.URL.Path, protocol.PathPush)) && req.Body != nil {
			body, _ = io.ReadAll(req.Body)
			req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(body))
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if *flagTrace && err == nil {
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			res.Body = io.NopCloser(bytes.NewReader(raw))
			fmt.Printf("TRACE %s %s req=%.200s\n      res=%d %.300s\n", d.name, req.URL.Path, body, res.StatusCode, raw)
		}
		if err == nil && res.StatusCode == http.StatusOK && body != nil && strings.HasSuffix(req.URL.Path, protocol.PathPush) {
			var pr protocol.PushRequest
			if json.Unmarshal(body, &pr) == nil {
				l.mu.Lock()
				if l.seen == nil {
					l.seen = map[string]bool{}
				}
				for _, m := range pr.Mutations {
					if !l.seen[m.MutationID] {
						l.seen[m.MutationID] = true
						l.order = append(l.order, wireEntry{device: d, mutationID: m.MutationID})
					}
				}
				l.mu.Unlock()
			}
		}
		return res, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// lossy returns a Drop function losing about rate of the answers, decided
// by rng (the simulation is single-threaded, so runs replay exactly).
func lossy(rng *rand.Rand, rate float64) func(*http.Request) bool {
	return func(*http.Request) bool { return rng.Float64() < rate }
}
