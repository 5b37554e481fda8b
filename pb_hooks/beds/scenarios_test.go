package beds_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// FIELD-SCENARIOS 7: three offline tablets each hold a bed in a programme
// with two free. Two are granted, one is refused with the reason and nearby
// alternatives, and availability never goes below zero. Replaying a hold
// returns the original decision.
func TestScenario7ThreeHoldsTwoBeds(t *testing.T) {
	w := newWorld(t)
	men := w.program(t, "Men's overnight", "single_adult", 10, 8, 0)
	womens := w.program(t, "Women's overnight", "women", 5, 1, 0)
	adults2 := w.program(t, "Annex cots", "single_adult", 4, 3, 0)

	type result struct {
		status int
		hold   hold
		body   []byte
		err    error
		id     string
	}
	results := make([]result, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := newID()
			st, h, raw, err := requestHold(w.env, w.workerToks[i], id, men.Id, w.team.Id, time.Now().Add(-10*time.Minute))
			results[i] = result{st, h, raw, err, id}
		}()
	}
	wg.Wait()

	var held, refused []result
	for _, r := range results {
		if r.err != nil || r.status != http.StatusOK {
			t.Fatalf("hold request answered %d %v: %s", r.status, r.err, r.body)
		}
		switch r.hold.Status {
		case domain.HoldHeld:
			held = append(held, r)
		case domain.HoldRejectedNoCapacity:
			refused = append(refused, r)
		default:
			t.Fatalf("unexpected status %q: %s", r.hold.Status, r.body)
		}
	}
	if len(held) != 2 || len(refused) != 1 {
		t.Fatalf("want 2 held and 1 refused, got %d held, %d refused", len(held), len(refused))
	}
	for _, r := range held {
		if r.hold.HeldUntil == "" {
			t.Fatalf("held hold has no held_until: %s", r.body)
		}
	}
	no := refused[0].hold
	if !strings.Contains(no.Reason, "No bed left at Men's overnight") {
		t.Fatalf("refusal should say why, got %q", no.Reason)
	}
	// Nearby = same population first: the adult annex before the women's beds.
	if len(no.Alternatives) != 2 || no.Alternatives[0].ID != adults2.Id || no.Alternatives[1].ID != womens.Id {
		t.Fatalf("alternatives should list the annex then the women's programme, got %+v", no.Alternatives)
	}
	if !strings.Contains(no.Reason, "Annex cots at Harbor House (1 free)") {
		t.Fatalf("reason should name the alternatives, got %q", no.Reason)
	}
	p := checkInvariant(t, w.env, men.Id)
	if p.GetInt("available") != 0 || p.GetInt("active_holds") != 2 {
		t.Fatalf("programme should show 0 available, 2 held; got %d, %d", p.GetInt("available"), p.GetInt("active_holds"))
	}

	// The tablet whose answer was lost pushes the same hold again.
	st, again, raw, err := requestHold(w.env, w.workerToks[0], refused[0].id, men.Id, w.team.Id, time.Now().Add(-10*time.Minute))
	if err != nil || st != http.StatusOK || again.Status != domain.HoldRejectedNoCapacity || again.Reason != no.Reason {
		t.Fatalf("replaying a hold must return the original decision, got %d %s", st, raw)
	}
	st, again, raw, _ = requestHold(w.env, w.workerToks[1], held[0].id, men.Id, w.team.Id, time.Time{})
	if st != http.StatusOK || again.Status != domain.HoldHeld || again.HeldUntil != held[0].hold.HeldUntil {
		t.Fatalf("replaying a granted hold must return it unchanged, got %d %s", st, raw)
	}
	checkInvariant(t, w.env, men.Id)
}

// FIELD-SCENARIOS 8: a hold queued at 21:00 reaches the server at 23:15 with
// a 90-minute term: it is refused as expired and the worker is told.
func TestScenario8LateHoldExpired(t *testing.T) {
	w := newWorld(t)
	men := w.program(t, "Men's overnight", "single_adult", 10, 2, 0)
	queued := time.Now().UTC().Add(-135 * time.Minute)

	st, h, raw, err := requestHold(w.env, w.workerToks[0], newID(), men.Id, w.team.Id, queued)
	if err != nil || st != http.StatusOK {
		t.Fatalf("late hold should be recorded, got %d %v %s", st, err, raw)
	}
	if h.Status != domain.HoldExpired {
		t.Fatalf("late hold should be expired, got %q", h.Status)
	}
	wantQueued := "Queued at " + queued.In(time.Local).Format("15:04 MST")
	if !strings.Contains(h.Reason, wantQueued) || !strings.Contains(h.Reason, "90-minute") {
		t.Fatalf("reason should say when it was queued and the term, got %q", h.Reason)
	}
	if h.HeldUntil != "" {
		t.Fatalf("an expired request holds nothing, got held_until %q", h.HeldUntil)
	}
	p := checkInvariant(t, w.env, men.Id)
	if p.GetInt("available") != 8 {
		t.Fatalf("a refused late hold must not take a bed, available = %d", p.GetInt("available"))
	}

	// A programme with a longer term still grants the same late request.
	long := w.program(t, "Long-hold programme", "single_adult", 3, 0, 0)
	long.Set("hold_minutes", 180)
	if err := w.env.App.Save(long); err != nil {
		t.Fatal(err)
	}
	if _, h, raw, _ := requestHold(w.env, w.workerToks[0], newID(), long.Id, w.team.Id, queued); h.Status != domain.HoldHeld {
		t.Fatalf("within a 180-minute term the hold should be granted: %s", raw)
	}
	// A tablet whose clock runs a day ahead cannot stretch a hold.
	st, h, raw, _ = requestHold(w.env, w.workerToks[1], newID(), men.Id, w.team.Id, time.Now().Add(24*time.Hour))
	if st != http.StatusOK || h.Status != domain.HoldHeld {
		t.Fatalf("future-dated request should be granted from now: %s", raw)
	}
	until, err := time.Parse("2006-01-02 15:04:05.000Z", h.HeldUntil)
	if err != nil || until.After(time.Now().Add(91*time.Minute)) {
		t.Fatalf("held_until must be server now + 90 min, got %q", h.HeldUntil)
	}
}

// FIELD-SCENARIOS 9: the agency lowers capacity from 10 to 6 while holds are
// active and more are queued offline. Policy: granted holds are honoured; a
// cut that would make availability negative is refused unless the agency
// confirms with force=true, which releases the newest holds with a reason.
// Requests that arrive afterwards are decided against the new capacity.
func TestScenario9CapacityCut(t *testing.T) {
	w := newWorld(t)
	men := w.program(t, "Men's overnight", "single_adult", 10, 4, 0)
	var ids []string
	for i := range 4 {
		id := newID()
		if _, h, raw, _ := requestHold(w.env, w.workerToks[i%3], id, men.Id, w.team.Id, time.Time{}); h.Status != domain.HoldHeld {
			t.Fatalf("hold %d should be granted: %s", i, raw)
		}
		ids = append(ids, id)
		time.Sleep(5 * time.Millisecond) // distinct decided_at, so "newest" is well defined
	}
	checkInvariant(t, w.env, men.Id)

	// 6 total − 4 occupied − 4 held = −2: refused, and the agency is told why.
	res := w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+men.Id+"/counts", w.agentTok, map[string]any{"total_beds": 6})
	if res.Status != http.StatusUnprocessableEntity {
		t.Fatalf("cut below held beds should be refused, got %d %s", res.Status, res.Body)
	}
	e := decodeErr(t, res.Body)
	if e.Code != "beds_availability_negative" || !strings.Contains(e.Message, "force=true") || e.Data["active_holds"] != float64(4) {
		t.Fatalf("refusal should name the rule and the way out, got %+v", e)
	}
	if p := checkInvariant(t, w.env, men.Id); p.GetInt("total_beds") != 10 {
		t.Fatalf("refused cut must change nothing, total = %d", p.GetInt("total_beds"))
	}

	// force cannot make the counts themselves impossible: 3 total beds
	// with 4 occupied is refused even if every hold were released.
	res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+men.Id+"/counts?force=true", w.agentTok, map[string]any{"total_beds": 3})
	if e := decodeErr(t, res.Body); res.Status != http.StatusUnprocessableEntity || e.Code != "beds_availability_negative" {
		t.Fatalf("a cut below the occupied beds must be refused even with force, got %d %s", res.Status, res.Body)
	}
	if p := checkInvariant(t, w.env, men.Id); p.GetInt("active_holds") != 4 {
		t.Fatalf("a refused forced cut must release no hold, %d held", p.GetInt("active_holds"))
	}

	// Confirmed cut: the two newest holds are released.
	res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+men.Id+"/counts?force=true", w.agentTok, map[string]any{"total_beds": 6})
	if res.Status != http.StatusOK {
		t.Fatalf("forced cut should be applied, got %d %s", res.Status, res.Body)
	}
	p := checkInvariant(t, w.env, men.Id)
	if p.GetInt("total_beds") != 6 || p.GetInt("available") != 0 || p.GetInt("active_holds") != 2 {
		t.Fatalf("after the cut: total 6, 2 held, 0 available; got %d, %d, %d", p.GetInt("total_beds"), p.GetInt("active_holds"), p.GetInt("available"))
	}
	for i, id := range ids {
		h := reload(t, w.env, "bed_holds", id)
		want := domain.HoldHeld
		if i >= 2 {
			want = domain.HoldCancelled
		}
		if h.GetString("status") != want {
			t.Fatalf("hold %d (oldest first) should be %s, is %s", i, want, h.GetString("status"))
		}
		if want == domain.HoldCancelled && !strings.Contains(h.GetString("reason"), "cut capacity") {
			t.Fatalf("released hold should say why: %q", h.GetString("reason"))
		}
	}
	// The worker's device learns the outcome through an ordinary read.
	res = w.env.Do(t, http.MethodGet, "/api/collections/bed_holds/records/"+ids[3], w.workerToks[0], nil)
	var seen hold
	res.JSON(t, &seen)
	if seen.Status != domain.HoldCancelled {
		t.Fatalf("worker should see the cancellation, got %s", res.Body)
	}
	// A hold queued offline before the cut arrives now: no room.
	if _, h, raw, _ := requestHold(w.env, w.workerToks[2], newID(), men.Id, w.team.Id, time.Now().Add(-20*time.Minute)); h.Status != domain.HoldRejectedNoCapacity {
		t.Fatalf("queued hold after the cut should be refused: %s", raw)
	}
	checkInvariant(t, w.env, men.Id)
}

// FIELD-SCENARIOS 10: a programme closes; its holds become
// cancelled_program_closed, and new requests are told it is closed.
func TestScenario10ProgramCloses(t *testing.T) {
	for _, via := range []string{"agency API", "records API"} {
		t.Run(via, func(t *testing.T) {
			w := newWorld(t)
			men := w.program(t, "Men's overnight", "single_adult", 10, 2, 0)
			w.program(t, "Annex cots", "single_adult", 4, 0, 0)
			var ids []string
			for i := range 3 {
				id := newID()
				if _, h, raw, _ := requestHold(w.env, w.workerToks[i], id, men.Id, w.team.Id, time.Time{}); h.Status != domain.HoldHeld {
					t.Fatalf("hold should be granted: %s", raw)
				}
				ids = append(ids, id)
			}
			var res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+men.Id+"/counts", w.agentTok, map[string]any{"status": "closed"})
			if via == "records API" {
				res = w.env.Do(t, http.MethodPatch, "/api/collections/bed_programs/records/"+men.Id, w.agentTok, map[string]any{"status": "closed"})
			}
			if res.Status != http.StatusOK {
				t.Fatalf("closing should succeed, got %d %s", res.Status, res.Body)
			}
			for _, id := range ids {
				h := reload(t, w.env, "bed_holds", id)
				if h.GetString("status") != domain.HoldCancelledProgramClosed || !strings.Contains(h.GetString("reason"), "closed") {
					t.Fatalf("hold should be cancelled_program_closed with a reason, got %s %q", h.GetString("status"), h.GetString("reason"))
				}
				if !strings.Contains(h.GetString("reason"), "Annex cots") {
					t.Fatalf("closing reason should offer the open alternative, got %q", h.GetString("reason"))
				}
			}
			p := checkInvariant(t, w.env, men.Id)
			if p.GetInt("active_holds") != 0 || p.GetInt("available") != 8 {
				t.Fatalf("closed programme holds nothing: active %d available %d", p.GetInt("active_holds"), p.GetInt("available"))
			}
			if _, h, raw, _ := requestHold(w.env, w.workerToks[0], newID(), men.Id, w.team.Id, time.Time{}); h.Status != domain.HoldCancelledProgramClosed {
				t.Fatalf("a request to a closed programme should be told so: %s", raw)
			}
		})
	}
}
