package sim

import (
	"encoding/json"
	"regexp"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// model is an independent statement of the merge rules of DESIGN.md §4.7–8,
// replayed over the mutations in the order the server processed them. It
// predicts each result; the simulation compares prediction and answer.
type model struct {
	records map[string]*recState // "collection/id"
	offTeam map[string]bool      // roles currently off the simulated team
}

type recState struct {
	exists, deleted bool
	values          map[string]string // tracked single-value fields
	versions        map[string]fieldVer
	tags            []string // acknowledged note tags
}

// fieldVer is who last changed a field and at which server version (0:
// set when the record was created).
type fieldVer struct {
	version int64
	device  string
}

type expectation struct {
	status string
	code   string // for rejections
}

func newModel() *model { return &model{records: map[string]*recState{}, offTeam: map[string]bool{}} }

// statusRank: a follow-up status only moves forward; final ones tie.
var statusRank = map[string]int{"open": 0, "in_progress": 1, "done": 2, "cancelled": 2, "failed": 2}

var tagRe = regexp.MustCompile(`\[[a-z_]+#\d+\]$`)

// refs are the relations the simulation sets on creates.
var refs = map[string]map[string]string{
	"encounters": {"person": "persons"},
	"followups":  {"encounter": "encounters"},
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// apply predicts the answer to m (made on device) and advances the model.
// got is the actual answer, used only for the new version number and to
// accept either of two outcomes the rules allow.
func (md *model) apply(m protocol.Mutation, device, role string, got protocol.MutationResult) (expectation, []string) {
	key := m.Collection + "/" + m.RecordID
	st := md.records[key]
	switch m.Op {
	case protocol.OpCreate:
		for field, target := range refs[m.Collection] {
			id := str(m.Fields[field])
			if ref := md.records[target+"/"+id]; id != "" && ref != nil && (!ref.exists || ref.deleted) {
				md.records[key] = &recState{}
				return expectation{protocol.ResultRejected, protocol.CodeRelationMissing}, nil
			}
		}
		if md.offTeam[role] { // one may only write records of one's own teams
			md.records[key] = &recState{}
			return expectation{protocol.ResultRejected, protocol.CodeForbidden}, nil
		}
		st = &recState{exists: true, values: map[string]string{}, versions: map[string]fieldVer{}}
		for _, f := range tracked[m.Collection] {
			if raw, ok := m.Fields[f]; ok {
				st.values[f] = str(raw)
				st.versions[f] = fieldVer{0, device}
			}
		}
		md.records[key] = st
		return expectation{status: protocol.ResultApplied}, nil

	case protocol.OpDeleteRecord:
		switch {
		case st == nil || (!st.exists && !st.deleted):
			return expectation{protocol.ResultRejected, protocol.CodeNotFound}, nil
		case st.deleted:
			return expectation{status: protocol.ResultApplied}, nil
		}
		st.deleted = true
		return expectation{status: protocol.ResultApplied}, nil
	}

	// update
	switch {
	case st == nil || (!st.exists && !st.deleted):
		return expectation{protocol.ResultRejected, protocol.CodeNotFound}, nil
	case st.deleted:
		return expectation{protocol.ResultRejected, protocol.CodeRecordDeleted}, nil
	case md.offTeam[role]:
		return expectation{protocol.ResultRejected, protocol.CodeForbidden}, nil
	}
	var conflicts []string
	kept, notes := false, false
	apply := map[string]string{}
	for f, raw := range m.Fields {
		dv := str(raw)
		if f == notesOf[m.Collection] {
			notes = true
			if tag := tagRe.FindString(dv); tag != "" {
				defer func() {
					if got.Status != protocol.ResultRejected {
						st.tags = append(st.tags, tag)
					}
				}()
			}
			continue
		}
		cur, fv := st.values[f], st.versions[f]
		if cur == dv {
			continue
		}
		if m.Collection == "followups" && f == "status" {
			switch rd, rs := statusRank[dv], statusRank[cur]; {
			case rd > rs:
				apply[f] = dv
			case rd < rs:
				kept = true
			default:
				conflicts = append(conflicts, f)
			}
			continue
		}
		if fv.version > m.BaseVersion && fv.device != device {
			conflicts = append(conflicts, f)
			continue
		}
		apply[f] = dv
	}
	for f, v := range apply {
		st.values[f] = v
		st.versions[f] = fieldVer{got.Version, device}
	}
	switch {
	case len(conflicts) > 0:
		return expectation{status: protocol.ResultConflict}, conflicts
	case kept:
		return expectation{status: protocol.ResultMerged}, nil
	case notes && (got.Status == protocol.ResultApplied || got.Status == protocol.ResultMerged):
		return expectation{status: got.Status}, nil // keeping both texts or not: both are allowed
	}
	return expectation{status: protocol.ResultApplied}, nil
}

// seed adds a record created on the server before the simulation.
func (md *model) seed(collection, id string, values map[string]string) {
	st := &recState{exists: true, values: map[string]string{}, versions: map[string]fieldVer{}}
	for f, v := range values {
		st.values[f] = v
		st.versions[f] = fieldVer{0, ""}
	}
	md.records[collection+"/"+id] = st
}
