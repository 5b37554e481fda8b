package server_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// BenchmarkSync measures the sync engine and, in the same run, the stock
// PocketBase paths it replaces (DESIGN.md §7). Run:
//
//	go test ./sync/server/ -run '^$' -bench Sync -benchtime 3x
//
// Custom metrics: records/s (or mutations/s) per path; compare ratios.
func BenchmarkSync(b *testing.B) {
	w := newWorld(b)
	w.env.App.Settings().Batch.Enabled = true
	w.env.App.Settings().Batch.MaxRequests = 1000
	w.env.App.Settings().Batch.Timeout = 60
	w.env.App.Settings().Batch.MaxBodySize = 128 << 20

	encounter := func(i int) map[string]any {
		return map[string]any{
			"team": w.north.Id, "occurred_at": "2026-11-20 21:00:00.000Z", "encounter_type": "outreach",
			"disposition": "no_action", "living_situation": "116", "needs": []string{"food", "water"},
			"general_notes": fmt.Sprintf("Met near the library, %d. Offered water and a blanket.", i),
			"location_note": "5th St bridge", "police_incident_ref": "", "services_offered": []string{"food"},
		}
	}

	// Ids as the reference client makes them (UUIDv7, time-ordered) and as
	// a client that ignores PROTOCOL.md's advice does (random UUIDv4): the
	// second writes a random page of each id index per mutation.
	for _, ids := range []struct {
		name string
		make func() string
	}{{"", newUUID}, {"-random-ids", newRandomUUID}} {
		b.Run("push/1000-per-batch"+ids.name, func(b *testing.B) {
			tab := newDevice(b, w.env, w.worker)
			batches := make([][]byte, b.N)
			for i := range batches {
				muts := make([]protocol.Mutation, 1000)
				for j := range muts {
					muts[j] = create(b, "encounters", ids.make(), encounter(j))
					muts[j].MutationID = ids.make()
				}
				batches[i], _ = json.Marshal(protocol.PushRequest{Mutations: muts})
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				status, _, out := tab.raw(b, http.MethodPost, protocol.PathPush, batches[i], nil)
				if status != http.StatusOK {
					b.Fatalf("push: %d %.200s", status, out)
				}
			}
			b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "mutations/s")
		})
	}

	// Many tablets pushing small batches at once, as at the start of a
	// shift, and a few pushing full batches, as after a long offline shift:
	// their pushes share transactions (group commit) and one tablet's
	// decoding runs beside another's writes. Reports the hub's mutations/s
	// and the slowest tablet's wait (p99 of pushes).
	for _, shape := range []struct{ devices, per int }{{50, 20}, {4, 1000}} {
		devices, per := shape.devices, shape.per
		b.Run(fmt.Sprintf("push/%d-devices-%d-each", devices, per), func(b *testing.B) {
			tabs := make([]*device, devices)
			for i := range tabs {
				tabs[i] = newDevice(b, w.env, w.worker)
			}
			bodies := make([][][]byte, b.N)
			for i := range bodies {
				bodies[i] = make([][]byte, devices)
				for d := range bodies[i] {
					muts := make([]protocol.Mutation, per)
					for j := range muts {
						muts[j] = create(b, "encounters", newUUID(), encounter(j))
					}
					bodies[i][d], _ = json.Marshal(protocol.PushRequest{Mutations: muts})
				}
			}
			var waits []time.Duration
			var mu sync.Mutex
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				for d, tab := range tabs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						began := time.Now()
						status, _, out := tab.raw(b, http.MethodPost, protocol.PathPush, bodies[i][d], nil)
						if status != http.StatusOK {
							b.Errorf("push: %d %.200s", status, out)
						}
						mu.Lock()
						waits = append(waits, time.Since(began))
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*devices*per)/time.Since(start).Seconds(), "mutations/s")
			sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
			b.ReportMetric(float64(waits[len(waits)*99/100].Milliseconds()), "p99-ms")
		})
	}

	for _, size := range []int{50, 1000} {
		b.Run(fmt.Sprintf("baseline/api-batch-%d", size), func(b *testing.B) {
			token := w.env.Token(b, w.worker)
			bodies := make([][]byte, b.N)
			for i := range bodies {
				reqs := make([]map[string]any, size)
				for j := range reqs {
					reqs[j] = map[string]any{"method": "POST", "url": "/api/collections/encounters/records", "body": encounter(j)}
				}
				bodies[i], _ = json.Marshal(map[string]any{"requests": reqs})
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				res := w.env.Do(b, http.MethodPost, "/api/batch", token, bodies[i])
				if res.Status != http.StatusOK {
					b.Fatalf("batch: %d %.300s", res.Status, res.Body)
				}
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "records/s")
		})
	}

	// Seed up to 100,000 North encounters for the read paths.
	const total = 100_000
	seed(b, w, total, encounter)

	for _, enc := range []string{"gzip", "identity"} {
		b.Run("pull/first-sync-100k-"+enc, func(b *testing.B) { benchFirstSync(b, w, total, enc) })
	}

	b.Run("baseline/list-api-100k", func(b *testing.B) {
		benchListAPI(b, w.env, "encounters", w.env.Token(b, w.officer), total)
	})

	b.Run("pull/empty-incremental", func(b *testing.B) {
		d := newDevice(b, w.env, w.officer)
		d.sync(b)
		body, _ := json.Marshal(protocol.PullRequest{Cursor: d.cursor})
		client := &http.Client{}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest(http.MethodPost, w.env.URL+protocol.PathPull, strings.NewReader(string(body)))
			req.Header.Set("Authorization", d.token)
			req.Header.Set(protocol.HeaderProtocol, "1")
			req.Header.Set(protocol.HeaderSchema, strconv.Itoa(protocol.SchemaCurrent))
			req.Header.Set(protocol.HeaderDevice, d.id)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b.Fatalf("pull: %d", res.StatusCode)
			}
		}
	})
}

// seed fills the encounters table to total rows with one SQL transaction
// (through the feed triggers, as any write).
func seed(b *testing.B, w *world, total int, encounter func(int) map[string]any) {
	b.Helper()
	var have int
	_ = w.env.App.DB().NewQuery("SELECT COUNT(*) FROM encounters").Row(&have)
	tx, err := w.env.App.NonconcurrentDB().(*dbx.DB).Begin()
	if err != nil {
		b.Fatal(err)
	}
	q := tx.NewQuery(`INSERT INTO encounters (id, team, occurred_at, encounter_type, disposition, living_situation, needs, general_notes, location_note, services_offered, created, updated)
		VALUES ({:id}, {:team}, {:at}, 'outreach', 'no_action', '116', '["food","water"]', {:notes}, '5th St bridge', '["food"]', {:at}, {:at})`).Prepare()
	for i := have; i < total; i++ {
		if _, err := q.Bind(dbx.Params{"id": newUUID(), "team": w.north.Id, "at": "2026-11-20 21:00:00.000Z",
			"notes": fmt.Sprintf("Met near the library, %d. Offered water and a blanket.", i)}).Execute(); err != nil {
			b.Fatal(err)
		}
	}
	q.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// benchListAPI pages every record of collection through the records list
// API in its best form (keyset on id, no total count), as a client
// syncing through the stock API would, and reports records/s.
func benchListAPI(b *testing.B, env *testenv.Env, collection, token string, total int) {
	start := time.Now()
	for i := 0; i < b.N; i++ {
		last, n := "", 0
		for {
			q := "/api/collections/" + collection + "/records?perPage=1000&skipTotal=1&sort=id"
			if last != "" {
				q += "&filter=" + urlQuery("id>'"+last+"'")
			}
			res := env.Do(b, http.MethodGet, q, token, nil)
			var page struct {
				Items []struct{ ID string } `json:"items"`
			}
			if res.Status != http.StatusOK {
				b.Fatalf("list: %d %.200s", res.Status, res.Body)
			}
			res.JSON(b, &page)
			if len(page.Items) == 0 {
				break
			}
			n += len(page.Items)
			last = page.Items[len(page.Items)-1].ID
		}
		if n < total {
			b.Fatalf("list API paged %d records, want %d", n, total)
		}
	}
	b.ReportMetric(float64(b.N*total)/time.Since(start).Seconds(), "records/s")
}

func urlQuery(s string) string {
	r := strings.NewReplacer("'", "%27", ">", "%3E", " ", "%20")
	return r.Replace(s)
}

// benchFirstSync pulls everything a new North device may hold, page by
// page, as fast as the server sends it.
func benchFirstSync(b *testing.B, w *world, total int, encoding string) {
	// The client decodes each page as it streams in, as a well-built
	// device does: decoding overlaps the server's encoding of the rest.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	start := time.Now()
	for i := 0; i < b.N; i++ {
		d := newDevice(b, w.env, w.officer)
		n := 0
		for {
			body, _ := json.Marshal(protocol.PullRequest{Cursor: d.cursor, Limit: protocol.MaxPullLimit, MaxBytes: protocol.MaxPullMaxBytes})
			req, _ := http.NewRequest(http.MethodPost, w.env.URL+protocol.PathPull, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", d.token)
			req.Header.Set("Accept-Encoding", encoding)
			req.Header.Set(protocol.HeaderProtocol, strconv.Itoa(d.protocol))
			req.Header.Set(protocol.HeaderSchema, strconv.Itoa(d.schema))
			req.Header.Set(protocol.HeaderDevice, d.id)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				b.Fatalf("pull: %d", res.StatusCode)
			}
			var r io.Reader = res.Body
			if res.Header.Get("Content-Encoding") == "gzip" {
				if r, err = gzip.NewReader(res.Body); err != nil {
					b.Fatal(err)
				}
			}
			page, err := decodePageStreaming(r, func(c protocol.Change) {
				if c.Collection == "encounters" {
					n++
				}
			})
			res.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			d.cursor = page.Cursor
			if !page.HasMore {
				break
			}
		}
		if n < total {
			b.Fatalf("first sync received %d encounters, want %d", n, total)
		}
	}
	b.ReportMetric(float64(b.N*total)/time.Since(start).Seconds(), "records/s")
}

// decodePageStreaming decodes a pull answer change by change as it
// arrives, handing each change to fn; the returned page has no Changes.
func decodePageStreaming(r io.Reader, fn func(protocol.Change)) (protocol.PullResponse, error) {
	var page protocol.PullResponse
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // {
		return page, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return page, err
		}
		switch tok {
		case "changes":
			if _, err := dec.Token(); err != nil { // [
				return page, err
			}
			for dec.More() {
				var c protocol.Change
				if err := dec.Decode(&c); err != nil {
					return page, err
				}
				fn(c)
			}
			if _, err := dec.Token(); err != nil { // ]
				return page, err
			}
		case "cursor":
			err = dec.Decode(&page.Cursor)
		case "has_more":
			err = dec.Decode(&page.HasMore)
		case "status":
			err = dec.Decode(&page.Status)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return page, err
		}
	}
	return page, nil
}
