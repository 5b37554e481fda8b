package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-outreach/tandem/sync/protocol"
)

// FIELD-SCENARIO 16: bad input is refused clearly, one mutation at a time,
// and the rest of the queue lands.
func TestScenario16BadInput(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	good := func() protocol.Mutation {
		return create(t, "encounters", newUUID(), map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})
	}
	withField := func(name string, raw string) protocol.Mutation {
		m := good()
		m.Fields[name] = json.RawMessage(raw)
		return m
	}
	huge := withField("general_notes", `"`+strings.Repeat("x", 50<<20)+`"`)
	cases := []struct {
		name  string
		m     protocol.Mutation
		code  string
		field string
	}{
		{"wrong type", withField("encounter_type", `42`), protocol.CodeWrongType, "encounter_type"},
		{"not a select option", withField("disposition", `"vanished"`), protocol.CodeInvalidValue, "disposition"},
		{"unknown field", withField("favourite_colour", `"blue"`), protocol.CodeUnknownField, "favourite_colour"},
		{"server field", withField("created", `"2020-01-01 00:00:00Z"`), protocol.CodeFieldReadOnly, "created"},
		{"text too long", withField("police_incident_ref", `"`+strings.Repeat("9", 101)+`"`), protocol.CodeTooLong, "police_incident_ref"},
		{"bad date", withField("occurred_at", `"last tuesday"`), protocol.CodeInvalidValue, "occurred_at"},
		{"too many values", withField("person", `["a","b"]`), protocol.CodeWrongType, "person"},
		{"missing relation", withField("person", `"0b7e6c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c"`), protocol.CodeRelationMissing, "person"},
		{"bad geo point", withField("location", `{"lon": 500, "lat": 1}`), protocol.CodeInvalidValue, "location"},
		{"required missing", create(t, "encounters", newUUID(), map[string]any{"team": w.north.Id, "encounter_type": "outreach"}), protocol.CodeRequired, "occurred_at"},
		{"unknown collection", create(t, "secrets", newUUID(), map[string]any{}), protocol.CodeUnknownCollection, ""},
		{"unknown op", protocol.Mutation{MutationID: newUUID(), Collection: "encounters", RecordID: newUUID(), Op: "upsert"}, protocol.CodeUnknownOp, "op"},
		{"non-UUID record id", create(t, "encounters", "enc-1", map[string]any{}), protocol.CodeInvalidRecordID, "record_id"},
		{"non-UUID mutation id", protocol.Mutation{MutationID: "42", Collection: "encounters", RecordID: newUUID(), Op: "create"}, protocol.CodeInvalidMutationID, "mutation_id"},
		{"50 MB note", huge, protocol.CodeMutationTooLarge, ""},
	}
	var muts []protocol.Mutation
	var goods []protocol.Mutation
	for _, c := range cases {
		g := good()
		goods = append(goods, g)
		muts = append(muts, c.m, g)
	}
	// A mutation whose envelope has wrong types is answered alone too.
	body, _ := json.Marshal(protocol.PushRequest{Mutations: muts})
	body = []byte(strings.Replace(string(body), `{"mutations":[`, `{"mutations":[{"mutation_id":"`+newUUID()+`","collection":"encounters","record_id":7,"op":"create"},`, 1))
	status, _, out := tab.raw(t, http.MethodPost, protocol.PathPush, body, nil)
	if status != http.StatusOK {
		t.Fatalf("push: %d %.300s", status, out)
	}
	var res protocol.PushResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	if r := res.Results[0]; r.Status != protocol.ResultRejected || r.Error.Code != protocol.CodeInvalidMutation {
		t.Fatalf("envelope with wrong types: %+v", r)
	}
	results := res.Results[1:]
	for i, c := range cases {
		r := results[2*i]
		if r.Status != protocol.ResultRejected || r.Error == nil || r.Error.Code != c.code || r.Error.Field != c.field || r.Error.Message == "" {
			t.Errorf("%s: want rejected %s on %q, got %+v %+v", c.name, c.code, c.field, r, r.Error)
		}
		mustStatus(t, results[2*i+1], protocol.ResultApplied)
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM encounters`); n != len(goods) {
		t.Fatalf("want the %d good encounters stored, got %d", len(goods), n)
	}

	// Whole-request errors: nothing applied, clear code.
	for _, c := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"truncated JSON", `{"mutations":[{"mutation_id":"` + newUUID() + `","collection":"enc`, http.StatusBadRequest, protocol.CodeInvalidJSON},
		{"not an object", `[1,2,3]`, http.StatusBadRequest, protocol.CodeInvalidJSON},
		{"no mutations list", `{}`, http.StatusBadRequest, protocol.CodeInvalidRequest},
		{"too many mutations", `{"mutations":[` + strings.TrimSuffix(strings.Repeat(`{},`, protocol.MaxMutationsPerPush+1), ",") + `]}`, http.StatusRequestEntityTooLarge, protocol.CodeBatchTooLarge},
		{"body over the limit", `{"mutations":["` + strings.Repeat("x", protocol.MaxPushBodyBytes) + `"]}`, http.StatusRequestEntityTooLarge, protocol.CodeBodyTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, out := tab.raw(t, http.MethodPost, protocol.PathPush, []byte(c.body), nil)
			var e protocol.Error
			if err := json.Unmarshal(out, &e); err != nil || status != c.status || e.Code != c.code || e.Message == "" {
				t.Fatalf("want %d %s, got %d %.300s", c.status, c.code, status, out)
			}
		})
	}
	if n := count(t, w.env, `SELECT COUNT(*) FROM encounters`); n != len(goods) {
		t.Fatalf("refused requests must apply nothing, have %d encounters", n)
	}

	// Bad pull parameters.
	for _, q := range []string{"?cursor=garbage", "?limit=-3", "?limit=abc"} {
		status, _, out := tab.raw(t, http.MethodGet, protocol.PathPull+q, nil, nil)
		if status != http.StatusBadRequest {
			t.Fatalf("pull %s: %d %s", q, status, out)
		}
	}
	// Missing device id, or not signed in.
	status, _, _ = tab.raw(t, http.MethodGet, protocol.PathPull, nil, map[string]string{protocol.HeaderDevice: ""})
	if status != http.StatusBadRequest {
		t.Fatalf("missing device id: %d", status)
	}
	status, _, _ = tab.raw(t, http.MethodGet, protocol.PathPull, nil, map[string]string{"Authorization": ""})
	if status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", status)
	}
}

// A gzip-compressed push body is accepted (devices on slow links), and an
// inflated body over the limit is refused like a plain one.
func TestPushAcceptsGzipBodies(t *testing.T) {
	w := newWorld(t)
	tab := newDevice(t, w.env, w.worker)
	gzipped := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	body, _ := json.Marshal(protocol.PushRequest{Mutations: []protocol.Mutation{
		create(t, "encounters", newUUID(), map[string]any{"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach"})}})
	status, _, out := tab.raw(t, http.MethodPost, protocol.PathPush, gzipped(body), map[string]string{"Content-Encoding": "gzip"})
	if status != http.StatusOK || !strings.Contains(string(out), `"applied"`) {
		t.Fatalf("gzip push: %d %s", status, out)
	}
	bomb := gzipped([]byte(`{"mutations":["` + strings.Repeat("0", protocol.MaxPushBodyBytes) + `"]}`))
	status, _, out = tab.raw(t, http.MethodPost, protocol.PathPush, bomb, map[string]string{"Content-Encoding": "gzip"})
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(string(out), protocol.CodeBodyTooLarge) {
		t.Fatalf("inflated body over the limit: %d %.200s", status, out)
	}
}
