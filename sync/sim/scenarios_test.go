package sim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

func field(t *testing.T, d *device, coll, id, name string) any {
	t.Helper()
	rec, ok, err := d.c.Get(ctx, coll, id)
	if err != nil || !ok {
		t.Fatalf("%s does not hold %s/%s (%v)", d.name, coll, id, err)
	}
	return rec.Fields[name]
}

func conflictCount(t *testing.T, w *world) int {
	t.Helper()
	var n int
	if err := w.env.App.DB().NewQuery(`SELECT COUNT(*) FROM conflicts`).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// FIELD-SCENARIOS 2: the social worker adds a note while the officer,
// offline, corrects the disposition of the same encounter. Both survive,
// no conflict.
func TestScenario2DifferentFieldsSameEncounter(t *testing.T) {
	w := newWorld(t)
	worker := w.addDevice(t, "worker", "outreach_worker", nil, nil, nil)
	officer := w.addDevice(t, "officer", "officer", nil, nil, nil)
	enc := worker.create(t, "encounters", map[string]any{"team": w.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z",
		"encounter_type": "crisis_call", "disposition": "no_action"})
	worker.sync(t)
	officer.sync(t)

	worker.update(t, "encounters", enc.RecordID, map[string]any{"general_notes": "Referred to Harbor Light detox, bed 14."})
	officer.update(t, "encounters", enc.RecordID, map[string]any{"disposition": "voluntary_transport"})
	rw := worker.sync(t)
	ro := officer.sync(t)
	if rw.Push.Applied != 1 || ro.Push.Applied != 1 || ro.Push.Conflict != 0 {
		t.Fatalf("worker push %+v, officer push %+v: both must apply", rw.Push, ro.Push)
	}
	worker.sync(t)
	for _, d := range []*device{worker, officer} {
		if got := field(t, d, "encounters", enc.RecordID, "disposition"); got != "voluntary_transport" {
			t.Errorf("%s shows disposition %v", d.name, got)
		}
		if got := field(t, d, "encounters", enc.RecordID, "general_notes"); got != "Referred to Harbor Light detox, bed 14." {
			t.Errorf("%s shows notes %v", d.name, got)
		}
	}
	if n := conflictCount(t, w); n != 0 {
		t.Fatalf("%d conflicts opened for edits of different fields", n)
	}
}

// FIELD-SCENARIOS 3: both devices change a follow-up's due date offline.
// The first to arrive wins (whatever the device clocks say), the other
// value is kept in a conflict; the team lead overrides it through the
// records API and the decision reaches both devices.
func TestScenario3SameFieldTwoDevices(t *testing.T) {
	w := newWorld(t)
	ahead := func() time.Time { return time.Now().Add(24 * time.Hour) }
	a := w.addDevice(t, "worker", "outreach_worker", nil, ahead, nil)
	b := w.addDevice(t, "clinician", "clinician", nil, nil, nil)
	lead := w.addDevice(t, "lead", "team_lead", nil, nil, nil)
	fu := a.create(t, "followups", map[string]any{"team": w.team.Id, "status": "open", "due_at": "2026-12-01 10:00:00.000Z"})
	a.sync(t)
	b.sync(t)

	b.update(t, "followups", fu.RecordID, map[string]any{"due_at": "2026-12-02 10:00:00.000Z"})
	a.update(t, "followups", fu.RecordID, map[string]any{"due_at": "2026-12-03 10:00:00.000Z"}) // later by a's (wrong) clock
	if rep := b.sync(t); rep.Push.Applied != 1 {
		t.Fatalf("first arrival must apply: %+v", rep.Push)
	}
	if rep := a.sync(t); rep.Push.Conflict != 1 {
		t.Fatalf("second arrival must be a conflict: %+v", rep.Push)
	}
	srv, _ := w.env.App.FindRecordById("followups", fu.RecordID)
	if got := srv.GetString("due_at"); got != "2026-12-02 10:00:00.000Z" {
		t.Fatalf("winner %q, want the first arrival", got)
	}
	conflicts, _ := a.c.Results(ctx, protocol.ResultConflict)
	if len(conflicts) != 1 || len(conflicts[0].Result.ConflictIDs) != 1 {
		t.Fatalf("device kept %+v", conflicts)
	}
	cid := conflicts[0].Result.ConflictIDs[0]

	lead.sync(t)
	rec, ok, _ := lead.c.Get(ctx, "conflicts", cid)
	if !ok {
		t.Fatal("the team lead's device did not receive the conflict")
	}
	if rec.Fields["field"] != "due_at" || !strings.Contains(fmt.Sprint(rec.Fields["device_value"]), "2026-12-03") ||
		!strings.Contains(fmt.Sprint(rec.Fields["server_value"]), "2026-12-02") || rec.Fields["status"] != "open" {
		t.Fatalf("conflict on the lead's device: %v", rec.Fields)
	}
	// The lead overrides: the losing value becomes the record's.
	res := w.env.Do(t, http.MethodPatch, "/api/collections/conflicts/records/"+cid, w.env.Token(t, w.users["team_lead"]),
		map[string]any{"status": "overridden", "chosen_value": "2026-12-03 10:00:00.000Z"})
	if res.Status != http.StatusOK {
		t.Fatalf("override: %d %s", res.Status, res.Body)
	}
	for _, d := range []*device{a, b, lead} {
		d.sync(t)
		if got := field(t, d, "followups", fu.RecordID, "due_at"); got != "2026-12-03 10:00:00.000Z" {
			t.Errorf("%s shows due_at %v after the lead's decision", d.name, got)
		}
	}
	if rec, _, _ := lead.c.Get(ctx, "conflicts", cid); rec.Fields["status"] != "overridden" {
		t.Errorf("lead's device shows the conflict as %v", rec.Fields["status"])
	}
}

// FIELD-SCENARIOS 5: a tablet returns after a week with 5,000 queued
// changes; meanwhile some of the records it edits were changed by others
// or deleted. All valid work lands, each refusal says why, and the tablet
// catches up in a bounded number of pages.
func TestScenario5WeekOffline(t *testing.T) {
	w := newWorld(t)
	away := w.addDevice(t, "away", "outreach_worker", nil, nil, nil)
	other := w.addDevice(t, "other", "clinician", nil, nil, nil)
	lead := w.addDevice(t, "lead", "team_lead", nil, nil, nil)
	var existing []string
	for i := 0; i < 60; i++ {
		r := w.env.Create(t, "encounters", map[string]any{"team": w.team.Id, "occurred_at": "2026-11-14 22:00:00.000Z",
			"encounter_type": "outreach", "disposition": "no_action"})
		existing = append(existing, r.Id)
	}
	for _, d := range []*device{away, other, lead} {
		d.sync(t)
	}

	// A week offline: 2,400 new encounters, each with a follow-up that
	// depends on it, 120 edits of existing encounters, 80 status moves.
	var followups []string
	for i := 0; i < 2400; i++ {
		enc := away.create(t, "encounters", map[string]any{"team": w.team.Id, "occurred_at": "2026-11-15 22:00:00.000Z", "encounter_type": "outreach"})
		fu := away.create(t, "followups", map[string]any{"team": w.team.Id, "encounter": enc.RecordID, "status": "open"})
		followups = append(followups, fu.RecordID)
	}
	for i, id := range existing {
		away.update(t, "encounters", id, map[string]any{"disposition": "declined"})
		away.update(t, "encounters", id, map[string]any{"general_notes": fmt.Sprintf("week note %d", i)})
	}
	for _, id := range followups[:80] {
		away.update(t, "followups", id, map[string]any{"status": "in_progress"})
	}
	if q, _ := away.c.Queue(ctx); len(q) != 5000 {
		t.Fatalf("queued %d, want 5000", len(q))
	}
	// Meanwhile: ten encounters deleted, ten others' disposition changed.
	for _, id := range existing[:10] {
		lead.delete(t, "encounters", id)
	}
	lead.sync(t)
	for _, id := range existing[10:20] {
		other.update(t, "encounters", id, map[string]any{"disposition": "arrest"})
	}
	other.sync(t)

	rep := away.sync(t)
	if rep.Push.Batches < 10 {
		t.Errorf("5,000 changes went in %d batches; at most %d per push", rep.Push.Batches, 500)
	}
	// 10 deleted encounters x 2 edits are refused; 10 concurrent edits are conflicts.
	if rep.Push.Rejected != 20 || rep.Push.Conflict != 10 || rep.Push.Applied+rep.Push.Merged != 5000-30 {
		t.Fatalf("push of the week's work: %+v", rep.Push)
	}
	rejected, _ := away.c.Rejected(ctx)
	for _, r := range rejected {
		if r.Result.Error == nil || r.Result.Error.Code != protocol.CodeRecordDeleted || r.Result.Error.Message == "" {
			t.Fatalf("refusal without its reason: %+v", r.Result)
		}
	}
	if n := countRecords(t, w, "followups"); n != 2400 {
		t.Fatalf("server has %d follow-ups, want 2400", n)
	}
	if n := countRecords(t, w, "encounters"); n != 2400+50 {
		t.Fatalf("server has %d encounters, want %d", n, 2400+50)
	}
	changes := rep.Pull.Upserts + rep.Pull.Deletes + rep.Pull.Evicts
	if max := changes/protocol.DefaultPullLimit + 2; rep.Pull.Pages > max {
		t.Errorf("caught up in %d pages for %d changes; want at most %d", rep.Pull.Pages, changes, max)
	}
	// The tablet now agrees with the server.
	fresh := w.addDevice(t, "away-fresh", "outreach_worker", nil, nil, nil)
	fresh.sync(t)
	for _, coll := range []string{"encounters", "followups"} {
		a, b := list(t, away, coll), list(t, fresh, coll)
		if len(a) != len(b) {
			t.Fatalf("%s: tablet holds %d, server view %d", coll, len(a), len(b))
		}
	}
}

func countRecords(t *testing.T, w *world, coll string) int {
	t.Helper()
	var n int
	if err := w.env.App.DB().NewQuery("SELECT COUNT(*) FROM " + coll).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// FIELD-SCENARIOS 6: a tablet's clock is a day ahead, another's a year
// behind. The behind one's later edit still lands; the ahead one does not
// beat edits that arrive after it.
func TestScenario6WrongClock(t *testing.T) {
	w := newWorld(t)
	ahead := w.addDevice(t, "ahead", "outreach_worker", nil, func() time.Time { return time.Now().Add(24 * time.Hour) }, nil)
	behind := w.addDevice(t, "behind", "clinician", nil, func() time.Time { return time.Now().AddDate(-1, 0, 0) }, nil)
	p := ahead.create(t, "persons", map[string]any{"display_name": "Smokey", "teams": []string{w.team.Id}})
	ahead.sync(t)
	behind.sync(t)

	ahead.update(t, "persons", p.RecordID, map[string]any{"display_name": "Smokey Joe"})
	ahead.sync(t)
	behind.sync(t)
	behind.update(t, "persons", p.RecordID, map[string]any{"display_name": "Joe Smith"}) // made after, by a clock a year behind
	if rep := behind.sync(t); rep.Push.Applied != 1 {
		t.Fatalf("the later edit from the slow clock must land: %+v", rep.Push)
	}
	ahead.sync(t)
	for _, d := range []*device{ahead, behind} {
		if got := field(t, d, "persons", p.RecordID, "display_name"); got != "Joe Smith" {
			t.Errorf("%s shows %v", d.name, got)
		}
	}
	if conflictCount(t, w) != 0 {
		t.Fatal("sequential edits are not conflicts, whatever the clocks")
	}
}

// FIELD-SCENARIOS 16 through the client: bad values in the queue are
// refused one by one with a code, and the rest of the queue lands.
func TestScenario16BadInputInTheQueue(t *testing.T) {
	w := newWorld(t)
	d := w.addDevice(t, "worker", "outreach_worker", nil, nil, nil)
	p := d.create(t, "persons", map[string]any{"display_name": "Ana", "teams": []string{w.team.Id}})
	d.sync(t)

	type bad struct {
		m    protocol.Mutation
		code string
	}
	var bads []bad
	bads = append(bads, bad{d.update(t, "persons", p.RecordID, map[string]any{"favourite_colour": "blue"}), protocol.CodeUnknownField})
	good1 := d.create(t, "persons", map[string]any{"display_name": "Bo", "teams": []string{w.team.Id}})
	bads = append(bads, bad{d.update(t, "persons", p.RecordID, map[string]any{"birth_year": "nineteen eighty"}), protocol.CodeWrongType})
	bads = append(bads, bad{d.create(t, "encounters", map[string]any{"team": w.team.Id, "encounter_type": "outreach", "occurred_at": "yesterday-ish"}), protocol.CodeInvalidValue})
	huge := strings.Repeat("x", 8<<20) // an 8 MB note: over the 1 MiB mutation limit
	bads = append(bads, bad{d.create(t, "encounters", map[string]any{"team": w.team.Id, "encounter_type": "outreach",
		"occurred_at": "2026-11-21 22:00:00.000Z", "general_notes": huge}), protocol.CodeMutationTooLarge})
	good2 := d.create(t, "encounters", map[string]any{"team": w.team.Id, "encounter_type": "outreach", "occurred_at": "2026-11-21 22:00:00.000Z"})

	rep := d.sync(t)
	if rep.Push.Rejected != len(bads) || rep.Push.Applied != 2 {
		t.Fatalf("push %+v", rep.Push)
	}
	rejected, _ := d.c.Rejected(ctx)
	codes := map[string]string{}
	for _, r := range rejected {
		codes[r.Mutation.MutationID] = r.Result.Error.Code
		if r.Result.Error.Message == "" {
			t.Errorf("refusal %s has no message", r.Result.Error.Code)
		}
	}
	for _, b := range bads {
		if codes[b.m.MutationID] != b.code {
			t.Errorf("%s %v: refused with %q, want %q", b.m.Op, keys(b.m.Fields), codes[b.m.MutationID], b.code)
		}
	}
	if _, err := w.env.App.FindRecordById("persons", good1.RecordID); err != nil {
		t.Error("valid person after bad ones did not land")
	}
	if _, err := w.env.App.FindRecordById("encounters", good2.RecordID); err != nil {
		t.Error("valid encounter after bad ones did not land")
	}
}

// FIELD-SCENARIOS 17: the server restarts during a large push. Each batch
// is either wholly applied or not at all; the retry after the restart
// lands the rest and replays the rest; nothing is duplicated.
func TestScenario17RestartMidPush(t *testing.T) {
	w := newWorld(t)
	var pushes atomic.Int32
	secondPush := make(chan struct{})
	d := w.addDevice(t, "worker", "outreach_worker", nil, nil, func(cfg *client.Config) {
		cfg.BatchSize = 1000
		base := cfg.HTTPClient.Transport
		cfg.HTTPClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, protocol.PathPush) && pushes.Add(1) == 2 {
				close(secondPush)
			}
			return base.RoundTrip(r)
		})
	})
	var ids []string
	for i := 0; i < 3000; i++ {
		m := d.create(t, "encounters", map[string]any{"team": w.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z",
			"encounter_type": "outreach", "general_notes": fmt.Sprintf("encounter %d", i)})
		ids = append(ids, m.RecordID)
	}

	var wg sync.WaitGroup
	var pushErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, pushErr = d.c.Push(ctx)
	}()
	<-secondPush
	time.Sleep(15 * time.Millisecond) // let the server start on the second batch
	w.env.Restart(t)
	wg.Wait()
	t.Logf("push during restart: %v", pushErr)

	// Nothing half-applied: whole batches only.
	landed := countRecords(t, w, "encounters")
	var stored int
	if err := w.env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_mutations WHERE device = {:d}`).Bind(dbx.Params{"d": d.c.DeviceID()}).Row(&stored); err != nil {
		t.Fatal(err)
	}
	if landed%1000 != 0 || stored != landed {
		t.Fatalf("after the restart %d encounters and %d stored results: a batch was half applied", landed, stored)
	}
	t.Logf("%d of 3000 landed before the restart", landed)
	if landed < 1000 {
		t.Fatalf("the first batch was answered before the restart but only %d landed", landed)
	}

	rep, err := d.c.Push(ctx)
	if err != nil {
		t.Fatalf("retry after restart: %v", err)
	}
	if rep.Rejected != 0 || rep.Conflict != 0 {
		t.Fatalf("retry %+v", rep)
	}
	if n := countRecords(t, w, "encounters"); n != 3000 {
		t.Fatalf("%d encounters after the retry, want 3000", n)
	}
	all, _ := d.c.Results(ctx, "")
	if len(all) != 3000 {
		t.Fatalf("device kept %d answers, want 3000", len(all))
	}
	for _, r := range all {
		if r.Result.Status != protocol.ResultApplied {
			t.Fatalf("mutation %s: %s", r.Mutation.MutationID, r.Result.Status)
		}
	}
	d.sync(t)
	if l := list(t, d, "encounters"); len(l) != 3000 {
		t.Fatalf("device holds %d encounters", len(l))
	}
	for _, id := range []string{ids[0], ids[1500], ids[2999]} {
		if _, err := w.env.App.FindRecordById("encounters", id); err != nil {
			t.Errorf("encounter %s lost", id)
		}
	}
}

// DESIGN §4.7: free-text notes from two devices are both kept, also when
// one device makes two edits offline. Its second edit grows from its own
// first text, which the server merged with the other device's; that must
// not be taken as "seen the merge" and overwrite the other device's text.
func TestNotesFromTwoDevicesSurviveASecondOfflineEdit(t *testing.T) {
	w := newWorld(t)
	a := w.addDevice(t, "worker", "outreach_worker", nil, nil, nil)
	b := w.addDevice(t, "clinician", "clinician", nil, nil, nil)
	fu := a.create(t, "followups", map[string]any{"team": w.team.Id, "status": "open"})
	a.sync(t)
	b.sync(t)

	b.update(t, "followups", fu.RecordID, map[string]any{"notes": "B: left a voicemail"})
	b.sync(t)
	a.update(t, "followups", fu.RecordID, map[string]any{"notes": "A: met at the library"})
	a.update(t, "followups", fu.RecordID, map[string]any{"notes": "A: met at the library; wants ID help"})
	a.sync(t)
	b.sync(t)

	srv, _ := w.env.App.FindRecordById("followups", fu.RecordID)
	notes := srv.GetString("notes")
	for _, want := range []string{"B: left a voicemail", "wants ID help"} {
		if !strings.Contains(notes, want) {
			t.Errorf("server notes lost %q: %q", want, notes)
		}
	}
	for _, d := range []*device{a, b} {
		if got := field(t, d, "followups", fu.RecordID, "notes"); got != notes {
			t.Errorf("%s shows %q, server has %q", d.name, got, notes)
		}
	}
}
