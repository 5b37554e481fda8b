package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// BenchmarkConcurrentDevices runs the load tool in-process against a real
// server on loopback: 100 devices (ten per team) each push 20 encounters
// and pull, all at once. Devices keep their stores between iterations, so
// after the warm-up every pull is incremental. Run it with -cpuprofile to
// see where the server spends its time under concurrent devices.
func BenchmarkConcurrentDevices(b *testing.B) {
	env := testenv.New(b)
	org := env.Org(b, "Load Outreach", "outreach")
	acc := &accounts{URL: env.URL, Org: org.Id}
	for t := 0; t < 10; t++ {
		team := env.Team(b, fmt.Sprintf("Load team %d", t))
		u := env.User(b, fmt.Sprintf("Load Worker %d", t), "outreach_worker", org, team)
		tok := env.Token(b, u)
		acc.Teams = append(acc.Teams, team.Id)
		for d := 0; d < 10; d++ {
			acc.Users = append(acc.Users, account{Email: u.GetString("email"), Team: team.Id, ID: u.Id, Token: tok})
		}
	}
	dir := b.TempDir()
	opt := options{URL: env.URL, Devices: 100, Rounds: 1, Batch: 20, Accounts: filepath.Join(dir, "accounts.json"), StoreDir: filepath.Join(dir, "stores")}
	if err := acc.save(opt.Accounts); err != nil {
		b.Fatal(err)
	}
	if _, err := run(context.Background(), opt, io.Discard); err != nil { // warm-up: first syncs
		b.Fatal(err)
	}
	b.ResetTimer()
	var last *report
	for i := 0; i < b.N; i++ {
		rep, err := run(context.Background(), opt, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Errors > 0 {
			b.Fatalf("errors %v: %s", rep.ErrorKinds, rep.LastError)
		}
		last = rep
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*100*20)/b.Elapsed().Seconds(), "mutations/s")
	b.ReportMetric(float64(last.PushP99.Microseconds())/1000, "push-p99-ms")
	b.ReportMetric(float64(last.PullP99.Microseconds())/1000, "pull-p99-ms")
}
