package merge

import (
	"reflect"
	"testing"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want Decision
	}{
		{"same value", Input{Kind: Plain, Server: "a", Device: "a", Concurrent: true}, Decision{Outcome: Same}},
		{"empty equals nil", Input{Kind: Plain, Server: nil, Device: "", Concurrent: true}, Decision{Outcome: Same}},
		{"numbers by value", Input{Kind: Plain, Server: int64(3), Device: 3.0, Concurrent: true}, Decision{Outcome: Same}},
		{"not concurrent applies", Input{Kind: Plain, Server: "a", Device: "b"}, Decision{Outcome: Apply, Value: "b"}},
		{"concurrent plain conflicts", Input{Kind: Plain, Server: "a", Device: "b", Concurrent: true}, Decision{Outcome: Conflict}},
		{"notes keep both", Input{Kind: Notes, Server: "met at bridge", Device: "needs ID", Concurrent: true},
			Decision{Outcome: Merged, Value: "met at bridge" + protocol.NotesSeparator + "needs ID"}},
		{"notes superset applies", Input{Kind: Notes, Server: "met", Device: "met; needs ID", Concurrent: true}, Decision{Outcome: Apply, Value: "met; needs ID"}},
		{"notes subset kept", Input{Kind: Notes, Server: "met; needs ID", Device: "met", Concurrent: true}, Decision{Outcome: Keep}},
		{"multi union", Input{Kind: Multi, Server: []string{"food"}, Device: []string{"water", "food"}, Concurrent: true},
			Decision{Outcome: Merged, Value: []string{"food", "water"}}},
		{"multi subset kept", Input{Kind: Multi, Server: []string{"food", "water"}, Device: []string{"water"}, Concurrent: true}, Decision{Outcome: Keep}},
		// With the list the device started from, a set merge: the device
		// removed food while someone else added a blanket.
		{"multi removal and addition both kept",
			Input{Kind: Multi, Base: []string{"food", "water"}, HasBase: true, Server: []string{"food", "water", "blanket"}, Device: []string{"water"}, Concurrent: true},
			Decision{Outcome: Merged, Value: []string{"water", "blanket"}}},
		{"multi both sides add",
			Input{Kind: Multi, Base: []string{"food"}, HasBase: true, Server: []string{"food", "water"}, Device: []string{"food", "id_documents"}, Concurrent: true},
			Decision{Outcome: Merged, Value: []string{"food", "water", "id_documents"}}},
		{"multi both sides remove",
			Input{Kind: Multi, Base: []string{"food", "water", "shelter"}, HasBase: true, Server: []string{"water", "shelter"}, Device: []string{"food", "water"}, Concurrent: true},
			Decision{Outcome: Merged, Value: []string{"water"}}},
		{"multi server removed what the device kept",
			Input{Kind: Multi, Base: []string{"food", "water"}, HasBase: true, Server: []string{"water"}, Device: []string{"food", "water"}, Concurrent: true},
			Decision{Outcome: Keep}},
		{"multi device's removal is the whole change",
			Input{Kind: Multi, Base: []string{"food", "water"}, HasBase: true, Server: []string{"water", "food"}, Device: []string{"water"}, Concurrent: true},
			Decision{Outcome: Apply, Value: []string{"water"}}},
		{"multi emptied on the device",
			Input{Kind: Multi, Base: []string{"food"}, HasBase: true, Server: []string{"food", "water"}, Device: []string{}, Concurrent: true},
			Decision{Outcome: Merged, Value: []string{"water"}}},
		{"multi base ignored when not concurrent",
			Input{Kind: Multi, Base: []string{"food"}, HasBase: true, Server: []string{"food"}, Device: []string{"water"}},
			Decision{Outcome: Apply, Value: []string{"water"}}},
		{"status forward", Input{Kind: Status, Server: "open", Device: "done"}, Decision{Outcome: Apply, Value: "done"}},
		{"status forward even if concurrent", Input{Kind: Status, Server: "in_progress", Device: "done", Concurrent: true}, Decision{Outcome: Apply, Value: "done"}},
		{"status never back", Input{Kind: Status, Server: "done", Device: "in_progress"}, Decision{Outcome: Keep}},
		{"done vs cancelled conflicts", Input{Kind: Status, Server: "done", Device: "cancelled", Concurrent: true}, Decision{Outcome: Conflict}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.in)
			if got.Outcome != c.want.Outcome || !reflect.DeepEqual(got.Value, c.want.Value) {
				t.Fatalf("Decide(%+v) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	if KindOf("followups", "status", false) != Status || KindOf("encounters", "general_notes", false) != Notes ||
		KindOf("encounters", "needs", true) != Multi || KindOf("encounters", "disposition", false) != Plain {
		t.Fatal("field kinds do not follow the policy table")
	}
}
