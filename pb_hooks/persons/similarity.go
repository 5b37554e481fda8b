package persons

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// foldSpecial maps letters that carry no combining mark but are still
// spelled differently across keyboards (a tablet in Oslo, one in Montreal).
var foldSpecial = map[rune]string{
	'ß': "ss", 'ø': "o", 'đ': "d", 'ł': "l", 'æ': "ae", 'œ': "oe", 'þ': "th", 'ı': "i",
}

// NormalizeName reduces a name as workers type it to a comparable form:
// lower case, accents folded ("José" → "jose"), punctuation and symbols
// dropped ("Smokey!" → "smokey", "O'Neil" → "oneil"), runs of spaces
// collapsed. Two names that differ only in these ways are the same name.
func NormalizeName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r):
			// combining accent: dropped
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			if f, ok := foldSpecial[r]; ok {
				b.WriteString(f)
			} else {
				b.WriteRune(r)
			}
		case unicode.IsSpace(r) || r == '-' || r == '_' || r == '/' || r == '.' || r == ',':
			// word separators keep words apart ("Big-Mike" = "big mike")
			space = true
		default:
			// other punctuation and symbols vanish ("O'Neil" = "oneil")
		}
	}
	return b.String()
}

// JaroWinkler returns the Jaro–Winkler similarity of a and b, from 0 (nothing
// in common) to 1 (equal). It favours strings that share a prefix, which
// suits names: typos and nickname endings ("Smokey", "Smokie") tend to come
// late in a word. Compared rune by rune.
func JaroWinkler(a, b string) float64 {
	return jaroWinkler([]rune(a), []rune(b))
}

// jaroWinkler works on runes prepared once per name: the matcher compares
// each name with thousands of others.
func jaroWinkler(ra, rb []rune) float64 {
	if len(ra) == 0 && len(rb) == 0 {
		return 1
	}
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	window := len(rb)/2 - 1
	if window < 0 {
		window = 0
	}
	// Names are short: keep the match flags on the stack.
	var bufA, bufB [64]bool
	var matchedA, matchedB []bool
	if len(rb) <= len(bufB) {
		matchedA, matchedB = bufA[:len(ra)], bufB[:len(rb)]
	} else {
		matchedA, matchedB = make([]bool, len(ra)), make([]bool, len(rb))
	}
	matches := 0
	for i, r := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !matchedB[j] && rb[j] == r {
				matchedA[i], matchedB[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	// Transpositions: matched runes that appear in a different order.
	transpositions, j := 0, 0
	for i := range ra {
		if !matchedA[i] {
			continue
		}
		for !matchedB[j] {
			j++
		}
		if ra[i] != rb[j] {
			transpositions++
		}
		j++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(transpositions)/2)/m) / 3
	prefix := 0
	for prefix < 4 && prefix < len(ra) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}

// jaroWinklerBound is the highest Jaro–Winkler similarity two strings of
// these lengths can reach (every rune of the shorter one matching in
// order, with a full prefix); below the threshold the comparison is
// skipped.
func jaroWinklerBound(la, lb int) float64 {
	if la > lb {
		la, lb = lb, la
	}
	if la == 0 {
		return 0
	}
	jaro := (1 + float64(la)/float64(lb) + 1) / 3
	return jaro + 0.4*(1-jaro)
}
