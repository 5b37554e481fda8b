// Package merge decides, field by field, what happens when a device's edit
// meets the server's record. It is pure: no database, no clock. The push
// endpoint gives it the stored value, the device's value and whether the
// field changed on the server since the device's base version (by someone
// else), and stores what it decides.
//
// Device clocks are never consulted. "Concurrent" means the server's field
// version (a change-feed sequence number) is newer than the version the
// device based its edit on, and another writer made it.
//
// Policies (DESIGN.md §4.7–4.8):
//   - not concurrent: the device's value is applied;
//   - concurrent, same value: nothing to do;
//   - concurrent free-text notes: both texts are kept;
//   - concurrent multi-value fields (needs, teams...): merged as sets. With
//     the list the device started from (the mutation's base_values), both
//     sides' additions are kept and both sides' removals are honoured;
//     without it, the union is kept (a removal cannot be told from a value
//     the device never had);
//   - concurrent other fields: the server's value stays (first arrival wins,
//     deterministic: it does not depend on which device pushes first after
//     reconnecting) and a conflict records the device's value for a team
//     lead;
//   - followups.status only moves forward, concurrent or not: a move back
//     is ignored, and two different final statuses (done vs cancelled) are a
//     conflict.
package merge

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// Kind is how a field merges.
type Kind int

// Field kinds.
const (
	Plain  Kind = iota // last decision by policy: conflict when concurrent
	Notes              // free text: keep both
	Multi              // multi-valued: set merge (see mergeSets)
	Status             // follow-up status: forward only
)

// KindOf returns how field of collection merges. multi says whether the
// field holds several values.
func KindOf(collection, field string, multi bool) Kind {
	if collection == "followups" && field == "status" {
		return Status
	}
	for _, f := range protocol.NotesFields[collection] {
		if f == field {
			return Notes
		}
	}
	if multi {
		return Multi
	}
	return Plain
}

// Outcome is what happens to one field.
type Outcome int

// Outcomes.
const (
	// Same: the stored value already equals the device's; nothing to write.
	Same Outcome = iota
	// Apply: store the device's value.
	Apply
	// Keep: the server's value stays; not a conflict (policy says so).
	Keep
	// Merged: store Decision.Value, a combination of both.
	Merged
	// Conflict: the server's value stays and a conflict record keeps the
	// device's value for review.
	Conflict
)

// Decision is the result for one field.
type Decision struct {
	Outcome Outcome
	// Value is what to store (for Apply and Merged).
	Value any
}

// Input is one field of one mutation.
type Input struct {
	Kind Kind
	// Server and Device are the stored and the sent value, as JSON-decoded
	// Go values (string, float64, bool, []string, map[string]any, nil).
	Server, Device any
	// Concurrent is true when the field changed on the server after the
	// device's base version, by another device or user.
	Concurrent bool
	// Base is the value the device's edit started from, when the device
	// sent it (HasBase). Only Multi uses it: it tells a value the device
	// removed from one it never had.
	Base    any
	HasBase bool
}

// StatusRank orders follow-up statuses; a status may only move to a higher
// rank. Final statuses share the top rank.
var StatusRank = map[string]int{"open": 0, "in_progress": 1, "done": 2, "failed": 2, "cancelled": 2}

// Decide applies the field's policy.
func Decide(in Input) Decision {
	if Equal(in.Server, in.Device) {
		return Decision{Outcome: Same}
	}
	if in.Kind == Status {
		s, _ := in.Server.(string)
		d, _ := in.Device.(string)
		rs, okS := StatusRank[s]
		rd, okD := StatusRank[d]
		switch {
		case !okS || !okD || rd > rs:
			return Decision{Outcome: Apply, Value: in.Device}
		case rd < rs:
			return Decision{Outcome: Keep}
		default: // two different final statuses
			return Decision{Outcome: Conflict}
		}
	}
	if !in.Concurrent {
		return Decision{Outcome: Apply, Value: in.Device}
	}
	switch in.Kind {
	case Notes:
		s, _ := in.Server.(string)
		d, _ := in.Device.(string)
		switch {
		case s == "" || strings.Contains(d, s):
			return Decision{Outcome: Apply, Value: d} // the device's text already holds the server's
		case d == "" || strings.Contains(s, d):
			return Decision{Outcome: Keep}
		}
		return Decision{Outcome: Merged, Value: s + protocol.NotesSeparator + d}
	case Multi:
		return mergeSets(toStrings(in.Server), toStrings(in.Device), toStrings(in.Base), in.HasBase)
	}
	return Decision{Outcome: Conflict}
}

// mergeSets merges concurrent edits of a multi-valued field. With the base
// list, it is a three-way merge: the server's values, less those the device
// removed (in base, not in device), plus those the device added (in device,
// not in base), in the server's order and then the device's. Without it,
// every value the device holds is treated as added: the union.
func mergeSets(server, device, base []string, hasBase bool) Decision {
	inBase := make(map[string]bool, len(base))
	if hasBase {
		for _, v := range base {
			inBase[v] = true
		}
	}
	inDevice := make(map[string]bool, len(device))
	for _, v := range device {
		inDevice[v] = true
	}
	out := make([]string, 0, len(server)+len(device))
	seen := make(map[string]bool, len(server)+len(device))
	for _, v := range server {
		if (inBase[v] && !inDevice[v]) || seen[v] {
			continue // removed on the device
		}
		seen[v] = true
		out = append(out, v)
	}
	for _, v := range device {
		if !inBase[v] && !seen[v] {
			seen[v] = true
			out = append(out, v) // added on the device
		}
	}
	switch {
	case Equal(out, server):
		return Decision{Outcome: Keep}
	case Equal(out, device):
		return Decision{Outcome: Apply, Value: device}
	}
	return Decision{Outcome: Merged, Value: out}
}

// Equal compares two JSON-like values (numbers compare by value, a nil and
// an empty string or list are equal: PocketBase stores "unset" that way).
func Equal(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	if sa, ok := a.([]string); ok {
		sb := toStrings(b)
		if len(sa) != len(sb) {
			return false
		}
		for i := range sa {
			if sa[i] != sb[i] {
				return false
			}
		}
		return true
	}
	if _, ok := b.([]string); ok {
		return Equal(b, a)
	}
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	if ra, ok := a.(json.RawMessage); ok {
		var va any
		if json.Unmarshal(ra, &va) == nil {
			a = va
		}
	}
	if rb, ok := b.(json.RawMessage); ok {
		var vb any
		if json.Unmarshal(rb, &vb) == nil {
			b = vb
		}
	}
	return reflect.DeepEqual(a, b)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	}
	return nil
}
