package sim

import (
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

var (
	flagSeeds = flag.Int("sim.seeds", 20, "how many random seeds TestConvergence runs")
	flagSeed  = flag.Int64("sim.seed", -1, "run only this seed (to replay a failure)")
	flagSteps = flag.Int("sim.steps", 120, "random actions per seed")
)

// TestConvergence runs the random simulation for many seeds.
func TestConvergence(t *testing.T) {
	seeds := make([]int64, 0, *flagSeeds)
	if *flagSeed >= 0 {
		seeds = append(seeds, *flagSeed)
	} else {
		for i := 0; i < *flagSeeds; i++ {
			seeds = append(seeds, int64(1000+i))
		}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("replay with: go test ./sync/sim -run 'TestConvergence' -sim.seed=%d -sim.steps=%d -v", seed, *flagSteps)
				}
			}()
			runSim(t, seed, *flagSteps)
		})
	}
}

// tracked are the single-value fields the simulation edits, by collection:
// a concurrent edit of one of them must open a conflict.
var tracked = map[string][]string{
	"persons":    {"display_name"},
	"encounters": {"disposition"},
	"followups":  {"due_at", "status"},
}

// notesOf are the free-text fields the simulation appends tags to.
var notesOf = map[string]string{"encounters": "general_notes", "followups": "notes"}

// runSim drives four tablets (one with a clock a day ahead, one a year
// behind) through random offline work and lossy syncs, then checks every
// invariant.
func runSim(t *testing.T, seed int64, steps int) {
	rng := rand.New(rand.NewSource(seed))
	w := newWorld(t)
	real := time.Now
	clocks := map[string]func() time.Time{
		"outreach_worker": func() time.Time { return real().Add(24 * time.Hour) },
		"clinician":       func() time.Time { return real().AddDate(-1, 0, 0) },
	}
	for _, role := range []string{"outreach_worker", "clinician", "officer", "team_lead"} {
		w.addDevice(t, role, role, lossy(rng, 0.25), clocks[role], func(cfg *client.Config) {
			cfg.BatchSize = 1 + rng.Intn(8) // small batches: lost answers land mid-queue
			cfg.PullLimit = 3 + rng.Intn(10)
		})
	}
	// Everyone starts from a first sync of a known person.
	seedPerson := w.env.Create(t, "persons", map[string]any{"display_name": "Smokey", "teams": []string{w.team.Id}})
	w.seeded = append(w.seeded, seedPerson)
	for _, d := range w.devices {
		syncUntilDone(t, d)
	}

	tags := 0
	clinicianOnTeam := true
	w.teamB = w.env.Team(t, "Team B")
	for step := 0; step < steps; step++ {
		d := w.devices[rng.Intn(len(w.devices))]
		switch k := rng.Intn(16); {
		case k < 2: // sync (maybe losing answers); errors are retried later
			_, _ = d.c.Sync(ctx)
		case k == 2:
			_, _ = d.c.Push(ctx)
		case k == 3:
			_, _ = d.c.Pull(ctx)
		case k == 4 && d.role != "officer":
			d.create(t, "persons", map[string]any{"display_name": fmt.Sprintf("Person %d", step), "name_quality": "2", "teams": []string{w.team.Id}})
		case k == 5:
			fields := map[string]any{"team": w.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z", "encounter_type": "outreach",
				"disposition": pick(rng, domain.Dispositions)}
			if persons := list(t, d, "persons"); len(persons) > 0 && rng.Intn(2) == 0 {
				fields["person"] = persons[rng.Intn(len(persons))].ID
			}
			d.create(t, "encounters", fields)
		case k == 6:
			fields := map[string]any{"team": w.team.Id, "status": "open", "due_at": randomDue(rng)}
			if encs := list(t, d, "encounters"); len(encs) > 0 && rng.Intn(3) > 0 {
				fields["encounter"] = encs[rng.Intn(len(encs))].ID
			}
			d.create(t, "followups", fields)
		case k == 7 || k >= 12: // single-value edits: concurrent ones become conflicts
			coll := pick(rng, []string{"persons", "encounters", "followups"})
			recs := list(t, d, coll)
			if len(recs) == 0 || (coll == "persons" && d.role == "officer") {
				continue
			}
			r := recs[rng.Intn(len(recs))]
			switch coll {
			case "persons":
				d.update(t, coll, r.ID, map[string]any{"display_name": fmt.Sprintf("Name %d", rng.Intn(4))})
			case "encounters":
				d.update(t, coll, r.ID, map[string]any{"disposition": pick(rng, domain.Dispositions[:3])})
			case "followups":
				d.update(t, coll, r.ID, map[string]any{"due_at": randomDue(rng)})
			}
		case k == 8: // follow-up status moves forward
			recs := list(t, d, "followups")
			if len(recs) == 0 {
				continue
			}
			r := recs[rng.Intn(len(recs))]
			next := ""
			switch r.Fields["status"] {
			case "open":
				next = "in_progress"
			case "in_progress":
				next = pick(rng, []string{"done", "cancelled", "failed"})
			}
			if next != "" {
				d.update(t, "followups", r.ID, map[string]any{"status": next})
			}
		case k == 9: // notes: appended tags must all survive
			coll := pick(rng, []string{"encounters", "followups"})
			recs := list(t, d, coll)
			if len(recs) == 0 {
				continue
			}
			r := recs[rng.Intn(len(recs))]
			tags++
			old, _ := r.Fields[notesOf[coll]].(string)
			d.update(t, coll, r.ID, map[string]any{notesOf[coll]: strings.TrimSpace(old + " " + fmt.Sprintf("[%s#%d]", d.name, tags))})
		case k == 11 && rng.Intn(3) == 0: // the clinician moves between teams
			moveClinician(t, w, !clinicianOnTeam)
			clinicianOnTeam = !clinicianOnTeam
		case k == 10 && d.role == "team_lead":
			coll := pick(rng, []string{"encounters", "followups"})
			if recs := list(t, d, coll); len(recs) > 0 {
				d.delete(t, coll, recs[rng.Intn(len(recs))].ID)
			}
		}
	}

	// Back on good wifi: everyone drains its queue, then everyone pulls.
	for _, d := range w.devices {
		d.lossy.Drop = nil
	}
	for _, d := range w.devices {
		syncUntilDone(t, d)
	}
	for _, d := range w.devices {
		if _, err := d.c.Pull(ctx); err != nil {
			t.Fatalf("%s final pull: %v", d.name, err)
		}
	}
	checkInvariants(t, w)
}

// moveClinician puts the clinician on team A (onTeam) or only on team B.
// Her next pull is answered "rescope"; her queued changes to team A's
// records are refused while she is away.
func moveClinician(t *testing.T, w *world, onTeam bool) {
	t.Helper()
	u := w.users["clinician"]
	if onTeam {
		u.Set("teams", []string{w.team.Id, w.teamB.Id})
	} else {
		u.Set("teams", []string{w.teamB.Id})
	}
	if err := w.env.App.Save(u); err != nil {
		t.Fatal(err)
	}
	w.wire.note(wireEntry{teamMove: &teamMove{role: "clinician", onTeam: onTeam}})
}

func syncUntilDone(t *testing.T, d *device) {
	t.Helper()
	var err error
	for try := 0; try < 20; try++ {
		if _, err = d.c.Sync(ctx); err == nil {
			return
		}
	}
	t.Fatalf("%s could not sync in 20 tries: %v", d.name, err)
}

func list(t *testing.T, d *device, coll string) []client.Record {
	t.Helper()
	recs, err := d.c.List(ctx, coll)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func pick(rng *rand.Rand, from []string) string { return from[rng.Intn(len(from))] }

func randomDue(rng *rand.Rand) string {
	return fmt.Sprintf("2026-12-%02d 10:00:00.000Z", 1+rng.Intn(4))
}

// checkInvariants is the end of every simulation run.
func checkInvariants(t *testing.T, w *world) {
	t.Helper()
	byID := map[string]protocol.Mutation{}
	devOf := map[string]*device{}
	results := map[string]protocol.MutationResult{}
	total := 0
	for _, d := range w.devices {
		if q, _ := d.c.Queue(ctx); len(q) != 0 {
			t.Fatalf("%s still has %d queued changes", d.name, len(q))
		}
		kept, err := d.c.Results(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range kept {
			results[r.Mutation.MutationID] = r.Result
		}
		for _, m := range d.made {
			byID[m.MutationID] = m
			devOf[m.MutationID] = d
			if _, ok := results[m.MutationID]; !ok {
				t.Errorf("%s: mutation %s (%s %s) has no answer on the device", d.name, m.MutationID, m.Op, m.Collection)
			}
		}
		total += len(d.made)
	}

	// Nothing lost, nothing duplicated: the server holds exactly one
	// stored result per mutation, equal to what the device kept.
	var stored []struct {
		MutationID string `db:"mutation_id"`
		Result     string `db:"result"`
	}
	if err := w.env.App.DB().NewQuery(`SELECT mutation_id, result FROM sync_mutations`).All(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) != total {
		t.Errorf("server stored %d results for %d mutations made", len(stored), total)
	}
	if applied := len(w.wire.order) - w.moves(); applied != total {
		t.Errorf("server applied %d distinct mutations, devices made %d", applied, total)
	}

	// Replay the server's processing order against an independent model of
	// the merge rules.
	model := newModel()
	history := map[string][]string{} // per record, for failure reports
	for _, r := range w.seeded {
		model.seed(r.Collection().Name, r.Id, map[string]string{"display_name": r.GetString("display_name")})
	}
	for _, e := range w.wire.order {
		if e.teamMove != nil {
			model.offTeam[e.teamMove.role] = !e.teamMove.onTeam
			for k := range history {
				history[k] = append(history[k], fmt.Sprintf("(%s on team: %v)", e.teamMove.role, e.teamMove.onTeam))
			}
			continue
		}
		m := byID[e.mutationID]
		got := results[e.mutationID]
		want, conflictFields := model.apply(m, e.device.c.DeviceID(), e.device.role, got)
		history[m.Collection+"/"+m.RecordID] = append(history[m.Collection+"/"+m.RecordID],
			fmt.Sprintf("%s %s base=%d %s -> %s v%d %v", e.device.name, m.Op, m.BaseVersion, fieldsText(m), got.Status, got.Version, got.MergedFields))
		if got.Status != want.status || (want.code != "" && (got.Error == nil || got.Error.Code != want.code)) {
			t.Errorf("%s %s %s/%s fields %v base %d: got %s %v, model expects %s %s",
				e.device.name, m.Op, m.Collection, m.RecordID, keys(m.Fields), m.BaseVersion, got.Status, got.Error, want.status, want.code)
			continue
		}
		// Every same-field concurrent edit is a conflict record for a lead.
		var rows []struct {
			Field string `db:"field"`
		}
		if err := w.env.App.DB().NewQuery(`SELECT field FROM conflicts WHERE mutation_id = {:m}`).Bind(dbx.Params{"m": m.MutationID}).All(&rows); err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, r := range rows {
			fields = append(fields, r.Field)
		}
		sort.Strings(fields)
		sort.Strings(conflictFields)
		if !reflect.DeepEqual(fields, conflictFields) || len(got.ConflictIDs) != len(conflictFields) {
			t.Errorf("mutation %s: conflicts on %v (ids %v), model expects %v", m.MutationID, fields, got.ConflictIDs, conflictFields)
		}
	}
	if t.Failed() {
		return
	}
	counts := map[string]int{}
	for _, r := range results {
		counts[r.Status]++
	}
	lost := 0
	for _, d := range w.devices {
		lost += d.lossy.Dropped()
	}
	t.Logf("%d mutations: %v; %d answers lost on the way", total, counts, lost)

	// The server's records are what the model says.
	for key, st := range model.records {
		coll, id, _ := strings.Cut(key, "/")
		rec, err := w.env.App.FindRecordById(coll, id)
		switch {
		case !st.exists || st.deleted:
			if err == nil {
				t.Errorf("%s exists on the server; the model says it %s", key, map[bool]string{true: "was deleted", false: "was never created"}[st.deleted])
			}
			continue
		case err != nil:
			t.Errorf("%s missing on the server: %v", key, err)
			continue
		}
		for f, v := range st.values {
			if got := rec.GetString(f); got != v {
				t.Errorf("%s.%s = %q on the server, model says %q", key, f, got, v)
			}
		}
		if nf, ok := notesOf[coll]; ok {
			text := rec.GetString(nf)
			for _, tag := range st.tags {
				if !strings.Contains(text, tag) {
					t.Errorf("%s.%s lost the acknowledged text %q: %q\nhistory:\n  %s", key, nf, tag, text, strings.Join(history[key], "\n  "))
				}
			}
		}
	}

	// Every device holds exactly what a fresh full sync of its user holds.
	for _, d := range w.devices {
		fresh := w.addDevice(t, d.name+"-fresh", d.role, nil, nil, nil)
		syncUntilDone(t, fresh)
		for _, coll := range protocol.Collections {
			a, b := list(t, d, coll), list(t, fresh, coll)
			if len(a) != len(b) {
				t.Errorf("%s holds %d %s, a fresh sync of %s holds %d", d.name, len(a), coll, d.role, len(b))
				inB := map[string]bool{}
				for _, r := range b {
					inB[r.ID] = true
				}
				for _, r := range a {
					if !inB[r.ID] {
						t.Errorf("  only on %s: %s v%d %v\n  history:\n  %s", d.name, r.ID, r.Version, r.Fields, strings.Join(history[coll+"/"+r.ID], "\n  "))
					}
				}
				continue
			}
			for i := range a {
				if a[i].ID != b[i].ID || a[i].Version != b[i].Version || !reflect.DeepEqual(a[i].Fields, b[i].Fields) {
					t.Errorf("%s %s/%s differs from the server's view:\n device %d %v\n server %d %v", d.name, coll, a[i].ID, a[i].Version, a[i].Fields, b[i].Version, b[i].Fields)
				}
			}
		}
	}
}

func fieldsText(m protocol.Mutation) string {
	parts := make([]string, 0, len(m.Fields))
	for _, k := range keys(m.Fields) {
		parts = append(parts, k+"="+string(m.Fields[k]))
	}
	return strings.Join(parts, " ")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
