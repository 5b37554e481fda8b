package persons

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// syntheticProfiles makes n distinct, pronounceable street names with one
// alias each, as a city's caseload would have.
func syntheticProfiles(n int) []Profile {
	r := rand.New(rand.NewPCG(1, 2))
	const cons, vows = "bcdfghjklmnprstvwz", "aeiou"
	word := func() string {
		b := make([]byte, 0, 8)
		for range 2 + r.IntN(2) {
			b = append(b, cons[r.IntN(len(cons))], vows[r.IntN(len(vows))])
		}
		return string(b)
	}
	out := make([]Profile, n)
	for i := range out {
		out[i] = NewProfile(fmt.Sprintf("p%06d", i), word()+" "+word(), `["`+word()+`"]`, 1950+r.IntN(55), "", []string{"t"}, "")
	}
	return out
}

// BenchmarkFind measures one duplicate check (what a records API create
// costs beyond loading profiles) against 20,000 persons.
func BenchmarkFind(b *testing.B) {
	ps := syntheticProfiles(20000)
	m := NewMatcher(ps)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m.Find(ps[i%len(ps)])
	}
}

// BenchmarkNewProfile measures normalising one person's names.
func BenchmarkNewProfile(b *testing.B) {
	for b.Loop() {
		NewProfile("x", "José  O'Neil-Ångström", `["Smokey", "Big Jo"]`, 1980, "H-1", []string{"t"}, "")
	}
}
