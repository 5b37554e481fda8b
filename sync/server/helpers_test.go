package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// newUUID returns an id as the reference client makes it (UUIDv7).
func newUUID() string { return client.NewUUID() }

// newRandomUUID returns a random UUIDv4, as a client that does not follow
// PROTOCOL.md's advice on ids makes them.
func newRandomUUID() string { return uuid.NewString() }

// device is a tablet speaking the protocol over real HTTP.
type device struct {
	env      *testenv.Env
	user     *core.Record
	token    string
	id       string
	protocol int
	schema   int
	cursor   string
	// records is the device's local store: collection/id -> record.
	records map[string]map[string]any
	// versions is the Seq each local record was last received at.
	versions map[string]int64
}

func newDevice(t testing.TB, env *testenv.Env, user *core.Record) *device {
	t.Helper()
	return &device{env: env, user: user, token: env.Token(t, user), id: newUUID(),
		protocol: protocol.ProtocolCurrent, schema: protocol.SchemaCurrent,
		records: map[string]map[string]any{}, versions: map[string]int64{}}
}

// raw sends a request with the device's headers.
func (d *device) raw(t testing.TB, method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, d.env.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", d.token)
	req.Header.Set(protocol.HeaderProtocol, strconv.Itoa(d.protocol))
	req.Header.Set(protocol.HeaderSchema, strconv.Itoa(d.schema))
	req.Header.Set(protocol.HeaderDevice, d.id)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	// Transport-level gzip is turned off so tests see what the server sent.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var rd io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		rd = gz
	}
	out, err := io.ReadAll(rd)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return res.StatusCode, res.Header, out
}

// push sends mutations and decodes the answer, failing on a non-200.
func (d *device) push(t testing.TB, muts ...protocol.Mutation) protocol.PushResponse {
	t.Helper()
	body, _ := json.Marshal(protocol.PushRequest{Mutations: muts})
	status, _, out := d.raw(t, http.MethodPost, protocol.PathPush, body, nil)
	if status != http.StatusOK {
		t.Fatalf("push: %d %s", status, out)
	}
	var res protocol.PushResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("push answer: %v: %s", err, out)
	}
	if len(res.Results) != len(muts) {
		t.Fatalf("push: %d results for %d mutations", len(res.Results), len(muts))
	}
	return res
}

// pullPage pulls one page from the device's cursor.
func (d *device) pullPage(t testing.TB, limit, maxBytes int) protocol.PullResponse {
	t.Helper()
	body, _ := json.Marshal(protocol.PullRequest{Cursor: d.cursor, Limit: limit, MaxBytes: maxBytes})
	status, _, out := d.raw(t, http.MethodPost, protocol.PathPull, body, map[string]string{"Accept-Encoding": "gzip"})
	if status != http.StatusOK {
		t.Fatalf("pull: %d %s", status, out)
	}
	var res protocol.PullResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("pull answer: %v: %s", err, out)
	}
	return res
}

// sync pulls until has_more is false, applying pages to the local store
// like a real client (reset/rescope drops the store). It returns every
// change received.
func (d *device) sync(t testing.TB) []protocol.Change {
	t.Helper()
	var all []protocol.Change
	for i := 0; i < 1000; i++ {
		page := d.pullPage(t, 0, 0)
		switch page.Status {
		case protocol.StatusReset, protocol.StatusRescope:
			d.records, d.versions, d.cursor = map[string]map[string]any{}, map[string]int64{}, ""
			all = append(all, protocol.Change{Op: page.Status})
			continue
		}
		for _, c := range page.Changes {
			key := c.Collection + "/" + c.ID
			switch c.Op {
			case protocol.OpUpsert:
				var rec map[string]any
				if err := json.Unmarshal(c.Record, &rec); err != nil {
					t.Fatalf("record %s: %v", key, err)
				}
				d.records[key] = rec
				d.versions[key] = c.Seq
			default:
				delete(d.records, key)
				delete(d.versions, key)
			}
		}
		all = append(all, page.Changes...)
		d.cursor = page.Cursor
		if !page.HasMore {
			return all
		}
	}
	t.Fatal("sync did not finish in 1000 pages")
	return nil
}

// get returns the local copy of a record.
func (d *device) get(collection, id string) map[string]any { return d.records[collection+"/"+id] }

// version returns the version a local record was pulled at.
func (d *device) version(collection, id string) int64 { return d.versions[collection+"/"+id] }

// fields encodes a map as mutation fields.
func fields(t testing.TB, m map[string]any) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	return out
}

func create(t testing.TB, collection, id string, f map[string]any) protocol.Mutation {
	return protocol.Mutation{MutationID: newUUID(), Collection: collection, RecordID: id, Op: protocol.OpCreate, Fields: fields(t, f)}
}

func updateM(t testing.TB, collection, id string, base int64, f map[string]any) protocol.Mutation {
	return protocol.Mutation{MutationID: newUUID(), Collection: collection, RecordID: id, Op: protocol.OpUpdate, BaseVersion: base, Fields: fields(t, f)}
}

// world is two co-responder teams with their people.
type world struct {
	env                               *testenv.Env
	north, south                      *core.Record
	worker, officer, clinician, lead  *core.Record
	southWorker                       *core.Record
	outreachOrg, policeOrg, healthOrg *core.Record
}

func newWorld(t testing.TB) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env}
	w.outreachOrg = env.Org(t, "City Outreach", "outreach")
	w.policeOrg = env.Org(t, "City Police", "police")
	w.healthOrg = env.Org(t, "County Health", "health")
	w.north, w.south = env.Team(t, "North"), env.Team(t, "South")
	w.worker = env.User(t, "Ana Worker", "outreach_worker", w.outreachOrg, w.north)
	w.officer = env.User(t, "Ben Officer", "officer", w.policeOrg, w.north)
	w.clinician = env.User(t, "Cleo Clinician", "clinician", w.healthOrg, w.north)
	w.lead = env.User(t, "Dee Lead", "team_lead", w.outreachOrg, w.north)
	w.southWorker = env.User(t, "Eli South", "outreach_worker", w.outreachOrg, w.south)
	return w
}

func mustStatus(t testing.TB, res protocol.MutationResult, want string) {
	t.Helper()
	if res.Status != want {
		b, _ := json.Marshal(res)
		t.Fatalf("mutation %s: status %s, want %s: %s", res.MutationID, res.Status, want, b)
	}
}

func count(t testing.TB, env *testenv.Env, sql string, args ...any) int {
	t.Helper()
	params := map[string]any{}
	for i, a := range args {
		params["p"+strconv.Itoa(i)] = a
	}
	var n int
	if err := env.App.DB().NewQuery(sql).Bind(params).Row(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
