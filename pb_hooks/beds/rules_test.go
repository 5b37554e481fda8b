package beds_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/pb_hooks/beds"
)

// TestProgramRules covers count changes through the records API: derived
// fields are server-owned, negative availability is refused with a code,
// and a valid change keeps availability and its age true.
func TestProgramRules(t *testing.T) {
	w := newWorld(t)
	p := w.program(t, "Men's overnight", "single_adult", 10, 2, 1)
	if got := checkInvariant(t, w.env, p.Id); got.GetInt("available") != 7 {
		t.Fatalf("new programme available = %d, want 7", got.GetInt("available"))
	}
	path := "/api/collections/bed_programs/records/" + p.Id
	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"available is derived", w.agentTok, map[string]any{"available": 50}, 422, beds.CodeServerOwnedField},
		{"active_holds is derived", w.agentTok, map[string]any{"active_holds": 0}, 422, beds.CodeServerOwnedField},
		{"occupied past capacity", w.agentTok, map[string]any{"occupied": 10}, 422, beds.CodeAvailabilityNegative},
		{"out of service past capacity", w.agentTok, map[string]any{"out_of_service": 9}, 422, beds.CodeAvailabilityNegative},
		{"worker cannot edit counts", w.workerToks[0], map[string]any{"occupied": 3}, 404, ""},
		{"agent updates occupied", w.agentTok, map[string]any{"occupied": 5}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.env.Do(t, http.MethodPatch, path, tc.token, tc.body)
			if res.Status != tc.status {
				t.Fatalf("want %d, got %d %s", tc.status, res.Status, res.Body)
			}
			if tc.code != "" {
				if e := decodeErr(t, res.Body); e.Code != tc.code || e.Message == "" {
					t.Fatalf("want code %s with a message, got %+v", tc.code, e)
				}
			}
			checkInvariant(t, w.env, p.Id)
		})
	}
	got := checkInvariant(t, w.env, p.Id)
	if got.GetInt("occupied") != 5 || got.GetInt("available") != 4 {
		t.Fatalf("after the update: occupied 5, available 4; got %d, %d", got.GetInt("occupied"), got.GetInt("available"))
	}
	if !strings.Contains(got.GetString("counts_updated_by"), w.agent.Email()) {
		t.Fatalf("counts_updated_by should name the agent, got %q", got.GetString("counts_updated_by"))
	}
	if time.Since(got.GetDateTime("counts_updated_at").Time()) > time.Minute {
		t.Fatalf("counts_updated_at should be now, got %v", got.GetDateTime("counts_updated_at"))
	}
}

// TestHoldRules covers who may move a hold where, over the records API.
func TestHoldRules(t *testing.T) {
	w := newWorld(t)
	p := w.program(t, "Men's overnight", "single_adult", 10, 2, 0)
	otherWorker := w.env.User(t, "Sam South", "outreach_worker", w.outreach, w.otherTeam)
	otherTok := w.env.Token(t, otherWorker)
	otherAgency := w.env.Org(t, "Other Housing", "housing")
	otherAgent := w.env.User(t, "Ola Other", "housing_agent", otherAgency)
	otherShelter := w.env.Create(t, "shelters", map[string]any{"organization": otherAgency.Id, "name": "Elm House"})
	_ = otherShelter

	newHold := func() string {
		id := newID()
		if _, h, raw, _ := requestHold(w.env, w.workerToks[0], id, p.Id, w.team.Id, time.Time{}); h.Status != domain.HoldHeld {
			t.Fatalf("hold should be granted: %s", raw)
		}
		return id
	}

	// A device may not decide its own hold.
	res := w.env.Do(t, http.MethodPost, "/api/collections/bed_holds/records", w.workerToks[0],
		map[string]any{"id": newID(), "program": p.Id, "team": w.team.Id, "status": "held"})
	if e := decodeErr(t, res.Body); res.Status != 422 || e.Code != beds.CodeHoldStatusOnCreate {
		t.Fatalf("a device-decided status must be refused, got %d %s", res.Status, res.Body)
	}
	// A hold cancelled offline before it ever synced takes no bed.
	res = w.env.Do(t, http.MethodPost, "/api/collections/bed_holds/records", w.workerToks[0],
		map[string]any{"id": newID(), "program": p.Id, "team": w.team.Id, "status": "cancelled"})
	if res.Status != 200 || checkInvariant(t, w.env, p.Id).GetInt("active_holds") != 0 {
		t.Fatalf("an offline-cancelled hold should be kept without taking a bed: %d %s", res.Status, res.Body)
	}

	h1 := newHold()
	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"worker cannot mark arrival", w.workerToks[1], map[string]any{"status": "arrived"}, 403, beds.CodeHoldForbidden},
		{"worker cannot extend a hold", w.workerToks[1], map[string]any{"held_until": "2099-01-01 00:00:00.000Z"}, 422, beds.CodeServerOwnedField},
		{"other team cannot see it", otherTok, map[string]any{"status": "cancelled"}, 404, ""},
		{"other agency cannot see it", w.env.Token(t, otherAgent), map[string]any{"status": "arrived"}, 404, ""},
		{"agent cannot cancel for the team", w.agentTok, map[string]any{"status": "cancelled"}, 403, beds.CodeHoldForbidden},
		{"team worker cancels", w.workerToks[1], map[string]any{"status": "cancelled"}, 200, ""},
		{"cancelled is final", w.workerToks[1], map[string]any{"status": "held"}, 403, beds.CodeHoldForbidden},
		{"agent cannot revive it", w.agentTok, map[string]any{"status": "arrived"}, 422, beds.CodeHoldTransition},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := w.env.Do(t, http.MethodPatch, "/api/collections/bed_holds/records/"+h1, tc.token, tc.body)
			if res.Status != tc.status {
				t.Fatalf("want %d, got %d %s", tc.status, res.Status, res.Body)
			}
			if tc.code != "" {
				if e := decodeErr(t, res.Body); e.Code != tc.code {
					t.Fatalf("want code %s, got %+v", tc.code, e)
				}
			}
			checkInvariant(t, w.env, p.Id)
		})
	}
	if got := checkInvariant(t, w.env, p.Id); got.GetInt("available") != 8 {
		t.Fatalf("cancelled hold must release its bed: available %d", got.GetInt("available"))
	}

	// The agent confirms an arrival: the bed moves from held to occupied.
	h2 := newHold()
	res = w.env.Do(t, http.MethodPatch, "/api/collections/bed_holds/records/"+h2, w.agentTok, map[string]any{"status": "arrived"})
	if res.Status != 200 {
		t.Fatalf("agent should confirm arrival: %d %s", res.Status, res.Body)
	}
	got := checkInvariant(t, w.env, p.Id)
	if got.GetInt("occupied") != 3 || got.GetInt("available") != 7 {
		t.Fatalf("arrival: occupied 3, available 7; got %d, %d", got.GetInt("occupied"), got.GetInt("available"))
	}

	// Sync saves holds with txApp.Save inside its own transaction: the same
	// rules apply there.
	h3 := newHold()
	err := w.env.App.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById("bed_holds", h3)
		if err != nil {
			return err
		}
		rec.Set("status", "held")
		rec.Set("held_until", "2099-01-01 00:00:00.000Z")
		return tx.Save(rec)
	})
	if re, ok := beds.AsRuleError(err); !ok || re.Code != beds.CodeHoldImmutable {
		t.Fatalf("extending a hold inside a transaction must be refused with a code, got %v", err)
	}
	err = w.env.App.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById("bed_holds", h3)
		if err != nil {
			return err
		}
		rec.Set("status", "cancelled")
		return tx.Save(rec)
	})
	if err != nil {
		t.Fatalf("cancel inside a transaction: %v", err)
	}
	checkInvariant(t, w.env, p.Id)
}

// TestExpireHolds runs the expiry job at a chosen time.
func TestExpireHolds(t *testing.T) {
	w := newWorld(t)
	p := w.program(t, "Men's overnight", "single_adult", 3, 0, 0)
	id := newID()
	if _, h, raw, _ := requestHold(w.env, w.workerToks[0], id, p.Id, w.team.Id, time.Time{}); h.Status != domain.HoldHeld {
		t.Fatalf("hold should be granted: %s", raw)
	}
	if n, err := beds.ExpireHolds(w.env.App, time.Now().Add(89*time.Minute)); err != nil || n != 0 {
		t.Fatalf("nothing lapses before 90 minutes: %d %v", n, err)
	}
	if got := checkInvariant(t, w.env, p.Id); got.GetInt("available") != 2 {
		t.Fatalf("available before expiry = %d", got.GetInt("available"))
	}
	if n, err := beds.ExpireHolds(w.env.App, time.Now().Add(91*time.Minute)); err != nil || n != 1 {
		t.Fatalf("the hold lapses after 90 minutes: %d %v", n, err)
	}
	h := reload(t, w.env, "bed_holds", id)
	if h.GetString("status") != domain.HoldExpired || !strings.Contains(h.GetString("reason"), "Nobody arrived") {
		t.Fatalf("expired hold should say why: %s %q", h.GetString("status"), h.GetString("reason"))
	}
	if got := checkInvariant(t, w.env, p.Id); got.GetInt("available") != 3 {
		t.Fatalf("expired hold must release its bed: %d", got.GetInt("available"))
	}
	var n int
	_ = w.env.App.DB().NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'hold_expire' AND record_id = {:id}").
		Bind(map[string]any{"id": id}).Row(&n)
	if n != 1 {
		t.Fatalf("expiry should be audited once, found %d", n)
	}
}
