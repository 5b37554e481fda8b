package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

func TestCheckLocal(t *testing.T) {
	cases := map[string]bool{
		"http://127.0.0.1:8090":       true,
		"http://localhost:8090":       true,
		"http://[::1]:8090":           true,
		"http://127.0.0.2:8090":       true, // all of 127/8 is this machine
		"http://10.0.0.5:8090":        false,
		"https://tandem.example.org":  false,
		"http://localhost.evil.com":   false,
		"ftp://127.0.0.1":             false,
		"127.0.0.1:8090":              false,
		"http://0.0.0.0:8090":         false,
		"http://192.168.1.20:8090/x/": false,
	}
	for url, ok := range cases {
		if err := checkLocal(url); (err == nil) != ok {
			t.Errorf("checkLocal(%q) = %v, want allowed=%v", url, err, ok)
		}
	}
}

func TestRefusesRemoteServerBeforeAnyRequest(t *testing.T) {
	_, err := run(context.Background(), options{URL: "http://203.0.113.7:8090", Devices: 1, Rounds: 1, Batch: 1, Accounts: "x"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not on this machine") {
		t.Fatalf("remote URL: %v", err)
	}
}

// A small load run against a real server: setup through the API, lost
// answers, and every recorded encounter lands exactly once.
func TestLoadRunAgainstRealServer(t *testing.T) {
	env := testenv.New(t)
	env.Create(t, core.CollectionNameSuperusers, map[string]any{"email": "root@example.org", "password": "load test password"})
	opt := options{
		URL: env.URL, Devices: 12, Rounds: 3, Batch: 5, Lose: 0.2, PID: os.Getpid(),
		Accounts: filepath.Join(t.TempDir(), "accounts.json"),
		Setup:    true, AdminEmail: "root@example.org", AdminPassword: "load test password",
	}
	rep, err := run(context.Background(), opt, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 {
		t.Fatalf("errors %v (last %s)", rep.ErrorKinds, rep.LastError)
	}
	want := 12 * 3 * 5
	if rep.Mutations != want || rep.Applied != want {
		t.Fatalf("answered %d, applied %d, want %d", rep.Mutations, rep.Applied, want)
	}
	if rep.Pushes < 12*3 || rep.PushP50 <= 0 || rep.PushP99 < rep.PushP50 || rep.PushMax < rep.PushP99 {
		t.Fatalf("push timings %d %v %v %v", rep.Pushes, rep.PushP50, rep.PushP99, rep.PushMax)
	}
	// Each of the 12 devices pushed once in its first round, and every
	// push is counted in exactly one of the two rounds' figures.
	if rep.OpeningPushes != 12 || rep.OpeningPushes+rep.LaterPushes != rep.Pushes || rep.LaterP99 <= 0 {
		t.Fatalf("round split: %d first-round and %d later pushes of %d (later p99 %v)", rep.OpeningPushes, rep.LaterPushes, rep.Pushes, rep.LaterP99)
	}
	if rep.MemHWMKB <= 0 {
		t.Fatal("memory of --pid not read")
	}
	var n int
	if err := env.App.DB().NewQuery("SELECT COUNT(*) FROM encounters").Row(&n); err != nil || n != want {
		t.Fatalf("server holds %d encounters (%v), want %d: lost or duplicated", n, err, want)
	}
	var b strings.Builder
	rep.print(&b)
	for _, s := range []string{"p99", "first round      12 ", "later rounds", "mutations answered 180", "errors             0"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q:\n%s", s, b.String())
		}
	}

	// A second run reuses the saved accounts without the superuser.
	opt.Setup, opt.AdminEmail, opt.AdminPassword, opt.Lose = false, "", "", 0
	rep, err = run(context.Background(), opt, io.Discard)
	if err != nil || rep.Errors != 0 || rep.Applied != want {
		t.Fatalf("second run: %+v %v", rep, err)
	}
}
