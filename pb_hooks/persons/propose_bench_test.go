package persons_test

import (
	"math/rand/v2"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/pb_hooks/persons"
)

// BenchmarkProposeOne measures the check a records API create runs: load
// every unmerged person from SQLite, index them, and compare one, with
// 5,000 persons on the hub.
func BenchmarkProposeOne(b *testing.B) {
	env := testenv.New(b)
	team := env.Team(b, "North Side")
	col, err := env.App.FindCollectionByNameOrId("persons")
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	rng := rand.New(rand.NewPCG(7, 9))
	err = env.App.RunInTransaction(func(tx core.App) error {
		for i := range 5000 {
			r := core.NewRecord(col)
			r.Load(map[string]any{"display_name": randomName(rng), "teams": []string{team.Id}, "birth_year": 1950 + i%50})
			if err := tx.Save(r); err != nil {
				return err
			}
			ids = append(ids, r.Id)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := persons.Propose(env.App, ids[i%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// randomName makes a pronounceable two-word name, so that the hub holds
// thousands of distinct people, as it would in a city.
func randomName(r *rand.Rand) string {
	const cons, vows = "bcdfghjklmnprstvwz", "aeiou"
	word := func() string {
		b := make([]byte, 0, 8)
		for range 2 + r.IntN(2) {
			b = append(b, cons[r.IntN(len(cons))], vows[r.IntN(len(vows))])
		}
		return string(b)
	}
	return word() + " " + word()
}
