package persons

import (
	"math"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Smokey", "smokey"},
		{"smokey ", "smokey"},
		{"  SMOKEY!!", "smokey"},
		{"José", "jose"},
		{"Zoë  Ångström", "zoe angstrom"},
		{"O'Neil", "oneil"},
		{"Big-Mike", "big mike"},
		{"Straße", "strasse"},
		{"Søren", "soren"},
		{"J.R.", "j r"},
		{"", ""},
		{"?!", ""},
		{"Unit 7", "unit 7"},
	} {
		if got := NormalizeName(tc.in); got != tc.want {
			t.Errorf("NormalizeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		// Reference values of the classic examples (Winkler 1990).
		{"martha", "marhta", 0.961},
		{"dwayne", "duane", 0.840},
		{"dixon", "dicksonx", 0.813},
		{"smokey", "smokey", 1},
		{"", "", 1},
		{"smokey", "", 0},
		{"abc", "xyz", 0},
	} {
		got := JaroWinkler(tc.a, tc.b)
		if math.Abs(got-tc.want) > 0.001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.3f", tc.a, tc.b, got, tc.want)
		}
		if back := JaroWinkler(tc.b, tc.a); math.Abs(back-got) > 1e-9 {
			t.Errorf("JaroWinkler is not symmetric for %q, %q: %.4f vs %.4f", tc.a, tc.b, got, back)
		}
	}
	if s := JaroWinkler("smokey", "smokie"); s < SimilarNameThreshold {
		t.Errorf("smokey/smokie = %.3f, want at least the threshold %.2f", s, SimilarNameThreshold)
	}
	if s := JaroWinkler("smokey", "stanley"); s >= SimilarNameThreshold {
		t.Errorf("smokey/stanley = %.3f, want below the threshold %.2f", s, SimilarNameThreshold)
	}
}

func profile(id, name, aliases string, year int, hmis string) Profile {
	return NewProfile(id, name, aliases, year, hmis, []string{"t-" + id}, "")
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name      string
		a, b      Profile
		want      bool
		codes     []string
		minScore  float64
		fieldA    string
		fieldB    string
		skipField bool
	}{
		{name: "same street name, spacing and case differ", a: profile("1", "Smokey", "", 0, ""), b: profile("2", "smokey ", "", 0, ""),
			want: true, codes: []string{ReasonSameName}, minScore: 0.9, fieldA: "display_name", fieldB: "display_name"},
		{name: "alias equals a display name", a: profile("1", "Robert Jones", `["Smokey"]`, 0, ""), b: profile("2", "Smokey", "", 0, ""),
			want: true, codes: []string{ReasonSameName}, fieldA: "aliases", fieldB: "display_name"},
		{name: "spelling variant with close birth years", a: profile("1", "Smokey", "", 1980, ""), b: profile("2", "Smokie", "", 1982, ""),
			want: true, codes: []string{ReasonSimilarName, ReasonBirthYearClose}},
		{name: "same name, birth years far apart", a: profile("1", "Smokey", "", 1960, ""), b: profile("2", "Smokey", "", 1995, ""),
			want: false},
		{name: "different names", a: profile("1", "Smokey", "", 0, ""), b: profile("2", "Stanley", "", 0, ""),
			want: false},
		{name: "same HMIS id, different names", a: profile("1", "Robert", "", 0, "H-77"), b: profile("2", "Bobby", "", 0, "h-77 "),
			want: true, codes: []string{ReasonHMISEqual}, minScore: 1, skipField: true},
		{name: "same name, different HMIS ids", a: profile("1", "Smokey", "", 0, "H-1"), b: profile("2", "Smokey", "", 0, "H-2"),
			want: false},
		{name: "accents folded", a: profile("1", "José", "", 0, ""), b: profile("2", "jose", "", 0, ""),
			want: true, codes: []string{ReasonSameName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			score, reasons, ok := Compare(tc.a, tc.b)
			if ok != tc.want {
				t.Fatalf("proposed = %v, want %v (score %.3f, reasons %+v)", ok, tc.want, score, reasons)
			}
			if !ok {
				return
			}
			if score < tc.minScore || score > 1 {
				t.Errorf("score %.3f, want between %.2f and 1", score, tc.minScore)
			}
			got := map[string]Reason{}
			for _, r := range reasons {
				got[r.Code] = r
				if r.Message == "" {
					t.Errorf("reason %s has no message", r.Code)
				}
			}
			for _, c := range tc.codes {
				if _, ok := got[c]; !ok {
					t.Errorf("reasons %+v lack %s", reasons, c)
				}
			}
			if tc.fieldA != "" {
				r := got[ReasonSameName]
				if r.FieldA != tc.fieldA || r.FieldB != tc.fieldB {
					t.Errorf("same_name fields %s/%s, want %s/%s", r.FieldA, r.FieldB, tc.fieldA, tc.fieldB)
				}
			}
		})
	}
}

func TestMatcherFindsAcrossBucketsOnly(t *testing.T) {
	ps := []Profile{
		profile("1", "Smokey", "", 0, ""),
		profile("2", "smokey", "", 0, ""),
		profile("3", "Tex", `["Smokie"]`, 0, ""), // found through an alias bucket
		profile("4", "Anna", "", 0, "H-9"),
		profile("5", "Zed", "", 0, "h-9"), // found through the HMIS bucket
		profile("6", "Stanley", "", 0, ""),
	}
	m := NewMatcher(ps)
	ids := func(cs []Candidate) map[string]bool {
		out := map[string]bool{}
		for _, c := range cs {
			out[c.Other.ID] = true
		}
		return out
	}
	if got := ids(m.Find(ps[0])); !got["2"] || !got["3"] || got["1"] || got["6"] || len(got) != 2 {
		t.Errorf("Find(Smokey) = %v, want 2 and 3", got)
	}
	if got := ids(m.Find(ps[3])); !got["5"] || len(got) != 1 {
		t.Errorf("Find(Anna H-9) = %v, want 5", got)
	}
}
