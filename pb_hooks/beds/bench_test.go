package beds_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// benchProgram makes a programme big enough that every hold is granted.
func benchProgram(b *testing.B) (*testenv.Env, *core.Record, *core.Record, string) {
	b.Helper()
	env := testenv.New(b)
	housing := env.Org(b, "Harbor Housing", "housing")
	outreach := env.Org(b, "City Outreach", "outreach")
	team := env.Team(b, "North Side")
	worker := env.User(b, "Wren Worker", "outreach_worker", outreach, team)
	shelter := env.Create(b, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	p := env.Create(b, "bed_programs", map[string]any{
		"shelter": shelter.Id, "name": "Gym cots", "population": "single_adult", "status": "open",
		"accepting": true, "total_beds": 100000,
	})
	return env, p, team, env.Token(b, worker)
}

// BenchmarkHoldDecision measures one hold decided in process, as the sync
// engine applies it: its own transaction, count, decision, insert and the
// programme's availability update.
func BenchmarkHoldDecision(b *testing.B) {
	env, p, team, _ := benchProgram(b)
	col, err := env.App.FindCollectionByNameOrId("bed_holds")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		err := env.App.RunInTransaction(func(tx core.App) error {
			h := core.NewRecord(col)
			h.Id = newID()
			h.Load(map[string]any{"program": p.Id, "team": team.Id, "status": "requested"})
			return tx.Save(h)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "holds/s")
}

// BenchmarkHoldOverHTTP measures hold requests through the records API from
// 8 concurrent clients on loopback.
func BenchmarkHoldOverHTTP(b *testing.B) {
	env, p, team, tok := benchProgram(b)
	var failed atomic.Int64
	b.SetParallelism(4) // 2 cores × 4 = 8 clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			st, h, _, err := requestHold(env, tok, newID(), p.Id, team.Id, time.Time{})
			if err != nil || st != http.StatusOK || h.Status != "held" {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d hold requests failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "holds/s")
}
