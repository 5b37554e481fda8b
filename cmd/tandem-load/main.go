// Command tandem-load puts a running Tandem server under the load of many
// simulated tablets and reports what it measured: errors by kind, push and
// pull latency (p50, p99, max; pushes also split into the first round and
// the rounds after it), mutations per second and, with --pid, the
// server's memory.
//
// Each simulated device is a real reference client (sync/client) with its
// own SQLite store, signed in as its own outreach worker. Every round it
// records a few encounters offline, pushes them and pulls.
//
// It only targets a server on this machine (127.0.0.1, ::1 or localhost):
// it is a measuring tool, not a way to load someone else's server.
//
// First run (creates an organisation, a team per 10 devices and one user
// per device through the API, with a superuser account, and saves their
// logins in --accounts):
//
//	tandem-load --url http://127.0.0.1:8090 --setup --admin-email admin@example.org --admin-password '…' --devices 500
//
// Later runs reuse the accounts file:
//
//	tandem-load --url http://127.0.0.1:8090 --devices 500 --duration 60s --pid $(pgrep -n tandem)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	var opt options
	flag.StringVar(&opt.URL, "url", "http://127.0.0.1:8090", "Tandem server on this machine")
	flag.IntVar(&opt.Devices, "devices", 500, "simulated devices syncing at once")
	flag.DurationVar(&opt.Duration, "duration", 30*time.Second, "how long each device keeps syncing")
	flag.IntVar(&opt.Rounds, "rounds", 0, "stop each device after this many push+pull rounds (0: only --duration)")
	flag.IntVar(&opt.Batch, "batch", 20, "encounters recorded offline per round (one push)")
	flag.DurationVar(&opt.Think, "think", 0, "pause between a device's rounds")
	flag.Float64Var(&opt.Lose, "lose", 0, "fraction of answers to lose on the way back (0–1), to exercise replays")
	flag.IntVar(&opt.PID, "pid", 0, "server process id: report its memory from /proc/<pid>/status")
	flag.StringVar(&opt.StoreDir, "store-dir", "", "where the devices' SQLite files go (default: a temporary directory, removed afterwards)")
	flag.StringVar(&opt.Accounts, "accounts", "tandem-load-accounts.json", "file of the load users' logins")
	flag.BoolVar(&opt.Setup, "setup", false, "create missing load users through the API (needs --admin-email and --admin-password)")
	flag.BoolVar(&opt.SetupOnly, "setup-only", false, "with --setup: create the users and stop")
	flag.StringVar(&opt.AdminEmail, "admin-email", "", "superuser email for --setup")
	flag.StringVar(&opt.AdminPassword, "admin-password", os.Getenv("TANDEM_ADMIN_PASSWORD"), "superuser password for --setup (or TANDEM_ADMIN_PASSWORD)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := run(ctx, opt, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tandem-load:", err)
		os.Exit(1)
	}
	if rep != nil {
		rep.print(os.Stdout)
		if rep.Errors > 0 {
			os.Exit(2)
		}
	}
}
