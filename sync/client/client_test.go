package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

var ctx = context.Background()

// Dependent creates recorded offline land in one push, and come back on
// pull with server versions.
func TestOfflineWorkLandsAndComesBack(t *testing.T) {
	f := newFixture(t)
	c := f.device(t, f.worker, nil)

	p, err := c.Create(ctx, "persons", map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{f.team.Id}})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Create(ctx, "encounters", map[string]any{
		"person": p.RecordID, "team": f.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z", "encounter_type": "outreach",
	})
	if err != nil {
		t.Fatal(err)
	}
	fu, err := c.Create(ctx, "followups", map[string]any{
		"person": p.RecordID, "encounter": enc.RecordID, "team": f.team.Id, "status": "open", "due_at": "2026-11-23 10:00:00.000Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Offline: visible locally, not yet on the server.
	if rec, ok, err := c.Get(ctx, "followups", fu.RecordID); err != nil || !ok || rec.Pending != 1 || rec.Version != 0 {
		t.Fatalf("offline follow-up: %+v %v %v", rec, ok, err)
	}
	if n := countServer(t, f.env, "followups", ""); n != 0 {
		t.Fatalf("server has %d follow-ups before sync", n)
	}

	rep := mustSync(t, c)
	if rep.Push.Applied != 3 || rep.Push.Rejected != 0 {
		t.Fatalf("push report %+v", rep.Push)
	}
	srv, err := f.env.App.FindRecordById("followups", fu.RecordID)
	if err != nil {
		t.Fatalf("follow-up not on the server: %v", err)
	}
	if srv.GetString("encounter") != enc.RecordID || srv.GetString("status") != "open" {
		t.Fatalf("server follow-up %v", srv.FieldsData())
	}
	rec, ok, err := c.Get(ctx, "followups", fu.RecordID)
	if err != nil || !ok {
		t.Fatalf("follow-up gone locally: %v", err)
	}
	if rec.Pending != 0 || rec.Version == 0 || rec.Fields["encounter"] != enc.RecordID {
		t.Fatalf("local follow-up after sync: %+v", rec)
	}
	if q, _ := c.Queue(ctx); len(q) != 0 {
		t.Fatalf("queue not empty: %d", len(q))
	}
	cur, _ := c.Cursor(ctx)
	if cur == "" {
		t.Fatal("cursor not stored")
	}
}

// A refused change is kept in the rejected list with the server's reason;
// the rest of the queue lands.
func TestRejectedChangesStayVisible(t *testing.T) {
	f := newFixture(t)
	c := f.device(t, f.worker, nil)
	good, _ := c.Create(ctx, "persons", map[string]any{"display_name": "Ana", "teams": []string{f.team.Id}})
	bad, _ := c.Create(ctx, "encounters", map[string]any{
		"team": f.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z", "encounter_type": "outreach", "disposition": "teleported",
	})
	after, _ := c.Create(ctx, "persons", map[string]any{"display_name": "Bo", "teams": []string{f.team.Id}})
	rep := mustSync(t, c)
	if rep.Push.Applied != 2 || rep.Push.Rejected != 1 {
		t.Fatalf("push report %+v", rep.Push)
	}
	rej, err := c.Rejected(ctx)
	if err != nil || len(rej) != 1 {
		t.Fatalf("rejected list %+v %v", rej, err)
	}
	r := rej[0]
	if r.Mutation.MutationID != bad.MutationID || r.Result.Error == nil || r.Result.Error.Code != protocol.CodeInvalidValue || r.Result.Error.Field != "disposition" || r.Result.Error.Message == "" {
		t.Fatalf("rejection %+v %+v", r.Mutation, r.Result.Error)
	}
	if string(r.Mutation.Fields["disposition"]) != `"teleported"` {
		t.Fatal("the refused values must be kept so the worker can fix them")
	}
	for _, id := range []string{good.RecordID, after.RecordID} {
		if _, err := f.env.App.FindRecordById("persons", id); err != nil {
			t.Fatalf("valid person %s lost: %v", id, err)
		}
	}
	if _, ok, _ := c.Get(ctx, "encounters", bad.RecordID); ok {
		t.Fatal("a refused create must not look saved")
	}
	if err := c.DismissRejected(ctx, bad.MutationID); err != nil {
		t.Fatal(err)
	}
	if rej, _ := c.Rejected(ctx); len(rej) != 0 {
		t.Fatal("dismissed rejection still listed")
	}
}

// An interrupted first sync resumes from the last stored page.
func TestInterruptedFirstSyncResumes(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 45; i++ {
		f.env.Create(t, "persons", map[string]any{"display_name": "P" + string(rune('A'+i%26)), "teams": []string{f.team.Id}})
	}
	var pulls atomic.Int32
	var cursors []string
	lossy := &client.LossyTransport{Drop: func(r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, protocol.PathPull) {
			return false
		}
		return pulls.Add(1) == 3 // the third page never arrives
	}}
	rec := recorder{base: lossy, cursors: &cursors}
	c := f.device(t, f.worker, func(cfg *client.Config) {
		cfg.PullLimit = 10
		cfg.HTTPClient = &http.Client{Transport: rec}
	})
	rep, err := c.Pull(ctx)
	if !errors.Is(err, client.ErrAnswerLost) {
		t.Fatalf("pull should fail on the lost page, got %v (%+v)", err, rep)
	}
	if rep.Pages != 2 {
		t.Fatalf("applied %d pages before the loss, want 2", rep.Pages)
	}
	stored, _ := c.Cursor(ctx)
	if stored == "" || stored != cursors[2] {
		t.Fatalf("stored cursor %q; the lost request was sent with %q", stored, cursors[2])
	}
	if rep.Upserts != 20 {
		t.Fatalf("two pages of 10 applied %d records", rep.Upserts)
	}
	rep, err = c.Pull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cursors[3] != stored {
		t.Fatalf("resumed pull started from %q, want the stored %q", cursors[3], stored)
	}
	held, _ := c.List(ctx, "persons")
	if len(held) != 45 {
		t.Fatalf("after resuming the device holds %d persons, want 45", len(held))
	}
	if rep.Pages > 4 {
		t.Fatalf("resume took %d pages; the first two must not be fetched again", rep.Pages)
	}
}

// recorder notes the cursor each pull request carries.
type recorder struct {
	base    http.RoundTripper
	cursors *[]string
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, protocol.PathPull) && req.GetBody != nil {
		body, _ := req.GetBody()
		var pr struct {
			Cursor string `json:"cursor"`
		}
		_ = jsonDecode(body, &pr)
		*r.cursors = append(*r.cursors, pr.Cursor)
	}
	return r.base.RoundTrip(req)
}

// A push whose answer is lost is sent again and answered with the original
// results; nothing is duplicated (FIELD-SCENARIOS 4).
func TestLostPushAnswerIsReplayed(t *testing.T) {
	f := newFixture(t)
	var drop atomic.Bool
	drop.Store(true)
	lossy := &client.LossyTransport{Drop: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, protocol.PathPush) && drop.Swap(false)
	}}
	c := f.device(t, f.worker, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: lossy} })
	p, _ := c.Create(ctx, "persons", map[string]any{"display_name": "Smokey", "teams": []string{f.team.Id}})
	fu, _ := c.Create(ctx, "followups", map[string]any{"person": p.RecordID, "team": f.team.Id, "status": "open", "notes": "bring socks"})
	if _, err := c.Push(ctx); !errors.Is(err, client.ErrAnswerLost) {
		t.Fatalf("push: %v", err)
	}
	if q, _ := c.Queue(ctx); len(q) != 2 {
		t.Fatalf("unanswered mutations must stay queued, have %d", len(q))
	}
	if countServer(t, f.env, "followups", "") != 1 {
		t.Fatal("the server should have applied the push whose answer was lost")
	}
	rep, err := c.Push(ctx)
	if err != nil || rep.Applied != 2 {
		t.Fatalf("replayed push %+v %v", rep, err)
	}
	if countServer(t, f.env, "persons", "") != 1 || countServer(t, f.env, "followups", "") != 1 {
		t.Fatal("the replay duplicated records")
	}
	srv, _ := f.env.App.FindRecordById("followups", fu.RecordID)
	if srv.GetString("notes") != "bring socks" {
		t.Fatalf("notes after replay: %q", srv.GetString("notes"))
	}
	var stored int
	if err := f.env.App.DB().NewQuery(`SELECT COUNT(*) FROM sync_mutations WHERE device = {:d}`).Bind(dbx.Params{"d": c.DeviceID()}).Row(&stored); err != nil || stored != 2 {
		t.Fatalf("server stored %d results (%v), want 2", stored, err)
	}
}

// A revoked device is refused, told to wipe, and erases its data
// (FIELD-SCENARIOS 14).
func TestRevokedDeviceWipes(t *testing.T) {
	f := newFixture(t)
	f.env.Create(t, "persons", map[string]any{"display_name": "Ana", "teams": []string{f.team.Id}})
	c := f.device(t, f.worker, nil)
	mustSync(t, c)
	if l, _ := c.List(ctx, "persons"); len(l) != 1 {
		t.Fatalf("device holds %d persons before revocation", len(l))
	}
	if _, err := c.Create(ctx, "persons", map[string]any{"display_name": "Unsent", "teams": []string{f.team.Id}}); err != nil {
		t.Fatal(err)
	}
	dev, err := f.env.App.FindRecordById("devices", c.DeviceID())
	if err != nil {
		t.Fatalf("device not enrolled: %v", err)
	}
	dev.Set("revoked_at", types.NowDateTime())
	if err := f.env.App.Save(dev); err != nil {
		t.Fatal(err)
	}
	_, err = c.Sync(ctx)
	if !errors.Is(err, client.ErrDeviceRevoked) {
		t.Fatalf("sync of a revoked device: %v", err)
	}
	pe, ok := client.ProtocolError(err)
	if !ok || !pe.Wipe || pe.Code != protocol.CodeDeviceRevoked || pe.Status != http.StatusForbidden {
		t.Fatalf("refusal %+v", pe)
	}
	if l, _ := c.List(ctx, "persons"); len(l) != 0 {
		t.Fatalf("revoked device still holds %d persons", len(l))
	}
	if q, _ := c.Queue(ctx); len(q) != 0 {
		t.Fatal("revoked device still holds its queue")
	}
	if cur, _ := c.Cursor(ctx); cur != "" {
		t.Fatal("revoked device kept its cursor")
	}
}

// A team change answers "rescope": team A's records leave, team B's
// arrive, and unpushed work stays queued (FIELD-SCENARIOS 13).
func TestRescopeKeepsUnpushedWork(t *testing.T) {
	f := newFixture(t)
	teamB := f.env.Team(t, "Team B")
	a := f.env.Create(t, "persons", map[string]any{"display_name": "Of A", "teams": []string{f.team.Id}})
	b := f.env.Create(t, "persons", map[string]any{"display_name": "Of B", "teams": []string{teamB.Id}})
	c := f.device(t, f.worker, nil)
	mustSync(t, c)
	if _, ok, _ := c.Get(ctx, "persons", a.Id); !ok {
		t.Fatal("team A person missing")
	}
	queued, _ := c.Create(ctx, "persons", map[string]any{"display_name": "Met tonight", "teams": []string{teamB.Id}})

	f.worker.Set("teams", []string{teamB.Id})
	if err := f.env.App.Save(f.worker); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Pull(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Resets != 1 {
		t.Fatalf("expected one rescope, report %+v", rep)
	}
	if _, ok, _ := c.Get(ctx, "persons", a.Id); ok {
		t.Fatal("team A's person stayed on the device")
	}
	if _, ok, _ := c.Get(ctx, "persons", b.Id); !ok {
		t.Fatal("team B's person did not arrive")
	}
	if q, _ := c.Queue(ctx); len(q) != 1 || q[0].MutationID != queued.MutationID {
		t.Fatalf("unpushed work lost on rescope: %+v", q)
	}
	mustSync(t, c)
	if _, err := f.env.App.FindRecordById("persons", queued.RecordID); err != nil {
		t.Fatal("queued create did not land after rescope")
	}
}

// An app on an unknown future schema is refused with a clear message and
// keeps its queue; the previous schema keeps syncing (FIELD-SCENARIOS 15).
func TestVersionNegotiation(t *testing.T) {
	f := newFixture(t)
	f.env.Create(t, "persons", map[string]any{"display_name": "Ana", "teams": []string{f.team.Id}})
	future := f.device(t, f.worker, func(cfg *client.Config) { cfg.Schema = protocol.SchemaCurrent + 1 })
	future.Create(ctx, "persons", map[string]any{"display_name": "Kept", "teams": []string{f.team.Id}})
	_, err := future.Sync(ctx)
	pe, ok := client.ProtocolError(err)
	if !ok || pe.Code != protocol.CodeSchemaUnknown || pe.Max != protocol.SchemaCurrent || !strings.Contains(pe.Message, "upgrade") {
		t.Fatalf("future schema: %v", err)
	}
	if q, _ := future.Queue(ctx); len(q) != 1 {
		t.Fatal("a refused app must keep its queue")
	}
	old := f.device(t, f.lead, func(cfg *client.Config) { cfg.Schema = protocol.SchemaMin })
	mustSync(t, old)
	l, _ := old.List(ctx, "persons")
	if len(l) != 1 {
		t.Fatalf("schema %d device holds %d persons", protocol.SchemaMin, len(l))
	}
	for name := range l[0].Fields {
		if !protocol.InSchema(protocol.SchemaMin, "persons", name) {
			t.Errorf("schema %d device received field %q it does not know", protocol.SchemaMin, name)
		}
	}
}

// The late answer of a push the pull has already brought back must not
// overwrite newer pulled values in the local copy.
func TestLateReplayDoesNotOverwriteNewerPull(t *testing.T) {
	f := newFixture(t)
	p := f.env.Create(t, "persons", map[string]any{"display_name": "Smokey", "teams": []string{f.team.Id}})
	var drop atomic.Bool
	lossy := &client.LossyTransport{Drop: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, protocol.PathPush) && drop.Swap(false)
	}}
	a := f.device(t, f.worker, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: lossy} })
	b := f.device(t, f.lead, nil)
	mustSync(t, a)
	mustSync(t, b)

	a.Update(ctx, "persons", p.Id, map[string]any{"display_name": "Smokey J"})
	drop.Store(true)
	if _, err := a.Push(ctx); !errors.Is(err, client.ErrAnswerLost) {
		t.Fatalf("push: %v", err)
	}
	mustSync(t, b) // b sees "Smokey J"
	b.Update(ctx, "persons", p.Id, map[string]any{"display_name": "John"})
	mustSync(t, b)
	if _, err := a.Pull(ctx); err != nil { // a sees "John", its own change still queued
		t.Fatal(err)
	}
	if rec, _, _ := a.Get(ctx, "persons", p.Id); rec.Fields["display_name"] != "Smokey J" || rec.Pending != 1 {
		t.Fatalf("while queued, the device shows its own edit: %+v", rec)
	}
	rep, err := a.Push(ctx) // the late answer: applied, at a version a has passed
	if err != nil || rep.Applied != 1 {
		t.Fatalf("replay %+v %v", rep, err)
	}
	rec, _, _ := a.Get(ctx, "persons", p.Id)
	if rec.Fields["display_name"] != "John" {
		t.Fatalf("late answer overwrote the newer pulled value: %v", rec.Fields["display_name"])
	}
}

// A replayed answer that arrives after the user lost access to the record
// must not leave a copy behind that no pull will ever remove.
func TestReplayAfterTeamChangeLeavesNoGhost(t *testing.T) {
	f := newFixture(t)
	teamB := f.env.Team(t, "Team B")
	var drop atomic.Bool
	drop.Store(true)
	lossy := &client.LossyTransport{Drop: func(r *http.Request) bool {
		return strings.HasSuffix(r.URL.Path, protocol.PathPush) && drop.Swap(false)
	}}
	c := f.device(t, f.worker, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: lossy} })
	m, _ := c.Create(ctx, "persons", map[string]any{"display_name": "Of A", "teams": []string{f.team.Id}})
	if _, err := c.Push(ctx); !errors.Is(err, client.ErrAnswerLost) {
		t.Fatalf("push: %v", err)
	}
	f.worker.Set("teams", []string{teamB.Id})
	if err := f.env.App.Save(f.worker); err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Push(ctx); err != nil || rep.Applied != 1 {
		t.Fatalf("replay: %+v %v", rep, err)
	}
	mustSync(t, c)
	if _, ok, _ := c.Get(ctx, "persons", m.RecordID); ok {
		t.Fatal("the device still shows a team A record after moving to team B")
	}
}

// An applied change stays shown until the pull brings the record back,
// even when a pull stops between pages after the feed has passed the
// change's version (the record's row moved on when it changed again).
func TestAppliedChangeShownUntilPulledBack(t *testing.T) {
	f := newFixture(t)
	p := f.env.Create(t, "persons", map[string]any{"display_name": "Smokey", "teams": []string{f.team.Id}})
	var pulls atomic.Int32
	var losePulls atomic.Bool
	lossy := &client.LossyTransport{Drop: func(r *http.Request) bool {
		return losePulls.Load() && strings.HasSuffix(r.URL.Path, protocol.PathPull) && pulls.Add(1) == 2
	}}
	a := f.device(t, f.worker, func(cfg *client.Config) {
		cfg.PullLimit = 3
		cfg.HTTPClient = &http.Client{Transport: lossy}
	})
	mustSync(t, a)
	if _, err := a.Update(ctx, "persons", p.Id, map[string]any{"display_name": "Smokey Joe"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Push(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ { // filler: the feed moves past a's change
		f.env.Create(t, "persons", map[string]any{"display_name": fmt.Sprintf("Filler %d", i), "teams": []string{f.team.Id}})
	}
	srv, _ := f.env.App.FindRecordById("persons", p.Id)
	srv.Set("hmis_id", "HMIS-1") // another change: the record's row moves to the end
	if err := f.env.App.Save(srv); err != nil {
		t.Fatal(err)
	}
	losePulls.Store(true)
	if _, err := a.Pull(ctx); !errors.Is(err, client.ErrAnswerLost) {
		t.Fatalf("pull: %v", err)
	}
	if rec, _, _ := a.Get(ctx, "persons", p.Id); rec.Fields["display_name"] != "Smokey Joe" {
		t.Fatalf("between pages the device shows %v: its applied change vanished", rec.Fields["display_name"])
	}
	if _, err := a.Pull(ctx); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := a.Get(ctx, "persons", p.Id)
	if rec.Fields["display_name"] != "Smokey Joe" || rec.Fields["hmis_id"] != "HMIS-1" || rec.Version == 0 {
		t.Fatalf("after the pull: %+v", rec)
	}
}
