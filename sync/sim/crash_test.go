package sim

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/testenv"
	"github.com/tandem-outreach/tandem/sync/client"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// TestScenario17KilledMidPush is scenario 17 with a real crash: the
// tandem binary is killed with SIGKILL while it applies a push of 1,000
// mutations, then started again on the same data folder. Each batch is
// wholly applied or not at all; the device's retry lands the rest, once.
func TestScenario17KilledMidPush(t *testing.T) {
	dir := t.TempDir()
	bin := testenv.Binary(t)
	data := filepath.Join(dir, "pb_data")
	if out, err := exec.Command(bin, "superuser", "upsert", "root@example.org", "crash test password", "--dir", data).CombinedOutput(); err != nil {
		t.Fatalf("superuser: %v\n%s", err, out)
	}
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	srv := testenv.StartProcess(t, bin, data, addr)

	// An organisation, a team and a worker, through the API.
	hc := &http.Client{Timeout: 30 * time.Second}
	su := signIn(t, hc, base, "_superusers", "root@example.org", "crash test password")
	var org, team struct{ ID string }
	mustAPI(t, hc, "POST", base+"/api/collections/organizations/records", su, map[string]any{"name": "Outreach", "kind": "outreach"}, &org)
	mustAPI(t, hc, "POST", base+"/api/collections/teams/records", su, map[string]any{"name": "Team A", "active": true}, &team)
	mustAPI(t, hc, "POST", base+"/api/collections/users/records", su, map[string]any{"email": "w@example.org", "password": "worker password 1",
		"passwordConfirm": "worker password 1", "verified": true, "name": "W", "role": "outreach_worker", "organization": org.ID, "teams": []string{team.ID}}, nil)
	token := signIn(t, hc, base, "users", "w@example.org", "worker password 1")

	var pushes atomic.Int32
	second := make(chan struct{})
	c, err := client.New(client.Config{
		BaseURL: base, Token: token, StorePath: filepath.Join(dir, "device.db"), BatchSize: 1000,
		HTTPClient: &http.Client{Timeout: time.Minute, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if strings.HasSuffix(r.URL.Path, protocol.PathPush) && pushes.Add(1) == 2 {
				close(second)
			}
			return http.DefaultTransport.RoundTrip(r)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3000; i++ {
		if _, err := c.Create(ctx, "encounters", map[string]any{"team": team.ID, "occurred_at": "2026-11-21 22:00:00.000Z",
			"encounter_type": "outreach", "general_notes": fmt.Sprintf("encounter %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { _, err := c.Push(ctx); done <- err }()
	<-second
	time.Sleep(40 * time.Millisecond) // into the second batch's transaction
	srv.Process.Signal(syscall.SIGKILL)
	srv.Wait()
	pushErr := <-done
	t.Logf("push when the server was killed: %v", pushErr)

	srv = testenv.StartProcess(t, bin, data, addr)
	var count struct {
		TotalItems int `json:"totalItems"`
	}
	mustAPI(t, hc, "GET", base+"/api/collections/encounters/records?perPage=1", su, nil, &count)
	t.Logf("%d of 3000 landed before the kill", count.TotalItems)
	if count.TotalItems%1000 != 0 || count.TotalItems < 1000 {
		t.Fatalf("after the kill %d encounters: a batch was half applied (or the answered first one lost)", count.TotalItems)
	}
	rep, err := c.Push(ctx)
	if err != nil || rep.Rejected != 0 || rep.Conflict != 0 {
		t.Fatalf("retry after the restart: %+v %v", rep, err)
	}
	mustAPI(t, hc, "GET", base+"/api/collections/encounters/records?perPage=1", su, nil, &count)
	if count.TotalItems != 3000 {
		t.Fatalf("%d encounters after the retry, want 3000 exactly", count.TotalItems)
	}
	if all, _ := c.Results(ctx, protocol.ResultApplied); len(all) != 3000 {
		t.Fatalf("device kept %d applied answers, want 3000", len(all))
	}
	srv.Process.Signal(syscall.SIGTERM)
	srv.Wait()
}

func signIn(t *testing.T, hc *http.Client, base, collection, email, password string) string {
	t.Helper()
	var res struct {
		Token string `json:"token"`
	}
	mustAPI(t, hc, "POST", base+"/api/collections/"+collection+"/auth-with-password", "", map[string]string{"identity": email, "password": password}, &res)
	return res.Token
}

func mustAPI(t *testing.T, hc *http.Client, method, url, token string, body, out any) {
	t.Helper()
	if err := apiCall(context.Background(), hc, method, url, token, body, out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}
