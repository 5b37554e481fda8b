// Command tandem is the sync hub for neighbourhood outreach teams: PocketBase
// extended with Tandem's collections, sync engine, bed board and privacy rules.
//
// main only composes; everything it registers lives in its own package.
package main

import (
	"log"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/osutils"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/demo"
	"github.com/tandem-outreach/tandem/internal/retention"
	"github.com/tandem-outreach/tandem/internal/tandem"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
)

func main() {
	db := tandem.Config("")
	app := pocketbase.NewWithConfig(pocketbase.Config{
		DefaultDev:       osutils.IsProbablyGoRun(),
		DataMaxOpenConns: db.DataMaxOpenConns,
		DataMaxIdleConns: db.DataMaxIdleConns,
	})

	// Migrations are Go code compiled in; never generate them from the
	// dashboard, so a running hub cannot drift from the repository.
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{Automigrate: false})

	if err := tandem.Register(app); err != nil {
		log.Fatal(err)
	}

	// Privacy officer commands: `audit verify`, `retention [--dry-run]`.
	app.RootCmd.AddCommand(audit.NewCommand(app))
	app.RootCmd.AddCommand(retention.NewCommand(app, privacy.TouchRecords))

	// `demo`: load a fictional programme and print its logins.
	app.RootCmd.AddCommand(demo.Command(app))

	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}
