package server

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/security"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/merge"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// saveThroughApp lists collections written with PocketBase's own Save, so
// their hooks decide: bed holds (the beds rules grant or refuse them) and
// consents (revoking consent re-scopes records). Everything else is written
// with prepared SQL on the hot path; the feed triggers see both.
var saveThroughApp = map[string]bool{domain.BedHolds: true, domain.Consents: true}

// applier applies the mutations of one push inside its transaction.
//
// It is built for throughput: stored results and existing records are read
// for the whole batch up front, relation checks are remembered, results and
// audit entries are written in bulk at the end, and a savepoint is taken
// only around writes that PocketBase hooks may refuse half-way (every other
// rejection is decided before anything is written).
type applier struct {
	tx      core.App
	sess    *session
	decider *access.Decider
	feed    *changefeed.Direct
	st      *changefeed.Statements
	teams   map[string]bool // teams to nudge after commit
	now     string

	prev    map[string]storedResult              // results stored by earlier pushes
	done    map[string]storedResult              // results of this push, by mutation id
	records map[string]map[string]map[string]any // collection -> id -> record (nil: absent)
	exists  map[string]map[string]bool           // collection -> ids known to exist
	pending []pendingResult                      // results to store
	log     []map[string]any                     // audit entries
	creates []pendingCreate                      // new records not yet inserted (see settle)
}

type storedResult struct {
	collection, recordID string
	result               protocol.MutationResult
}

type pendingResult struct {
	m *protocol.Mutation
}

func newApplier(tx core.App, st *changefeed.Statements, sess *session, d *access.Decider, feed *changefeed.Direct) *applier {
	return &applier{tx: tx, st: st, sess: sess, decider: d, feed: feed, teams: map[string]bool{},
		now: types.NowDateTime().String(), prev: map[string]storedResult{}, done: map[string]storedResult{},
		records: map[string]map[string]map[string]any{}, exists: map[string]map[string]bool{}}
}

// q returns the transaction's query for sql (see changefeed.Statements).
func (a *applier) q(sql string) *dbx.Query { return a.st.Q(sql) }

// header is the part of a mutation read even when the rest is unusable.
type header struct {
	MutationID string `json:"mutation_id"`
	Collection string `json:"collection"`
	RecordID   string `json:"record_id"`
}

// parsed is one decoded mutation, or the rejection of an undecodable one.
type parsed struct {
	m       protocol.Mutation
	early   *protocol.Error
	checked *checked // its fields checked beside the writer, when it could be
}

// parse decodes one raw mutation.
func parse(raw json.RawMessage) parsed {
	var p parsed
	if len(raw) > protocol.MaxMutationBytes {
		var h header
		_ = json.Unmarshal(raw, &h)
		p.m = protocol.Mutation{MutationID: h.MutationID, Collection: h.Collection, RecordID: h.RecordID}
		p.early = verr(protocol.CodeMutationTooLarge, "",
			"This mutation is %d KiB; at most %d KiB are allowed. Shorten the text or send photos separately.", len(raw)>>10, protocol.MaxMutationBytes>>10)
		return p
	}
	if err := json.Unmarshal(raw, &p.m); err != nil {
		var h header
		_ = json.Unmarshal(raw, &h)
		p.m = protocol.Mutation{MutationID: h.MutationID, Collection: h.Collection, RecordID: h.RecordID}
		p.early = verr(protocol.CodeInvalidMutation, "", "The mutation does not have the expected shape: %v", err)
	}
	return p
}

// prefetch reads, for the whole batch, the results stored by earlier
// pushes and the records the mutations name.
func (a *applier) prefetch(batch []parsed) error {
	var mids []string
	ids := map[string][]string{}
	for i := range batch {
		m := &batch[i].m
		if protocol.IsUUID(m.MutationID) {
			mids = append(mids, m.MutationID)
		}
		if batch[i].early == nil && protocol.IsUUID(m.RecordID) {
			if p := protocol.WritePolicy[m.Collection]; p == protocol.PolicyFieldMerge || p == protocol.PolicyServerAuthoritative {
				ids[m.Collection] = append(ids[m.Collection], m.RecordID)
			}
		}
	}
	for start := 0; start < len(mids); start += 500 {
		chunk := mids[start:min(start+500, len(mids))]
		ids, _ := json.Marshal(chunk)
		rows, err := a.q(`SELECT mutation_id, collection, record_id, result FROM sync_mutations WHERE mutation_id IN (SELECT value FROM json_each({:ids}))`).
			Bind(dbx.Params{"ids": string(ids)}).Rows()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, enc string
			var sr storedResult
			if err := rows.Scan(&id, &sr.collection, &sr.recordID, &enc); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal([]byte(enc), &sr.result); err != nil {
				rows.Close()
				return fmt.Errorf("stored result of %s is corrupt: %w", id, err)
			}
			a.prev[id] = sr
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	for coll, list := range ids {
		s, err := schemaOf(a.tx, coll)
		if err != nil {
			continue
		}
		found, err := readRecords(a.st, s, list)
		if err != nil {
			return err
		}
		if err := a.feed.Preload(coll, list); err != nil {
			return err
		}
		m := map[string]map[string]any{}
		for _, id := range list {
			m[id] = found[id] // nil: known to be absent
		}
		a.records[coll] = m
	}
	return nil
}

// current returns the stored record (nil when absent), from the batch's
// prefetch when still valid.
func (a *applier) current(s *schema, id string) (map[string]any, error) {
	if m, ok := a.records[s.collection.Name]; ok {
		if rec, ok := m[id]; ok {
			return rec, nil
		}
	}
	if err := a.settle(); err != nil {
		return nil, err
	}
	found, err := readRecords(a.st, s, []string{id})
	if err != nil {
		return nil, err
	}
	return found[id], nil
}

// forget drops the remembered state of a record this push wrote.
func (a *applier) forget(collection, id string) {
	if m, ok := a.records[collection]; ok {
		delete(m, id)
	}
}

// apply runs one mutation. A returned error is a server failure that
// aborts the whole push; rejections are results.
func (a *applier) apply(p *parsed) (protocol.MutationResult, error) {
	m := &p.m
	if !protocol.IsUUID(m.MutationID) {
		// Without a valid id the result cannot be stored for replays.
		return rejectedResult(m, verr(protocol.CodeInvalidMutationID, "mutation_id",
			"mutation_id must be a lowercase hyphenated UUID generated on the device, got %q.", truncate(m.MutationID, 40))), nil
	}
	// A replay returns the original result.
	for _, known := range []map[string]storedResult{a.done, a.prev} {
		if prev, ok := known[m.MutationID]; ok {
			if prev.collection != m.Collection || prev.recordID != m.RecordID {
				return rejectedResult(m, verr(protocol.CodeDuplicateMutation, "mutation_id",
					"This mutation_id was already used for %s/%s. Generate a new UUID for each change.", prev.collection, prev.recordID)), nil
			}
			return prev.result, nil
		}
	}
	if p.early != nil {
		return a.finish(m, rejectedResult(m, p.early))
	}

	// Writes that PocketBase hooks may refuse half-way get a savepoint,
	// and the feed triggers back: the hooks may write any synced record.
	guarded := saveThroughApp[m.Collection] || m.Op == protocol.OpDeleteRecord
	if guarded {
		// The hooks may read any record, so the queued creates go first.
		if err := a.settle(); err != nil {
			return protocol.MutationResult{}, err
		}
		if err := a.feed.Pause(); err != nil {
			return protocol.MutationResult{}, err
		}
		if _, err := a.q("SAVEPOINT tandem_mutation").Execute(); err != nil {
			return protocol.MutationResult{}, err
		}
	}
	res, err := a.run(p)
	if err != nil {
		pe, ok := asProtocolError(err)
		if !ok {
			return res, err
		}
		if guarded {
			if _, err := a.q("ROLLBACK TO tandem_mutation").Execute(); err != nil {
				return res, err
			}
		}
		res = rejectedResult(m, pe)
	}
	if guarded {
		if _, err := a.q("RELEASE tandem_mutation").Execute(); err != nil {
			return res, err
		}
		if err := a.feed.Resume(); err != nil {
			return res, err
		}
	}
	if guarded || res.Status != protocol.ResultRejected {
		a.forget(m.Collection, m.RecordID)
	}
	return a.finish(m, res)
}

// finish remembers a result under its mutation id (stored in bulk by
// flush) and notes it for the audit trail.
func (a *applier) finish(m *protocol.Mutation, res protocol.MutationResult) (protocol.MutationResult, error) {
	a.done[m.MutationID] = storedResult{collection: m.Collection, recordID: m.RecordID, result: res}
	a.pending = append(a.pending, pendingResult{m: m})
	fields := make([]string, 0, len(m.Fields))
	for f := range m.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	entry := map[string]any{"mutation_id": m.MutationID, "collection": truncate(m.Collection, 64),
		"record_id": truncate(m.RecordID, 64), "op": truncate(m.Op, 20), "status": res.Status, "fields": fields}
	if res.Error != nil {
		entry["code"] = res.Error.Code
	}
	if len(res.ConflictIDs) > 0 {
		entry["conflicts"] = res.ConflictIDs
	}
	a.log = append(a.log, entry)
	return res, nil
}

// auditChunk is how many mutations one sync_push audit event lists, so an
// event stays well under the audit details size limit.
const auditChunk = 200

// flush stores this push's results for replays and appends its audit
// events (one sync_push event per auditChunk mutations, each naming every
// mutation, record, field list and outcome).
func (a *applier) flush() error {
	if err := a.settle(); err != nil {
		return err
	}
	// Multi-row statements (see changefeed.Statements.InsertRows).
	rows := make([][]any, len(a.pending))
	for i, r := range a.pending {
		enc, err := json.Marshal(a.done[r.m.MutationID].result)
		if err != nil {
			return err
		}
		rows[i] = []any{r.m.MutationID, a.sess.device, a.sess.user.Id, truncate(r.m.Collection, 64), truncate(r.m.RecordID, 64), string(enc), a.now}
	}
	if err := a.st.InsertRows(`INSERT INTO sync_mutations (mutation_id, device, user, collection, record_id, result, at)`, 7, rows, "", nil); err != nil {
		return err
	}
	var events []audit.Event
	for start := 0; start < len(a.log); start += auditChunk {
		chunk := a.log[start:min(start+auditChunk, len(a.log))]
		collections := map[string]bool{}
		for _, e := range chunk {
			collections[e["collection"].(string)] = true
		}
		ev := audit.Event{Actor: a.sess.user.Id, ActorKind: "user", Device: a.sess.device, Action: "sync_push",
			Details: map[string]any{"mutations": chunk, "count": len(chunk)}}
		if len(collections) == 1 {
			ev.Collection = chunk[0]["collection"].(string)
		}
		if len(chunk) == 1 {
			ev.RecordID = chunk[0]["record_id"].(string)
			ev.Fields = chunk[0]["fields"].([]string)
		}
		events = append(events, ev)
	}
	return audit.AppendInTx(a.st, events...)
}

// run validates and applies one mutation inside its savepoint.
func (a *applier) run(p *parsed) (protocol.MutationResult, error) {
	m := &p.m
	policy, known := protocol.WritePolicy[m.Collection]
	if !known {
		return protocol.MutationResult{}, rejectf(protocol.CodeUnknownCollection, "", "%q is not a collection devices sync.", truncate(m.Collection, 64))
	}
	switch policy {
	case protocol.PolicyReadOnly:
		return protocol.MutationResult{}, rejectf(protocol.CodeReadOnlyCollection, "", "%s is read-only on devices; changes are made on the server.", m.Collection)
	case protocol.PolicyAppendOnly:
		return a.appendOnly(m)
	}
	switch m.Op {
	case protocol.OpCreate, protocol.OpUpdate, protocol.OpDeleteRecord:
	default:
		return protocol.MutationResult{}, rejectf(protocol.CodeUnknownOp, "op", "op must be create, update or delete, got %q.", truncate(m.Op, 20))
	}
	if !protocol.IsUUID(m.RecordID) {
		return protocol.MutationResult{}, rejectf(protocol.CodeInvalidRecordID, "record_id",
			"record_id must be a lowercase hyphenated UUID generated on the device, got %q.", truncate(m.RecordID, 40))
	}
	s, err := schemaOf(a.tx, m.Collection)
	if err != nil {
		return protocol.MutationResult{}, rejectf(protocol.CodeUnknownCollection, "", "%q does not exist on this server.", m.Collection)
	}
	current, err := a.current(s, m.RecordID)
	if err != nil {
		return protocol.MutationResult{}, err
	}

	if m.Op == protocol.OpDeleteRecord {
		return a.delete(m, current)
	}
	values, err := a.validate(p, s)
	if err != nil {
		return protocol.MutationResult{}, err
	}
	if current == nil {
		if m.Op == protocol.OpUpdate {
			if a.deleted(m) {
				return protocol.MutationResult{}, rejectf(protocol.CodeRecordDeleted, "",
					"This %s was deleted on the server before this change arrived; the change was not applied.", singular(m.Collection))
			}
			return protocol.MutationResult{}, rejectf(protocol.CodeNotFound, "", "The server has no %s with this id.", singular(m.Collection))
		}
		return a.create(m, s, values)
	}
	// A create of an id the server already has (for example created by the
	// same device under another mutation id) merges like an update.
	return a.update(m, s, current, values)
}

// checked is the outcome of checking a mutation's fields against the
// collection's definition: everything that needs no database, so it runs
// beside the writer (see parseAll).
type checked struct {
	schema    *schema
	values    map[string]any  // the valid values, by field name
	relations []relationValue // relation values to check in the transaction, in field order
	invalid   *protocol.Error // the first invalid field, after every relation in relations
}

// relationValue is a relation field's value, whose targets must exist.
type relationValue struct {
	name  string
	field *core.RelationField
	value any
}

// checkFields checks every sent field against the collection's definition,
// in field-name order, stopping at the first invalid one.
func checkFields(m *protocol.Mutation, s *schema, schemaVersion int) checked {
	c := checked{schema: s}
	serverOnly := func(name string) bool {
		return slices.Contains(protocol.ServerFields["*"], name) || slices.Contains(protocol.ServerFields[m.Collection], name)
	}
	names := make([]string, 0, len(m.Fields))
	for name := range m.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	c.values = make(map[string]any, len(names))
	for _, name := range names {
		raw := m.Fields[name]
		idx, ok := s.byName[name]
		if !ok || !protocol.InSchema(schemaVersion, m.Collection, name) {
			c.invalid = verr(protocol.CodeUnknownField, name, "%s has no field %q (schema %d).", m.Collection, truncate(name, 64), schemaVersion)
			return c
		}
		if name == "id" {
			var id string
			if json.Unmarshal(raw, &id) != nil || id != m.RecordID {
				c.invalid = verr(protocol.CodeInvalidValue, "id", "fields.id must equal record_id or be left out.")
				return c
			}
			continue
		}
		if serverOnly(name) {
			c.invalid = verr(protocol.CodeFieldReadOnly, name, "%q is set by the server, not by devices.", name)
			return c
		}
		f := &s.fields[idx]
		v, perr := f.validate(raw)
		if perr != nil {
			c.invalid = perr
			return c
		}
		if rf, ok := f.field.(*core.RelationField); ok {
			c.relations = append(c.relations, relationValue{name: name, field: rf, value: v})
		}
		c.values[name] = v
	}
	return c
}

// precheck checks a decoded mutation's fields before it queues for the
// writer, when it is a create or update the writer would check. A
// collection changed meanwhile is noticed by the writer (the schema
// differs) and checked again there.
func precheck(app core.App, p *parsed, schemaVersion int) {
	m := &p.m
	if p.early != nil || (m.Op != protocol.OpCreate && m.Op != protocol.OpUpdate) || !protocol.IsUUID(m.RecordID) {
		return
	}
	switch protocol.WritePolicy[m.Collection] {
	case protocol.PolicyFieldMerge, protocol.PolicyServerAuthoritative:
	default:
		return
	}
	s, err := schemaOf(app, m.Collection)
	if err != nil {
		return
	}
	c := checkFields(m, s, schemaVersion)
	p.checked = &c
}

// validate returns the mutation's checked values, checking relations
// against the transaction. The values are the caller's to change.
func (a *applier) validate(p *parsed, s *schema) (map[string]any, error) {
	c := p.checked
	if c == nil || c.schema != s {
		fresh := checkFields(&p.m, s, a.sess.schema)
		c = &fresh
	}
	for _, r := range c.relations {
		if err := a.checkRelations(r.name, r.field, r.value); err != nil {
			return nil, err
		}
	}
	if c.invalid != nil {
		return nil, c.invalid
	}
	return maps.Clone(c.values), nil
}

// checkRelations rejects ids that point nowhere. Records created earlier
// in the same push are visible: they are in the same transaction.
func (a *applier) checkRelations(name string, rf *core.RelationField, v any) error {
	var ids []string
	switch x := v.(type) {
	case string:
		if x != "" {
			ids = []string{x}
		}
	case []string:
		ids = x
	}
	if len(ids) == 0 {
		return nil
	}
	target, err := a.tx.FindCachedCollectionByNameOrId(rf.CollectionId)
	if err != nil {
		return err
	}
	known := a.exists[target.Name]
	if known == nil {
		known = map[string]bool{}
		a.exists[target.Name] = known
	}
	st := a.q("SELECT COUNT(*) FROM [[" + target.Name + "]] WHERE id = {:id}")
	for _, id := range ids {
		if known[id] {
			continue
		}
		var n int
		if err := st.Bind(dbx.Params{"id": id}).Row(&n); err != nil {
			return err
		}
		if n > 0 {
			known[id] = true // existing records are not deleted during a push's checks
			continue
		}
		if n == 0 {
			return rejectf(protocol.CodeRelationMissing, name,
				"%q points to %s %q, which the server does not have. Push the referenced record first (it may be later in the queue).", name, singular(target.Name), truncate(id, 40))
		}
	}
	return nil
}

// teamsOf returns the team scope of a record's values.
func teamsOf(collection string, values map[string]any) []string {
	if collection == domain.Persons {
		t, _ := values["teams"].([]string)
		return t
	}
	if t, _ := values["team"].(string); t != "" {
		return []string{t}
	}
	return nil
}

// mayWriteScope checks the user works on (one of) the record's teams, as
// the records API's create and update rules require.
func (a *applier) mayWriteScope(collection string, values map[string]any) error {
	teams := teamsOf(collection, values)
	for _, t := range teams {
		if a.sess.viewer.InTeam(t) {
			return nil
		}
	}
	if len(teams) == 0 {
		return rejectf(protocol.CodeRequired, teamField(collection), "A %s must belong to one of your teams.", singular(collection))
	}
	return rejectf(protocol.CodeForbidden, teamField(collection), "You can only write %s of your own teams.", collection)
}

func teamField(collection string) string {
	if collection == domain.Persons {
		return "teams"
	}
	return "team"
}

func (a *applier) create(m *protocol.Mutation, s *schema, values map[string]any) (protocol.MutationResult, error) {
	if err := a.mayWriteScope(m.Collection, values); err != nil {
		return protocol.MutationResult{}, err
	}
	if err := a.guardCompartments(m, nil, values); err != nil {
		return protocol.MutationResult{}, err
	}
	if m.Collection == domain.BedHolds {
		if st, _ := values["status"].(string); st != "" && st != domain.HoldRequested {
			return protocol.MutationResult{}, rejectf(protocol.CodeServerAuthoritative, "status",
				"A device asks for a bed (status \"requested\"); the server decides whether it is held.")
		}
		values["status"] = domain.HoldRequested
		if v, _ := values["requested_by"].(string); v == "" {
			values["requested_by"] = a.sess.user.Id
		}
	}
	for i := range s.fields {
		f := &s.fields[i]
		if f.name == "id" || !f.required() {
			continue
		}
		if isEmptyValue(values[f.name]) {
			return protocol.MutationResult{}, rejectf(protocol.CodeRequired, f.name, "%q is required for a new %s.", f.name, singular(m.Collection))
		}
	}
	if saveThroughApp[m.Collection] {
		return a.saveRecord(m, s, nil, values)
	}
	cols := make([]string, 3, 3+len(values))
	cols[0], cols[1], cols[2] = "[[id]]", "[[created]]", "[[updated]]"
	ordered := make([]any, 3, 3+len(values))
	ordered[0], ordered[1], ordered[2] = m.RecordID, a.now, a.now
	for i := range s.fields {
		f := &s.fields[i]
		v, ok := values[f.name]
		if !ok {
			continue
		}
		cols = append(cols, "[["+f.name+"]]")
		ordered = append(ordered, f.storage(v))
	}
	teams := teamsOf(m.Collection, values)
	if a.queueCreate(pendingCreate{collection: m.Collection, id: m.RecordID, mutationID: m.MutationID, columns: cols, values: ordered, teams: teams}) {
		a.created(m)
		a.nudgeTeams(teams)
		// The version is filled in when the queue is settled (versionOf).
		return protocol.MutationResult{MutationID: m.MutationID, Status: protocol.ResultApplied, Collection: m.Collection, RecordID: m.RecordID}, nil
	}
	if err := a.settle(); err != nil {
		return protocol.MutationResult{}, err
	}
	ph := make([]string, len(ordered))
	params := make(dbx.Params, len(ordered))
	for i, v := range ordered {
		key := "p" + strconv.Itoa(i)
		ph[i] = "{:" + key + "}"
		params[key] = v
	}
	sqlText := "INSERT INTO [[" + m.Collection + "]] (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(ph, ", ") + ")"
	inserted, err := a.q(sqlText).Bind(params).Execute()
	if err != nil {
		return protocol.MutationResult{}, err
	}
	rowid, err := inserted.LastInsertId()
	if err != nil {
		return protocol.MutationResult{}, err
	}
	seq, err := a.feed.Write(m.Collection, m.RecordID, rowid, teamsOf(m.Collection, values), nil)
	if err != nil {
		return protocol.MutationResult{}, err
	}
	a.created(m)
	a.nudgeTeams(teamsOf(m.Collection, values))
	return protocol.MutationResult{MutationID: m.MutationID, Status: protocol.ResultApplied, Collection: m.Collection, RecordID: m.RecordID, Version: seq}, nil
}

// guardCompartments refuses a change to a field the pushing user may not
// see, exactly as the records API does (pb_hooks/privacy): an officer must
// not overwrite clinical notes they cannot read, nor plant them. current is
// the stored record for an update and nil for a create.
//
// An update is decided on the record as stored (role, agreement and
// consent), so a write cannot widen its own access by changing who recorded
// it. A create discloses nothing the writer does not already know, so only
// the role ceiling applies: a clinician records substance-use notes about an
// anonymous contact, an officer writes down the street name they heard.
// A hidden field sent back unchanged (or empty, on a create) is dropped
// rather than refused, so clients that send whole records keep working.
func (a *applier) guardCompartments(m *protocol.Mutation, current, values map[string]any) error {
	comps := access.FieldCompartments[m.Collection]
	if len(comps) == 0 {
		return nil
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names) // the first offending field named is stable
	for _, name := range names {
		c, ok := comps[name]
		if !ok {
			continue
		}
		if current == nil && a.decider.Viewer().RoleAllows(c) {
			continue
		}
		if current != nil && a.decider.CompartmentVisible(m.Collection, current, c) {
			continue
		}
		v := values[name]
		if (current == nil && isEmptyValue(v)) || (current != nil && merge.Equal(current[name], v)) {
			delete(values, name)
			continue
		}
		return rejectf(protocol.CodeCompartmentWriteForbidden, name,
			"You may not write %s: it belongs to the %s compartment, which your role, agency or the person's consent does not open to you. The rest of your queue was applied.", name, c)
	}
	return nil
}

// created remembers that a record now exists, for relation checks of later
// mutations in the push.
func (a *applier) created(m *protocol.Mutation) {
	known := a.exists[m.Collection]
	if known == nil {
		known = map[string]bool{}
		a.exists[m.Collection] = known
	}
	known[m.RecordID] = true
}

func (a *applier) update(m *protocol.Mutation, s *schema, current, values map[string]any) (protocol.MutationResult, error) {
	// Queued creates go first, so versions follow the push's order.
	if err := a.settle(); err != nil {
		return protocol.MutationResult{}, err
	}
	if !a.decider.Visible(m.Collection, current) {
		return protocol.MutationResult{}, rejectf(protocol.CodeForbidden, "", "This %s is not on your teams (or no longer visible to you); the change was not applied.", singular(m.Collection))
	}
	if _, moving := values[teamField(m.Collection)]; moving && m.Collection != domain.Persons {
		if err := a.mayWriteScope(m.Collection, values); err != nil {
			return protocol.MutationResult{}, err
		}
	}
	if err := a.guardCompartments(m, current, values); err != nil {
		return protocol.MutationResult{}, err
	}
	if m.Collection == domain.BedHolds {
		for name, v := range values {
			if name != "status" || v != domain.HoldCancelled {
				if merge.Equal(current[name], v) {
					delete(values, name)
					continue
				}
				return protocol.MutationResult{}, rejectf(protocol.CodeServerAuthoritative, name,
					"A device may only cancel a bed hold (status \"cancelled\"); the server decides everything else.")
			}
		}
	}
	for name, v := range values {
		if i := s.byName[name]; s.fields[i].required() && isEmptyValue(v) {
			return protocol.MutationResult{}, rejectf(protocol.CodeRequired, name, "%q cannot be emptied.", name)
		}
	}

	versions, err := a.fieldVersions(m)
	if err != nil {
		return protocol.MutationResult{}, err
	}
	set := map[string]any{}
	var merged, conflicted []string
	combined := map[string]bool{}
	for i := range s.fields {
		f := &s.fields[i]
		dv, ok := values[f.name]
		if !ok {
			continue
		}
		base := m.BaseVersion
		if b, ok := m.BaseVersions[f.name]; ok {
			base = b
		}
		fv := versions[f.name]
		in := merge.Input{
			Kind:       merge.KindOf(m.Collection, f.name, f.kind == kMulti),
			Server:     current[f.name],
			Device:     dv,
			Concurrent: fv.Version > base && fv.Device != a.sess.device,
		}
		if in.Kind == merge.Multi {
			in.Base, in.HasBase = baseList(m, f.name)
		}
		d := merge.Decide(in)
		switch d.Outcome {
		case merge.Apply:
			set[f.name] = d.Value
		case merge.Merged:
			set[f.name] = d.Value
			merged = append(merged, f.name)
			combined[f.name] = true
		case merge.Keep:
			merged = append(merged, f.name)
		case merge.Conflict:
			conflicted = append(conflicted, f.name)
		}
	}

	var seq int64 // the record's new version, when written here
	if len(set) > 0 {
		if saveThroughApp[m.Collection] {
			if _, err := a.saveRecord(m, s, current, set); err != nil {
				return protocol.MutationResult{}, err
			}
		} else {
			assign := []string{"[[updated]] = {:updated}"}
			params := dbx.Params{"id": m.RecordID, "updated": a.now}
			for i := range s.fields {
				f := &s.fields[i]
				v, ok := set[f.name]
				if !ok {
					continue
				}
				key := fmt.Sprintf("f%d", i)
				assign = append(assign, "[["+f.name+"]] = {:"+key+"}")
				params[key] = f.storage(v)
			}
			var rowid int64
			if err := a.q("UPDATE [[" + m.Collection + "]] SET " + strings.Join(assign, ", ") + " WHERE id = {:id} RETURNING rowid").Bind(params).Row(&rowid); err != nil {
				return protocol.MutationResult{}, err
			}
			// A combined value is not what the device holds: its next edit
			// of the field, until it pulls, is concurrent with the
			// combination, so the version is not credited to the device.
			var versions []changefeed.FieldVersion
			for i := range s.fields {
				name := s.fields[i].name
				v, ok := set[name]
				if !ok || merge.Equal(current[name], v) {
					continue
				}
				by := a.sess.device
				if combined[name] {
					by = ""
				}
				versions = append(versions, changefeed.FieldVersion{Field: name, Device: by})
			}
			if seq, err = a.feed.Write(m.Collection, m.RecordID, rowid, append(teamsOf(m.Collection, current), teamsOf(m.Collection, set)...), versions); err != nil {
				return protocol.MutationResult{}, err
			}
		}
	}
	// A combination equal to the stored value changed nothing, but the
	// device's next edit is still concurrent with it.
	for name := range combined {
		if v, ok := set[name]; ok && !merge.Equal(current[name], v) && seq > 0 {
			continue // credited to no device above
		}
		if _, err := a.q(`UPDATE sync_field_versions SET device = '' WHERE collection = {:c} AND record_id = {:id} AND field = {:f}`).
			Bind(dbx.Params{"c": m.Collection, "id": m.RecordID, "f": name}).Execute(); err != nil {
			return protocol.MutationResult{}, err
		}
	}
	after := make(map[string]any, len(current))
	for k, v := range current {
		after[k] = v
	}
	for k, v := range set {
		after[k] = v
	}
	var conflictIDs []string
	for _, name := range conflicted {
		id, err := a.openConflict(m, name, current[name], values[name], after)
		if err != nil {
			return protocol.MutationResult{}, err
		}
		conflictIDs = append(conflictIDs, id)
	}
	a.nudgeTeams(teamsOf(m.Collection, current))
	a.nudgeTeams(teamsOf(m.Collection, after))
	status := protocol.ResultApplied
	switch {
	case len(conflictIDs) > 0:
		status = protocol.ResultConflict
	case len(merged) > 0:
		status = protocol.ResultMerged
	}
	var res protocol.MutationResult
	if seq > 0 {
		res = protocol.MutationResult{MutationID: m.MutationID, Status: status, Collection: m.Collection, RecordID: m.RecordID,
			Version: seq, MergedFields: merged, ConflictIDs: conflictIDs}
	} else {
		res, err = a.result(m, status, merged, conflictIDs)
	}
	if err != nil {
		return res, err
	}
	if saveThroughApp[m.Collection] && m.Collection == domain.BedHolds {
		res.Record, err = a.serverRecord(m, s)
	}
	return res, err
}

type fieldVersion struct {
	Version int64  `db:"version"`
	Device  string `db:"device"`
}

func (a *applier) fieldVersions(m *protocol.Mutation) (map[string]fieldVersion, error) {
	rows, err := a.q(`SELECT field, version, device FROM sync_field_versions WHERE collection = {:c} AND record_id = {:id}`).
		Bind(dbx.Params{"c": m.Collection, "id": m.RecordID}).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]fieldVersion{}
	for rows.Next() {
		var name string
		var fv fieldVersion
		if err := rows.Scan(&name, &fv.Version, &fv.Device); err != nil {
			return nil, err
		}
		out[name] = fv
	}
	return out, rows.Err()
}

// baseList returns the list a multi-valued field held before the device's
// edit, from the mutation's base_values, when the device sent a usable one.
func baseList(m *protocol.Mutation, field string) ([]string, bool) {
	raw, ok := m.BaseValues[field]
	if !ok {
		return nil, false
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		return nil, false // not a list of strings: merge as if absent (the union)
	}
	return list, true
}

// openConflict records a same-field concurrent edit for the team lead.
func (a *applier) openConflict(m *protocol.Mutation, field string, server, device any, after map[string]any) (string, error) {
	id := security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789")
	team := ""
	for _, t := range teamsOf(m.Collection, after) {
		if team == "" || a.sess.viewer.InTeam(t) {
			team = t
			if a.sess.viewer.InTeam(t) {
				break
			}
		}
	}
	var base any
	if raw, ok := m.BaseValues[field]; ok && json.Valid(raw) {
		base = string(raw)
	}
	inserted, err := a.q(`INSERT INTO conflicts (id, collection, record_id, field, base_value, device_value, server_value, chosen_value,
			status, team, device, mutation_id, resolved_by, resolved_at, created, updated)
		VALUES ({:id}, {:c}, {:r}, {:f}, {:base}, {:dev}, {:srv}, {:chosen}, 'open', {:team}, {:device}, {:mid}, '', '', {:now}, {:now})`).
		Bind(dbx.Params{
			"id": id, "c": m.Collection, "r": m.RecordID, "f": field, "base": base,
			"dev": string(appendValue(nil, device)), "srv": string(appendValue(nil, server)), "chosen": string(appendValue(nil, server)),
			"team": team, "device": a.sess.device, "mid": m.MutationID, "now": a.now,
		}).Execute()
	if err != nil {
		return "", err
	}
	rowid, err := inserted.LastInsertId()
	if err != nil {
		return "", err
	}
	_, err = a.feed.Write(domain.Conflicts, id, rowid, []string{team}, nil)
	return id, err
}

func (a *applier) delete(m *protocol.Mutation, current map[string]any) (protocol.MutationResult, error) {
	if current == nil {
		if a.deleted(m) {
			return a.result(m, protocol.ResultApplied, nil, nil) // already gone: deleting twice is harmless
		}
		return protocol.MutationResult{}, rejectf(protocol.CodeNotFound, "", "The server has no %s with this id.", singular(m.Collection))
	}
	if m.Collection == domain.BedHolds {
		return protocol.MutationResult{}, rejectf(protocol.CodeServerAuthoritative, "", "Bed holds are cancelled (status \"cancelled\"), not deleted.")
	}
	if a.sess.viewer.Role != domain.RoleTeamLead || !a.decider.Visible(m.Collection, current) {
		return protocol.MutationResult{}, rejectf(protocol.CodeForbidden, "", "Only a team lead of the record's team may delete it.")
	}
	rec, err := a.tx.FindRecordById(m.Collection, m.RecordID)
	if err != nil {
		return protocol.MutationResult{}, err
	}
	if err := a.tx.Delete(rec); err != nil {
		if pe := saveError(err); pe != nil {
			return protocol.MutationResult{}, pe
		}
		return protocol.MutationResult{}, err
	}
	delete(a.exists[m.Collection], m.RecordID)
	a.nudgeTeams(teamsOf(m.Collection, current))
	return a.result(m, protocol.ResultApplied, nil, nil)
}

// saveRecord writes through PocketBase's Save so the collection's hooks
// (bed rules, consent handling) run inside this transaction.
func (a *applier) saveRecord(m *protocol.Mutation, s *schema, current, values map[string]any) (protocol.MutationResult, error) {
	var rec *core.Record
	if current == nil {
		rec = core.NewRecord(s.collection)
		rec.Id = m.RecordID
	} else {
		var err error
		if rec, err = a.tx.FindRecordById(m.Collection, m.RecordID); err != nil {
			return protocol.MutationResult{}, err
		}
	}
	for name, v := range values {
		if raw, ok := v.(json.RawMessage); ok {
			rec.Set(name, types.JSONRaw(raw))
			continue
		}
		rec.Set(name, v)
	}
	if err := a.tx.Save(rec); err != nil {
		if pe := saveError(err); pe != nil {
			return protocol.MutationResult{}, pe
		}
		return protocol.MutationResult{}, err
	}
	a.created(m)
	a.nudgeTeams(teamsOf(m.Collection, values))
	if current != nil {
		return protocol.MutationResult{}, nil // update() builds the result
	}
	res, err := a.result(m, protocol.ResultApplied, nil, nil)
	if err != nil {
		return res, err
	}
	if m.Collection == domain.BedHolds {
		res.Record, err = a.serverRecord(m, s)
	}
	return res, err
}

// saveError turns a refusal by PocketBase validation or a hook into a
// rejection; nil means a server failure.
func saveError(err error) *protocol.Error {
	var verrs validation.Errors
	if errors.As(err, &verrs) {
		names := make([]string, 0, len(verrs))
		for k := range verrs {
			names = append(names, k)
		}
		sort.Strings(names)
		field := ""
		if len(names) > 0 {
			field = names[0]
		}
		return &protocol.Error{Code: protocol.CodeValidationFailed, Field: field, Message: "The server refused the record: " + verrs.Error()}
	}
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 {
		code := protocol.CodeValidationFailed
		if c, ok := apiErr.Data["code"].(string); ok && c != "" {
			code = c
		}
		return &protocol.Error{Code: code, Message: apiErr.Message}
	}
	return nil
}

// serverRecord reads back the record as stored, redacted for the user.
func (a *applier) serverRecord(m *protocol.Mutation, s *schema) (json.RawMessage, error) {
	recs, err := readRecords(a.st, s, []string{m.RecordID})
	if err != nil {
		return nil, err
	}
	rec := recs[m.RecordID]
	if rec == nil || !a.decider.Visible(m.Collection, rec) {
		return nil, nil
	}
	a.decider.Redact(m.Collection, rec)
	return appendRecord(nil, s, a.sess.schema, rec), nil
}

// deleted reports whether the record has a tombstone. Its callers found
// no record through current, which settles queued creates first.
func (a *applier) deleted(m *protocol.Mutation) bool {
	var op string
	err := a.q(`SELECT op FROM sync_changes WHERE collection = {:c} AND record_id = {:id} ORDER BY seq DESC LIMIT 1`).
		Bind(dbx.Params{"c": m.Collection, "id": m.RecordID}).Row(&op)
	return err == nil && op == protocol.OpDelete
}

// result completes a successful mutation with the record's new version.
func (a *applier) result(m *protocol.Mutation, status string, merged, conflicts []string) (protocol.MutationResult, error) {
	if err := a.settle(); err != nil {
		return protocol.MutationResult{}, err
	}
	var seq sql.NullInt64
	err := a.q(`SELECT seq FROM sync_changes WHERE collection = {:c} AND record_id = {:id} ORDER BY seq DESC LIMIT 1`).
		Bind(dbx.Params{"c": m.Collection, "id": m.RecordID}).Row(&seq)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return protocol.MutationResult{}, err
	}
	return protocol.MutationResult{
		MutationID: m.MutationID, Status: status, Collection: m.Collection, RecordID: m.RecordID,
		Version: seq.Int64, MergedFields: merged, ConflictIDs: conflicts,
	}, nil
}

// appendOnly accepts audit events recorded on the device (for example a
// clinical note opened offline) into the hash chain.
func (a *applier) appendOnly(m *protocol.Mutation) (protocol.MutationResult, error) {
	if err := a.settle(); err != nil {
		return protocol.MutationResult{}, err
	}
	if m.Op != protocol.OpCreate {
		return protocol.MutationResult{}, rejectf(protocol.CodeAppendOnly, "op", "%s can only be added to, never changed or removed.", m.Collection)
	}
	var ev struct {
		Action     string         `json:"action"`
		Collection string         `json:"collection"`
		RecordID   string         `json:"record_id"`
		Fields     []string       `json:"fields"`
		Details    map[string]any `json:"details"`
	}
	for name, raw := range m.Fields {
		var err error
		switch name {
		case "action":
			err = json.Unmarshal(raw, &ev.Action)
		case "collection":
			err = json.Unmarshal(raw, &ev.Collection)
		case "record_id":
			err = json.Unmarshal(raw, &ev.RecordID)
		case "fields":
			err = json.Unmarshal(raw, &ev.Fields)
		case "details":
			err = json.Unmarshal(raw, &ev.Details)
		default:
			return protocol.MutationResult{}, rejectf(protocol.CodeUnknownField, name, "A device audit event has action, collection, record_id, fields and details only.")
		}
		if err != nil {
			return protocol.MutationResult{}, rejectf(protocol.CodeWrongType, name, "%q has the wrong type: %v", name, err)
		}
	}
	if ev.Action == "" || len(ev.Action) > 50 {
		return protocol.MutationResult{}, rejectf(protocol.CodeRequired, "action", "A device audit event needs an action (at most 50 characters).")
	}
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	ev.Details["device_event_id"] = m.RecordID
	if err := audit.Append(a.tx, audit.Event{
		Actor: a.sess.user.Id, ActorKind: "user", Device: a.sess.device, Action: "device:" + ev.Action,
		Collection: truncate(ev.Collection, 64), RecordID: truncate(ev.RecordID, 64), Fields: ev.Fields, Details: ev.Details,
	}); err != nil {
		return protocol.MutationResult{}, err
	}
	return protocol.MutationResult{MutationID: m.MutationID, Status: protocol.ResultApplied, Collection: m.Collection, RecordID: m.RecordID}, nil
}

func (a *applier) nudgeTeams(teams []string) {
	for _, t := range teams {
		a.teams[t] = true
	}
}

// singular names one record of a collection in messages.
func singular(collection string) string {
	switch collection {
	case "persons":
		return "person"
	case "bed_holds":
		return "bed hold"
	}
	return strings.TrimSuffix(strings.ReplaceAll(collection, "_", " "), "s")
}
