package beds_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// TestConcurrentHoldsAndCounts drives many goroutines over HTTP at once:
// workers asking for holds, two agency clerks editing different counts of
// the same programme through the records API, and an agency system using
// the agency API. Afterwards: no hold double-booked, availability never
// negative and equal to its formula, and neither clerk's last edit lost.
func TestConcurrentHoldsAndCounts(t *testing.T) {
	w := newWorld(t)
	p := w.program(t, "Men's overnight", "single_adult", 60, 20, 0)
	res := w.env.Do(t, http.MethodPost, "/api/beds/v1/tokens", w.leadTok, map[string]any{"label": "intake", "programs": []string{p.Id}})
	var tok issuedToken
	res.JSON(t, &tok)
	clerk2 := w.env.User(t, "Cleo Clerk", "housing_agent", w.housing)
	clerk2Tok := w.env.Token(t, clerk2)

	const holdWorkers, holdsEach = 8, 6 // 48 requests for at most 40 beds
	type outcome struct {
		status int
		hold   string
		err    error
	}
	outcomes := make(chan outcome, holdWorkers*holdsEach)
	errs := make(chan error, 100)
	var wg sync.WaitGroup
	for g := range holdWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range holdsEach {
				st, h, raw, err := requestHold(w.env, w.workerToks[g%3], newID(), p.Id, w.team.Id, time.Time{})
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("hold answered %d: %s", st, raw)
				}
				outcomes <- outcome{st, h.Status, err}
			}
		}()
	}
	// Clerk 1 edits occupied, clerk 2 edits out_of_service, each ending on a
	// known value that is also their smallest, so the last edit can never
	// be refused. A lost update would leave the other clerk's field stale.
	edit := func(token, field string, values []int) {
		defer wg.Done()
		for _, v := range values {
			st, raw, err := send(w.env, http.MethodPatch, "/api/collections/bed_programs/records/"+p.Id, token, map[string]any{field: v})
			if err != nil || (st != http.StatusOK && st != http.StatusUnprocessableEntity) {
				errs <- fmt.Errorf("%s=%d answered %d %v: %s", field, v, st, err, raw)
			}
		}
	}
	wg.Add(2)
	go edit(w.agentTok, "occupied", []int{21, 19, 22, 18, 20, 17, 16})
	go edit(clerk2Tok, "out_of_service", []int{1, 2, 0, 3, 1, 2, 0})
	// The agency system flips "accepting" through its token meanwhile.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 6 {
			st, raw, err := send(w.env, http.MethodPatch, "/api/beds/v1/programs/"+p.Id+"/counts", "Bearer "+tok.Token, map[string]any{"accepting": true, "hold_minutes": 60 + i})
			if err != nil || st != http.StatusOK {
				errs <- fmt.Errorf("token update answered %d %v: %s", st, err, raw)
			}
		}
	}()
	// A watcher reads availability over HTTP the whole time: never negative.
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			st, raw, err := send(w.env, http.MethodGet, "/api/collections/bed_programs/records/"+p.Id, w.workerToks[0], nil)
			var pr struct{ Available int }
			if err == nil && st == 200 && json.Unmarshal(raw, &pr) == nil && pr.Available < 0 {
				errs <- fmt.Errorf("availability seen negative: %s", raw)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	watch.Wait()
	close(outcomes)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	held := 0
	for o := range outcomes {
		if o.err != nil {
			t.Fatal(o.err)
		}
		switch o.hold {
		case domain.HoldHeld:
			held++
		case domain.HoldRejectedNoCapacity:
		default:
			t.Fatalf("unexpected hold status %q", o.hold)
		}
	}
	final := checkInvariant(t, w.env, p.Id)
	if final.GetInt("active_holds") != held {
		t.Fatalf("%d holds answered held but the programme counts %d", held, final.GetInt("active_holds"))
	}
	if final.GetInt("occupied") != 16 || final.GetInt("out_of_service") != 0 {
		t.Fatalf("lost update: occupied %d (want clerk 1's last 16), out_of_service %d (want clerk 2's last 0)",
			final.GetInt("occupied"), final.GetInt("out_of_service"))
	}
	if final.GetInt("hold_minutes") != 65 || !final.GetBool("accepting") {
		t.Fatalf("lost update of the token's last edit: hold_minutes %d", final.GetInt("hold_minutes"))
	}
	t.Logf("%d of %d holds granted; final available %d", held, holdWorkers*holdsEach, final.GetInt("available"))
}
