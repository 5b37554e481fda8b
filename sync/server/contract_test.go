package server_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

var update = flag.Bool("update", false, "rewrite mobile-contract golden responses and record schemas from the live server")

const contractDir = "../../mobile-contract"

// openAPIValidator loads mobile-contract/openapi.yaml and checks it is a
// valid OpenAPI 3.1 document.
func openAPIValidator(t *testing.T) validator.Validator {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join(contractDir, "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("openapi.yaml does not parse: %v", err)
	}
	if doc.GetVersion() != "3.1.0" {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1.0", doc.GetVersion())
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("openapi.yaml does not build: %v", err)
	}
	for _, p := range []string{protocol.PathPull, protocol.PathPush, protocol.PathInfo} {
		if _, ok := model.Model.Paths.PathItems.Get(p); !ok {
			t.Fatalf("openapi.yaml does not describe %s", p)
		}
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return v
}

func TestOpenAPIDocumentIsValid(t *testing.T) { openAPIValidator(t) }

// golden is one recorded exchange script of mobile-contract/golden.
type golden struct {
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Steps       []goldenStep `json:"steps"`
}

type goldenStep struct {
	Name   string `json:"name"`
	As     string `json:"as"`               // worker, officer, clinician, lead, south_worker, superuser, anonymous
	Device string `json:"device,omitempty"` // device name; one UUID per name per replay
	// InvalidRequest marks a request that breaks the contract on purpose
	// (bad input): only the answer is checked against openapi.yaml.
	InvalidRequest bool `json:"invalid_request,omitempty"`
	Request        struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers,omitempty"`
		Body    json.RawMessage   `json:"body,omitempty"`
		RawBody *string           `json:"raw_body,omitempty"`
	} `json:"request"`
	Response struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response"`
}

// replay holds the values placeholders stand for during one replay.
type replay struct {
	t        *testing.T
	w        *world
	values   map[string]string  // placeholder -> value
	versions map[string][]int64 // record id -> versions seen, oldest first
	cursors  map[string]string  // device name -> last cursor
	names    map[string]string  // value -> placeholder, for normalising
}

func newReplay(t *testing.T, w *world) *replay {
	r := &replay{t: t, w: w, values: map[string]string{}, versions: map[string][]int64{}, cursors: map[string]string{}, names: map[string]string{}}
	r.bind("team:north", w.north.Id)
	r.bind("team:south", w.south.Id)
	r.bind("org:outreach", w.outreachOrg.Id)
	r.bind("org:police", w.policeOrg.Id)
	r.bind("org:health", w.healthOrg.Id)
	for name, u := range map[string]string{"worker": w.worker.Id, "officer": w.officer.Id, "clinician": w.clinician.Id, "lead": w.lead.Id, "south_worker": w.southWorker.Id} {
		r.bind("user:"+name, u)
	}
	return r
}

func (r *replay) bind(key, value string) {
	r.values[key] = value
	r.names[value] = "{{" + key + "}}"
}

var placeholderRe = regexp.MustCompile(`"?\{\{([a-z_]+):([A-Za-z0-9_\-#]+)\}\}"?`)

// expand substitutes placeholders in request text. Versions become JSON
// numbers; everything else stays inside its string.
func (r *replay) expand(s string) string {
	return placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeholderRe.FindStringSubmatch(m)
		kind, name := sub[1], sub[2]
		quoted := strings.HasPrefix(m, `"`) && strings.HasSuffix(m, `"`)
		wrap := func(v string) string {
			if quoted {
				return `"` + v + `"`
			}
			return v
		}
		switch kind {
		case "uuid", "device":
			key := kind + ":" + name
			if _, ok := r.values[key]; !ok {
				r.bind(key, newUUID())
			}
			return wrap(r.values[key])
		case "version":
			id, nth := name, 0
			if i := strings.Index(name, "#"); i >= 0 {
				id = name[:i]
				nth, _ = strconv.Atoi(name[i+1:])
			}
			vs := r.versions[r.values["uuid:"+id]]
			if len(vs) == 0 {
				return "0"
			}
			if nth > 0 && nth <= len(vs) {
				return strconv.FormatInt(vs[nth-1], 10)
			}
			return strconv.FormatInt(vs[len(vs)-1], 10)
		case "cursor":
			return wrap(r.cursors[name])
		}
		if v, ok := r.values[kind+":"+name]; ok {
			return wrap(v)
		}
		r.t.Fatalf("unknown placeholder %s", m)
		return m
	})
}

func (r *replay) seen(id string, v int64) {
	if v == 0 {
		return
	}
	vs := r.versions[id]
	if len(vs) == 0 || vs[len(vs)-1] != v {
		r.versions[id] = append(vs, v)
	}
}

func (r *replay) token(as string) string {
	switch as {
	case "", "anonymous":
		return ""
	case "superuser":
		if r.values["token:superuser"] == "" {
			r.values["token:superuser"] = r.w.env.SuperuserToken(r.t)
		}
		return r.values["token:superuser"]
	}
	users := map[string]string{"worker": "", "officer": "", "clinician": "", "lead": "", "south_worker": ""}
	if _, ok := users[as]; !ok {
		r.t.Fatalf("unknown actor %q", as)
	}
	rec, err := r.w.env.App.FindRecordById("users", r.values["user:"+as])
	if err != nil {
		r.t.Fatal(err)
	}
	return r.w.env.Token(r.t, rec)
}

var (
	timeKeys = map[string]bool{"server_time": true, "created": true, "updated": true, "at": true, "enrolled_at": true,
		"last_sync_at": true, "decided_at": true, "held_until": true, "resolved_at": true, "revoked_at": true}
	timeInText = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?Z`)
	serverID   = regexp.MustCompile(`^[a-z0-9]{15}$`)
)

// normalise replaces what differs between replays (ids, versions, cursors,
// times) with stable placeholders.
func (r *replay) normalise(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[k] = r.normalise(k, val)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			if key == "conflict_ids" {
				out[i] = "<id>"
				continue
			}
			out[i] = r.normalise("", val)
		}
		return out
	case float64:
		if key == "seq" || key == "version" {
			return "<seq>"
		}
		return x
	case string:
		switch {
		case x == "":
			return x
		case key == "cursor":
			return "<cursor>"
		case timeKeys[key]:
			return "<time>"
		}
		if n, ok := r.names[x]; ok {
			return n
		}
		if serverID.MatchString(x) && key == "id" {
			return "<id>"
		}
		for val, name := range r.names {
			if len(val) >= 15 {
				x = strings.ReplaceAll(x, val, name)
			}
		}
		if key == "message" || key == "reason" {
			x = timeInText.ReplaceAllString(x, "<time>")
		}
		return x
	}
	return v
}

// learn records versions and cursors from an answer.
func (r *replay) learn(device string, body []byte) {
	var pull protocol.PullResponse
	if json.Unmarshal(body, &pull) == nil && pull.Status != "" {
		r.cursors[device] = pull.Cursor
		for _, c := range pull.Changes {
			r.seen(c.ID, c.Seq)
		}
		return
	}
	var push protocol.PushResponse
	if json.Unmarshal(body, &push) == nil {
		for _, res := range push.Results {
			r.seen(res.RecordID, res.Version)
		}
	}
}

// TestGoldenExchanges replays every mobile-contract/golden/*.json against
// a live server, checks each request and answer against openapi.yaml, and
// compares the normalised answers with the recorded ones. Run with
// -update to re-record after an intended change (and review the diff).
func TestGoldenExchanges(t *testing.T) {
	v := openAPIValidator(t)
	schemas := recordSchemas(t)
	files, err := filepath.Glob(filepath.Join(contractDir, "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden exchanges found (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var g golden
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			w := newWorld(t)
			r := newReplay(t, w)
			client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			for i := range g.Steps {
				st := &g.Steps[i]
				var body []byte
				switch {
				case st.Request.RawBody != nil:
					body = []byte(r.expand(*st.Request.RawBody))
				case len(st.Request.Body) > 0:
					body = []byte(r.expand(string(st.Request.Body)))
				}
				req, err := http.NewRequest(st.Request.Method, w.env.URL+r.expand(st.Request.Path), bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				if tok := r.token(st.As); tok != "" {
					req.Header.Set("Authorization", tok)
				}
				if st.Device != "" {
					req.Header.Set(protocol.HeaderProtocol, strconv.Itoa(protocol.ProtocolCurrent))
					req.Header.Set(protocol.HeaderSchema, strconv.Itoa(protocol.SchemaCurrent))
					req.Header.Set(protocol.HeaderDevice, r.expand("{{device:"+st.Device+"}}"))
				}
				for k, val := range st.Request.Headers {
					if val == "" {
						req.Header.Del(k)
					} else {
						req.Header.Set(k, r.expand(val))
					}
				}
				res, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(res.Body)
				res.Body.Close()

				// The exchange must match the OpenAPI description (sync
				// endpoints only: other steps use PocketBase's own API).
				if strings.HasPrefix(req.URL.Path, "/api/sync/") {
					vreq, _ := http.NewRequest(req.Method, req.URL.String(), bytes.NewReader(body))
					vreq.Header = req.Header.Clone()
					vres := &http.Response{StatusCode: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(out)), Request: vreq}
					check := v.ValidateHttpRequestResponse
					if st.InvalidRequest {
						check = v.ValidateHttpResponse
					}
					if ok, errs := check(vreq, vres); !ok {
						for _, e := range errs {
							t.Errorf("step %d %q does not match openapi.yaml: %s: %s %v", i+1, st.Name, e.Message, e.Reason, e.SchemaValidationErrors)
						}
					}
				}

				var got any
				if len(out) > 0 {
					if err := json.Unmarshal(out, &got); err != nil {
						t.Fatalf("step %d %q: answer is not JSON: %s", i+1, st.Name, out)
					}
				}
				r.learn(st.Device, out)
				checkRecords(t, schemas, out)
				norm, _ := json.Marshal(r.normalise("", got))
				if *update {
					st.Response.Status = res.StatusCode
					st.Response.Body = norm
					continue
				}
				if res.StatusCode != st.Response.Status {
					t.Fatalf("step %d %q: status %d, golden %d: %s", i+1, st.Name, res.StatusCode, st.Response.Status, out)
				}
				var want any
				_ = json.Unmarshal(st.Response.Body, &want)
				wantNorm, _ := json.Marshal(want)
				if string(wantNorm) != string(norm) {
					t.Fatalf("step %d %q drifted from the contract:\n got: %s\nwant: %s", i+1, st.Name, norm, wantNorm)
				}
			}
			if *update {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reindent(g)); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// reindent turns raw bodies into values so the file is indented whole.
func reindent(g golden) any {
	var v any
	b, _ := json.Marshal(g)
	_ = json.Unmarshal(b, &v)
	return v
}

// TestRecordSchemas keeps mobile-contract/schemas/*.json equal to the
// collections devices sync (run with -update after a schema change).
func TestRecordSchemas(t *testing.T) {
	w := newWorld(t)
	for _, name := range protocol.Collections {
		c, err := w.env.App.FindCollectionByNameOrId(name)
		if err != nil {
			t.Fatal(err)
		}
		schema := recordSchema(c.Name, c)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(schema); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(contractDir, "schemas", name+".json")
		if *update {
			if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("missing %s: run go test ./sync/server -run TestRecordSchemas -update", file)
		}
		if !bytes.Equal(have, buf.Bytes()) {
			t.Fatalf("%s is out of date with the %s collection: run go test ./sync/server -run TestRecordSchemas -update", file, name)
		}
	}
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// recordSchemas compiles mobile-contract/schemas/*.json.
func recordSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	out := map[string]*jsonschema.Schema{}
	for _, name := range protocol.Collections {
		f, err := os.Open(filepath.Join(contractDir, "schemas", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("schemas/%s.json: %v", name, err)
		}
		c := jsonschema.NewCompiler()
		url := "https://tandem.invalid/mobile-contract/schemas/" + name + ".json"
		if err := c.AddResource(url, doc); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("schemas/%s.json does not compile: %v", name, err)
		}
		out[name] = sch
	}
	return out
}

// checkRecords validates every record a pull or push answer carries
// against its collection's JSON Schema.
func checkRecords(t *testing.T, schemas map[string]*jsonschema.Schema, body []byte) {
	t.Helper()
	var page struct {
		Changes []struct {
			Collection string          `json:"collection"`
			Record     json.RawMessage `json:"record"`
		} `json:"changes"`
		Results []struct {
			Collection string          `json:"collection"`
			Record     json.RawMessage `json:"record"`
		} `json:"results"`
	}
	if json.Unmarshal(body, &page) != nil {
		return
	}
	check := func(coll string, raw json.RawMessage) {
		if len(raw) == 0 {
			return
		}
		sch := schemas[coll]
		if sch == nil {
			t.Errorf("record of %s has no schema", coll)
			return
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s record does not match schemas/%s.json: %v", coll, coll, err)
		}
	}
	for _, c := range page.Changes {
		check(c.Collection, c.Record)
	}
	for _, r := range page.Results {
		check(r.Collection, r.Record)
	}
}

var _ = fmt.Sprint
