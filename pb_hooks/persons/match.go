package persons

import (
	"encoding/json"
	"math"
	"strings"
)

// SimilarNameThreshold is the Jaro–Winkler similarity above which two
// normalised names count as similar ("smokey" and "smokie" score 0.93,
// "smokey" and "stanley" 0.69).
const SimilarNameThreshold = 0.90

// MaxBirthYearGap is how far apart two approximate birth years may be for
// the same person: street estimates are often off by a year or two.
const MaxBirthYearGap = 2

// Reason codes stored in person_matches.reasons.
const (
	ReasonSameName       = "same_name"        // normalised names or aliases are equal
	ReasonSimilarName    = "similar_name"     // Jaro–Winkler at or above SimilarNameThreshold
	ReasonBirthYearClose = "birth_year_close" // both known and at most MaxBirthYearGap apart
	ReasonHMISEqual      = "hmis_id_equal"    // same HMIS personal id
	ReasonManual         = "manual"           // a team lead merged two persons the hub had not proposed
)

// Reason is one piece of evidence that two persons are the same. It names
// fields, never their values: a pair is reviewed by leads of both teams,
// and the reason must not carry one team's identity data to the other.
type Reason struct {
	Code       string  `json:"code"`
	FieldA     string  `json:"field_a,omitempty"` // "display_name" or "aliases"
	FieldB     string  `json:"field_b,omitempty"`
	Similarity float64 `json:"similarity,omitempty"`
	YearGap    *int    `json:"year_gap,omitempty"`
	Message    string  `json:"message"`
}

// Profile is what the matcher knows of one person.
type Profile struct {
	ID        string
	Names     []string // normalised; Names[0] is the display name when it is not empty
	NameField []string // field each name came from, parallel to Names
	runes     [][]rune // Names as runes, parallel to Names
	BirthYear int      // 0 when unknown
	HMISID    string   // trimmed, lower case; "" when unknown
	Teams     []string
	Created   string
}

func (p Profile) runesOf(i int) []rune {
	if i < len(p.runes) {
		return p.runes[i]
	}
	return []rune(p.Names[i])
}

// NewProfile builds a profile from stored person values.
func NewProfile(id, displayName, aliasesJSON string, birthYear int, hmisID string, teams []string, created string) Profile {
	p := Profile{ID: id, BirthYear: birthYear, HMISID: strings.ToLower(strings.TrimSpace(hmisID)), Teams: teams, Created: created}
	seen := map[string]bool{}
	add := func(name, field string) {
		n := NormalizeName(name)
		if n == "" || seen[n] {
			return
		}
		seen[n] = true
		p.Names = append(p.Names, n)
		p.NameField = append(p.NameField, field)
		p.runes = append(p.runes, []rune(n))
	}
	add(displayName, "display_name")
	for _, a := range parseAliases(aliasesJSON) {
		add(a, "aliases")
	}
	return p
}

// parseAliases reads persons.aliases: a JSON list of strings, or (from older
// clients) one string, possibly comma separated.
func parseAliases(raw string) []string {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		return nil
	}
	var list []any
	if err := json.Unmarshal([]byte(raw), &list); err == nil {
		out := make([]string, 0, len(list))
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	var one string
	if err := json.Unmarshal([]byte(raw), &one); err == nil {
		return strings.Split(one, ",")
	}
	return nil
}

// Compare decides whether a and b look like the same person. It returns
// the score (0..1), the reasons, and whether the pair should be proposed.
//
// Proposed: same HMIS id; or same or similar name or alias, unless both
// birth years are known and more than MaxBirthYearGap apart, or both HMIS
// ids are known and differ (the HMIS already tells them apart).
func Compare(a, b Profile) (float64, []Reason, bool) {
	var reasons []Reason
	if a.HMISID != "" && b.HMISID != "" {
		if a.HMISID != b.HMISID {
			return 0, nil, false
		}
		reasons = append(reasons, Reason{Code: ReasonHMISEqual, Message: "Both records carry the same HMIS personal id."})
	}
	hmis := a.HMISID != "" && a.HMISID == b.HMISID
	gap := -1 // unknown
	if a.BirthYear > 0 && b.BirthYear > 0 {
		gap = a.BirthYear - b.BirthYear
		if gap < 0 {
			gap = -gap
		}
		if gap > MaxBirthYearGap && !hmis {
			return 0, nil, false // decided before comparing any name
		}
	}
	best, fa, fb := 0.0, "", ""
	for i, na := range a.Names {
		for j, nb := range b.Names {
			s := 1.0
			if na != nb {
				ra, rb := a.runesOf(i), b.runesOf(j)
				if jaroWinklerBound(len(ra), len(rb)) < SimilarNameThreshold {
					continue
				}
				s = jaroWinkler(ra, rb)
			}
			if s > best {
				best, fa, fb = s, a.NameField[i], b.NameField[j]
			}
		}
	}
	if !hmis && best < SimilarNameThreshold {
		return 0, nil, false
	}
	switch {
	case best == 1:
		reasons = append(reasons, Reason{Code: ReasonSameName, FieldA: fa, FieldB: fb, Similarity: 1,
			Message: "Same " + fieldWords(fa, fb) + " once case, accents and punctuation are ignored."})
	case best >= SimilarNameThreshold:
		reasons = append(reasons, Reason{Code: ReasonSimilarName, FieldA: fa, FieldB: fb, Similarity: round3(best),
			Message: "Similar " + fieldWords(fa, fb) + " (a likely spelling variant)."})
	}
	score := 0.0
	if best >= SimilarNameThreshold {
		score = best * 0.95
	}
	if gap >= 0 && gap <= MaxBirthYearGap {
		g := gap
		reasons = append(reasons, Reason{Code: ReasonBirthYearClose, YearGap: &g,
			Message: "Approximate birth years are within two years of each other."})
		score += 0.05
	}
	if hmis {
		score = 1
	}
	return round3(math.Min(score, 1)), reasons, true
}

func fieldWords(a, b string) string {
	if a == "display_name" && b == "display_name" {
		return "name"
	}
	return "name or alias"
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Candidate is a person proposed as a duplicate of a subject.
type Candidate struct {
	Other   Profile
	Score   float64
	Reasons []Reason
}

// Matcher finds duplicates of a subject among many persons without
// comparing against every one of them: persons are bucketed by the first
// letter of each of their names (and by HMIS id), and only persons sharing
// a bucket with the subject are compared. Jaro–Winkler rewards a shared
// prefix, so a similar name almost always starts with the same letter; a
// typo in the very first letter is left to the HMIS id or an alias.
type Matcher struct {
	all     []Profile
	byFirst map[rune][]int
	byHMIS  map[string][]int
}

// NewMatcher indexes profiles.
func NewMatcher(profiles []Profile) *Matcher {
	m := &Matcher{all: profiles, byFirst: map[rune][]int{}, byHMIS: map[string][]int{}}
	for i, p := range profiles {
		m.index(i, p)
	}
	return m
}

func (m *Matcher) index(i int, p Profile) {
	seen := map[rune]bool{}
	for _, n := range p.Names {
		r := firstRune(n)
		if !seen[r] {
			seen[r] = true
			m.byFirst[r] = append(m.byFirst[r], i)
		}
	}
	if p.HMISID != "" {
		m.byHMIS[p.HMISID] = append(m.byHMIS[p.HMISID], i)
	}
}

// Len is how many persons are indexed.
func (m *Matcher) Len() int { return len(m.all) }

// Find returns the indexed persons that look like subject (never subject
// itself).
func (m *Matcher) Find(subject Profile) []Candidate {
	// A flat slice, not a map: buckets hold thousands of persons. Local to
	// the call, so one Matcher serves concurrent requests.
	seen := make([]bool, len(m.all))
	var out []Candidate
	try := func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		other := m.all[i]
		if other.ID == subject.ID {
			return
		}
		if score, reasons, ok := Compare(subject, other); ok {
			out = append(out, Candidate{Other: other, Score: score, Reasons: reasons})
		}
	}
	for _, n := range subject.Names {
		for _, i := range m.byFirst[firstRune(n)] {
			try(i)
		}
	}
	if subject.HMISID != "" {
		for _, i := range m.byHMIS[subject.HMISID] {
			try(i)
		}
	}
	return out
}

func firstRune(s string) rune {
	for _, r := range s {
		return r
	}
	return 0
}
