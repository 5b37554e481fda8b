package server

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// scanFactor bounds how many feed rows one page may read per change it may
// send: rows of other teams are skipped cheaply, but not without end.
const scanFactor = 20

// pullSlots bounds how many pulls encode pages at once (see handlePull).
// Each pull keeps two goroutines busy (reader and encoder), and every
// runnable goroutine takes an equal share of the CPU: with more slots, a
// crowd of pulls starves the one goroutine applying pushes, and pushes (the
// field's work reaching safety) wait behind downloads. Half the cores keeps
// the rest for the writer; pulls wait their turn instead.
var pullSlots = make(chan struct{}, max(1, runtime.NumCPU()/2))

// gzipPool reuses compressors: each holds about a megabyte of state.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
	return w
}}

// handlePull serves PathPull: one page of changes after the cursor,
// scoped and redacted for the user, streamed as it is read.
func (s *service) handlePull(e *core.RequestEvent) error {
	sess, ferr := open(e)
	if ferr != nil {
		return fail(e, ferr)
	}
	req, ferr := parsePullRequest(e)
	if ferr != nil {
		return fail(e, ferr)
	}
	cursor, err := protocol.ParseCursor(req.Cursor)
	if err != nil {
		return fail(e, perr(http.StatusBadRequest, protocol.CodeBadCursor,
			"The cursor %q was not issued by this server. Drop pulled records (keep unpushed work) and pull from the empty cursor.", truncate(req.Cursor, 60)))
	}
	limit := clamp(req.Limit, protocol.DefaultPullLimit, protocol.MaxPullLimit)
	maxBytes := clamp(req.MaxBytes, protocol.DefaultPullMaxBytes, protocol.MaxPullMaxBytes)

	fp, err := sess.scopeFingerprint(e.App)
	if err != nil {
		return fail(e, perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not read the access epoch: %v", err))
	}
	status, reason := protocol.StatusOK, ""
	if req.Cursor != "" {
		pruned, err1 := changefeed.PrunedThrough(e.App)
		head, err2 := changefeed.Head(e.App)
		if err1 != nil || err2 != nil {
			return fail(e, perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not read the change feed."))
		}
		switch {
		case cursor.Scope != fp:
			status, reason = protocol.StatusRescope, "Your access changed (teams, role, organisation or a sharing agreement). Drop pulled records, keep unpushed work, and pull from the start."
		case cursor.Seq < pruned:
			status, reason = protocol.StatusReset, fmt.Sprintf("This device last synced before the server forgot old deletions (%d days). Drop pulled records, keep unpushed work, and pull from the start.", int(tombstoneWindow(e.App).Hours()/24))
		case cursor.Seq > head:
			status, reason = protocol.StatusReset, "The server's data is older than this device's cursor (restored from a backup?). Drop pulled records, keep unpushed work, and pull from the start."
		}
	}

	// Encoding a page takes CPU and about a megabyte of compressor state.
	// Hundreds of tablets reconnecting at once would otherwise all encode
	// together: memory grows with the crowd and every pull gets slower.
	// Waiting for a slot keeps both bounded; the client sees only latency.
	select {
	case pullSlots <- struct{}{}:
		defer func() { <-pullSlots }()
	case <-e.Request.Context().Done():
		return e.Request.Context().Err()
	}

	w := e.Response
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	var gz *gzip.Writer
	if acceptsGzip(e.Request.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz = gzipPool.Get().(*gzip.Writer)
		gz.Reset(w)
		defer gzipPool.Put(gz)
		out = gz
	}
	w.WriteHeader(http.StatusOK)

	buf := make([]byte, 0, 64<<10)
	buf = fmt.Appendf(buf, `{"protocol":%d,"schema":%d,"status":%q,`, sess.protocol, sess.schema, status)
	if reason != "" {
		buf = append(buf, `"reason":`...)
		buf = appendString(buf, reason)
		buf = append(buf, ',')
	}
	buf = fmt.Appendf(buf, `"server_time":%q,"changes":[`, time.Now().UTC().Format(time.RFC3339Nano))

	stats := pullStats{}
	next := cursor
	next.Scope = fp
	hasMore := status != protocol.StatusOK
	if status == protocol.StatusOK {
		decider, err := access.NewDecider(e.App, sess.viewer)
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		p := &pager{app: e.App, sess: sess, decider: decider, out: out, buf: buf, limit: limit, maxBytes: maxBytes, stats: &stats}
		last, more, err := p.run(cursor.Seq)
		if err != nil {
			e.App.Logger().Error("sync pull failed", "error", err, "device", sess.device)
			panic(http.ErrAbortHandler) // the device sees a broken answer and keeps its cursor
		}
		buf = p.buf
		next.Seq, hasMore = last, more
	} else {
		next = protocol.Cursor{}
	}

	nextStr := next.String()
	// Every sync to a device leaves an audit event, committed before the
	// device gets the cursor that acknowledges the page.
	err = s.commits.do(1, func(tx core.App, st *changefeed.Statements) error {
		if err := audit.Append(tx, audit.Event{
			Actor: sess.user.Id, ActorKind: "user", Device: sess.device, Action: "sync_pull",
			Details: map[string]any{
				"from": cursor.Seq, "to": next.Seq, "status": status, "upserts": stats.upserts,
				"evictions": stats.evictions, "deletes": stats.deletes, "redacted_fields": stats.redacted,
				"protocol": sess.protocol, "schema": sess.schema,
			},
		}); err != nil {
			return err
		}
		return sess.touchDevice(st, &nextStr)
	})
	if err != nil {
		e.App.Logger().Error("sync pull audit failed", "error", err, "device", sess.device)
		panic(http.ErrAbortHandler)
	}
	buf = append(buf, `],"cursor":`...)
	buf = appendString(buf, nextStr)
	buf = fmt.Appendf(buf, `,"has_more":%t}`, hasMore)
	if _, err := out.Write(buf); err != nil {
		return nil // the device went away; it keeps its old cursor
	}
	if gz != nil {
		return gz.Close()
	}
	return nil
}

type pullStats struct{ upserts, evictions, deletes, redacted int }

// pager reads the feed and writes changes until a limit is reached.
type pager struct {
	app      core.App
	sess     *session
	decider  *access.Decider
	out      io.Writer
	buf      []byte
	limit    int
	maxBytes int
	stats    *pullStats
	written  int // bytes of changes so far
	emitted  int

	mu   sync.Mutex
	free []map[string]any // record maps to reuse, shared by reader and encoder
}

// alloc returns an empty record map, reusing one from an earlier batch.
func (p *pager) alloc() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		m := p.free[n-1]
		p.free = p.free[:n-1]
		return m
	}
	return make(map[string]any, 24)
}

// recycle keeps a batch's record maps for the next batch.
func (p *pager) recycle(records map[string]map[string]map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range records {
		for _, rec := range m {
			clear(rec)
			p.free = append(p.free, rec)
		}
	}
}

// caughtUp is the cursor of a device that has everything its teams may
// hold: the feed head of the page's snapshot. Other teams' rows after pos
// are never read (ScanTeams skips them), so without this a quiet team's
// cursor would lag the hub and look older than the tombstone window.
func caughtUp(tx *dbx.Tx, pos int64) (int64, error) {
	var head int64
	if err := tx.NewQuery("SELECT COALESCE(MAX(seq), 0) FROM sync_changes").Row(&head); err != nil {
		return pos, err
	}
	return max(head, pos), nil
}

// readBatch is one batch of feed rows with the records they name, as the
// reader hands it to the encoder. A batch with end set is the last: head
// is then the cursor of a caught-up device (0 when the scan stopped early).
type readBatch struct {
	entries []changefeed.Entry
	records map[string]map[string]map[string]any
	end     bool
	head    int64
	err     error
}

// run streams changes after seq. It returns the cursor sequence to hand
// out (the last row read or sent) and whether more changes may wait.
//
// Reading and encoding overlap: a reader goroutine scans the feed and loads
// records in one read transaction (the page is a consistent snapshot) while
// this goroutine redacts, encodes and writes the batch before. On a
// two-core hub a first sync then costs about its SQLite reads, not the sum
// of reads and encoding.
func (p *pager) run(after int64) (int64, bool, error) {
	db, ok := p.app.ConcurrentDB().(*dbx.DB)
	if !ok {
		return after, false, fmt.Errorf("unexpected database type %T", p.app.ConcurrentDB())
	}
	tx, err := db.Begin()
	if err != nil {
		return after, false, err
	}
	batches := make(chan readBatch, 1)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer tx.Rollback()
		p.read(tx, after, batches, stop)
	}()
	defer func() {
		close(stop)
		<-done
	}()

	pos := after
	for b := range batches {
		if b.err != nil {
			return after, false, b.err
		}
		for _, en := range b.entries {
			if !en.InScope(p.sess.viewer.Teams) {
				pos = en.Seq
				continue
			}
			mark := len(p.buf)
			if p.emitted > 0 {
				p.buf = append(p.buf, ',')
			}
			var kind changeKind
			var redacted int
			p.buf, kind, redacted = p.encode(p.buf, en, b.records)
			if kind == kindNone {
				p.buf = p.buf[:mark]
				pos = en.Seq
				continue
			}
			size := len(p.buf) - mark
			if p.emitted > 0 && p.written+size > p.maxBytes {
				p.buf = p.buf[:mark]
				return pos, true, nil // this change starts the next page
			}
			p.stats.count(kind, redacted)
			p.written += size
			p.emitted++
			pos = en.Seq
			if len(p.buf) >= 32<<10 {
				if _, err := p.out.Write(p.buf); err != nil {
					return after, false, err
				}
				p.buf = p.buf[:0]
			}
			if p.emitted >= p.limit || p.written >= p.maxBytes {
				return pos, true, nil
			}
		}
		p.recycle(b.records)
		if b.end {
			if b.head == 0 {
				return pos, true, nil // scanned enough other teams' rows for one page
			}
			return b.head, false, nil // at or past every row read
		}
	}
	return pos, true, nil
}

// read scans the feed after seq in batches for the encoder, stopping when
// the page cannot take more, the feed ends, or stop is closed.
func (p *pager) read(tx *dbx.Tx, after int64, out chan<- readBatch, stop <-chan struct{}) {
	defer close(out)
	send := func(b readBatch) bool {
		select {
		case out <- b:
			return true
		case <-stop:
			return false
		}
	}
	pos := after
	scanned, inScope := 0, 0
	maxScan := p.limit * scanFactor
	for {
		// No more in-scope rows than the page can take: reading ahead past
		// the page would be wasted.
		want := min(1000, p.limit-inScope)
		if want <= 0 {
			send(readBatch{end: true})
			return
		}
		var batch []changefeed.Entry
		err := changefeed.ScanTeams(tx, pos, want, p.sess.viewer.Teams, func(en changefeed.Entry) error {
			batch = append(batch, en)
			return nil
		})
		if err != nil {
			send(readBatch{err: err})
			return
		}
		if len(batch) == 0 {
			head, err := caughtUp(tx, pos)
			send(readBatch{end: true, head: head, err: err})
			return
		}
		scanned += len(batch)
		pos = batch[len(batch)-1].Seq
		// Read only the records this viewer's teams ever held: on a busy hub
		// most feed rows belong to other teams, and loading them would make
		// every pull cost as much as the whole hub's traffic.
		mine := make([]changefeed.Entry, 0, len(batch))
		for _, en := range batch {
			if en.InScope(p.sess.viewer.Teams) {
				mine = append(mine, en)
			}
		}
		inScope += len(mine)
		records, err := p.load(tx, mine)
		if err != nil {
			send(readBatch{err: err})
			return
		}
		b := readBatch{entries: batch, records: records}
		switch {
		case len(batch) < want:
			b.end = true
			b.head, b.err = caughtUp(tx, pos)
		case scanned >= maxScan:
			b.end = true
		}
		if !send(b) || b.end {
			return
		}
	}
}

// load reads the current state of the in-scope upserted records of a
// batch, by collection, in a few queries: by rowid (the feed's hint, no id
// index needed) and, for any record the hint missed, by id.
func (p *pager) load(db dbx.Builder, batch []changefeed.Entry) (map[string]map[string]map[string]any, error) {
	type want struct {
		ids  []string
		rids []int64
	}
	wants := map[string]*want{}
	for _, en := range batch {
		if en.Op == protocol.OpUpsert && en.InScope(p.sess.viewer.Teams) {
			w := wants[en.Collection]
			if w == nil {
				w = &want{}
				wants[en.Collection] = w
			}
			w.ids = append(w.ids, en.RecordID)
			if en.RowID > 0 {
				w.rids = append(w.rids, en.RowID)
			}
		}
	}
	out := make(map[string]map[string]map[string]any, len(wants))
	for coll, w := range wants {
		s, err := schemaOf(p.app, coll)
		if err != nil {
			continue // collection removed: its rows are skipped
		}
		m, err := readRecordsWhere(db, s, "rowid", w.rids, p.alloc)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, id := range w.ids {
			if m[id] == nil {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			more, err := readRecords(db, s, missing)
			if err != nil {
				return nil, err
			}
			for id, rec := range more {
				m[id] = rec
			}
		}
		out[coll] = m
		// Consents of every person on the page in a few queries, not one
		// per record.
		rows := make([]map[string]any, 0, len(m))
		for _, rec := range m {
			rows = append(rows, rec)
		}
		if err := p.decider.Preload(coll, rows); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readRecords loads records by id as sync values.
func readRecords(db queryMaker, s *schema, ids []string) (map[string]map[string]any, error) {
	return readRecordsWhere(db, s, "id", ids, nil)
}

// queryMaker makes queries: a dbx.Builder, or a transaction's statement
// cache (changefeed.Statements), which builds each query once.
type queryMaker interface {
	NewQuery(sql string) *dbx.Query
}

// readRecordsWhere loads the records whose column (id or rowid) is in
// keys, as sync values keyed by id. The keys travel as one bound JSON
// array: the statement text stays the same, so SQLite prepares it quickly
// whatever their number.
//
// alloc, when not nil, supplies the maps records are decoded into (a pull
// recycles them from page to page).
func readRecordsWhere[K string | int64](db queryMaker, s *schema, column string, keys []K, alloc func() map[string]any) (map[string]map[string]any, error) {
	out := make(map[string]map[string]any, len(keys))
	vals := make([]any, len(s.fields))
	ptrs := make([]any, len(s.fields))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for start := 0; start < len(keys); start += 1000 {
		chunk, _ := json.Marshal(keys[start:min(start+1000, len(keys))])
		rows, err := db.NewQuery("SELECT " + s.columns + " FROM [[" + s.collection.Name + "]] WHERE " + column + " IN (SELECT value FROM json_each({:keys}))").
			Bind(dbx.Params{"keys": string(chunk)}).Rows()
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return nil, err
			}
			var rec map[string]any
			if alloc != nil {
				rec = alloc()
			} else {
				rec = make(map[string]any, len(s.fields))
			}
			for i := range s.fields {
				rec[s.fields[i].name] = s.fields[i].decode(vals[i])
			}
			out[asString(rec["id"])] = rec
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// changeKind is what encode wrote.
type changeKind int

const (
	kindNone changeKind = iota
	kindDelete
	kindEvict
	kindUpsert
)

func (st *pullStats) count(k changeKind, redacted int) {
	switch k {
	case kindDelete:
		st.deletes++
	case kindEvict:
		st.evictions++
	case kindUpsert:
		st.upserts++
		st.redacted += redacted
	}
}

// encode appends one feed entry, rendered for this user, to dst. It
// writes nothing (kindNone) for a record that vanished between reads: its
// tombstone follows.
func (p *pager) encode(dst []byte, en changefeed.Entry, records map[string]map[string]map[string]any) ([]byte, changeKind, int) {
	head := func(op, reason string) []byte {
		dst = append(dst, `{"seq":`...)
		dst = strconv.AppendInt(dst, en.Seq, 10)
		dst = append(dst, `,"collection":`...)
		dst = appendString(dst, en.Collection)
		dst = append(dst, `,"id":`...)
		dst = appendString(dst, en.RecordID)
		dst = append(dst, `,"op":"`...)
		dst = append(dst, op...)
		dst = append(dst, `","reason":`...)
		return appendString(dst, reason)
	}
	if en.Op == protocol.OpDelete {
		return append(head(protocol.OpDelete, protocol.ReasonDeleted), '}'), kindDelete, 0
	}
	rec := records[en.Collection][en.RecordID]
	if rec == nil {
		return dst, kindNone, 0
	}
	if !p.decider.Visible(en.Collection, rec) {
		return append(head(protocol.OpEvict, protocol.ReasonAccess), '}'), kindEvict, 0
	}
	redacted := len(p.decider.Redact(en.Collection, rec))
	s, err := schemaOf(p.app, en.Collection)
	if err != nil {
		return dst, kindNone, 0
	}
	dst = head(protocol.OpUpsert, en.Reason)
	dst = append(dst, `,"record":`...)
	dst = appendRecord(dst, s, p.sess.schema, rec)
	return append(dst, '}'), kindUpsert, redacted
}

// parsePullRequest reads the request from the query (GET) or body (POST).
func parsePullRequest(e *core.RequestEvent) (protocol.PullRequest, *protocol.Error) {
	var req protocol.PullRequest
	if e.Request.Method == http.MethodPost && e.Request.ContentLength != 0 {
		body, err := io.ReadAll(io.LimitReader(e.Request.Body, 64<<10))
		if err != nil {
			return req, perr(http.StatusBadRequest, protocol.CodeInvalidJSON, "Could not read the request body: %v", err)
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return req, perr(http.StatusBadRequest, protocol.CodeInvalidJSON,
					"The pull body must be JSON like {\"cursor\": \"...\", \"limit\": 1000}: %v", err)
			}
		}
		return req, nil
	}
	q := e.Request.URL.Query()
	req.Cursor = q.Get("cursor")
	for name, dst := range map[string]*int{"limit": &req.Limit, "max_bytes": &req.MaxBytes} {
		if v := q.Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return req, perr(http.StatusBadRequest, protocol.CodeInvalidRequest, "%s must be a positive whole number.", name)
			}
			*dst = n
		}
	}
	return req, nil
}

func clamp(v, def, max int) int {
	if v <= 0 {
		return def
	}
	if v > max {
		return max
	}
	return v
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}
