package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// FIELD-SCENARIO 17: the server process is killed (SIGKILL) during a large
// push and restarted. The push is either wholly applied or not at all, and
// the device's retry of the same batch lands everything exactly once.
//
// This drives the real binary (go build of the module root) on loopback.
func TestScenario17KilledMidPush(t *testing.T) {
	dir := t.TempDir()
	bin := testenv.Binary(t)
	data := filepath.Join(dir, "pb_data")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--dir", data, "--dev=false")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("migrate", "up")
	run("superuser", "upsert", "admin@example.org", "correct horse battery")

	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	start := func() *exec.Cmd { return testenv.StartProcess(t, bin, data, addr) }
	t0 := time.Now()
	srv := start()
	t.Logf("server up in %v", time.Since(t0))

	call := func(method, path, token string, body any, hdr map[string]string) (int, []byte) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return res.StatusCode, buf.Bytes()
	}
	token := func(coll, email string) string {
		status, body := call(http.MethodPost, "/api/collections/"+coll+"/auth-with-password", "", map[string]string{"identity": email, "password": "correct horse battery"}, nil)
		var out struct{ Token string }
		if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("login %s: %d %s", email, status, body)
		}
		return out.Token
	}
	su := token("_superusers", "admin@example.org")
	mk := func(coll string, fields map[string]any) string {
		status, body := call(http.MethodPost, "/api/collections/"+coll+"/records", su, fields, nil)
		var out struct{ ID string }
		if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("create %s: %d %s", coll, status, body)
		}
		return out.ID
	}
	org := mk("organizations", map[string]any{"name": "City Outreach", "kind": "outreach"})
	team := mk("teams", map[string]any{"name": "North", "active": true})
	mk("users", map[string]any{"email": "ana@example.org", "password": "correct horse battery", "passwordConfirm": "correct horse battery",
		"role": "outreach_worker", "organization": org, "teams": []string{team}, "verified": true})
	user := token("users", "ana@example.org")

	const n = 1000
	var muts []protocol.Mutation
	for i := 0; i < n; i++ {
		muts = append(muts, create(t, "encounters", newUUID(), map[string]any{
			"team": team, "occurred_at": "2026-11-20 21:00:00Z", "encounter_type": "outreach",
			"general_notes": strings.Repeat(fmt.Sprintf("note %d ", i), 200)}))
	}
	hdr := map[string]string{protocol.HeaderProtocol: "1", protocol.HeaderSchema: "2", protocol.HeaderDevice: newUUID()}
	countEncounters := func() int {
		status, body := call(http.MethodGet, "/api/collections/encounters/records?perPage=1&skipTotal=0", su, nil, nil)
		var out struct{ TotalItems int }
		if status != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("count: %d %s", status, body)
		}
		return out.TotalItems
	}

	// Push in the background; kill the server while it works.
	done := make(chan int, 1)
	go func() {
		status, _ := call(http.MethodPost, protocol.PathPush, user, protocol.PushRequest{Mutations: muts}, hdr)
		done <- status
	}()
	time.Sleep(300 * time.Millisecond)
	if err := srv.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	status := <-done

	start()
	got := countEncounters()
	if got != 0 && got != n {
		t.Fatalf("after a kill mid-push the server holds %d of %d encounters: half-applied", got, n)
	}
	t.Logf("push answered %d before the kill; %d of %d encounters survived", status, got, n)

	// The device retries the same batch: everything lands exactly once.
	began := time.Now()
	status, body := call(http.MethodPost, protocol.PathPush, user, protocol.PushRequest{Mutations: muts}, hdr)
	var res protocol.PushResponse
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Results) != n {
		t.Fatalf("retry: %d %.300s", status, body)
	}
	for _, r := range res.Results {
		mustStatus(t, r, protocol.ResultApplied)
	}
	t.Logf("retry of %d mutations answered in %v", n, time.Since(began))
	if got := countEncounters(); got != n {
		t.Fatalf("after the retry: %d encounters, want %d", got, n)
	}
}
