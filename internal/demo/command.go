package demo

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// Command returns the `demo` CLI command: it applies pending migrations,
// loads the demo into the hub's data folder and prints every login.
func Command(app core.App) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Load a fictional outreach programme (two teams, three shelters, a week of work) and print its logins",
		Long: "Loads demo data into pb_data (or --dir): organisations of every kind, two co-responder teams,\n" +
			"housing agents, a privacy officer, an analyst, three shelters with live bed counts (one a\n" +
			"confidential domestic-violence site) and a week of encounters, referrals and follow-ups.\n" +
			"Everything is invented. Running it again changes nothing.",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// `go run` starts PocketBase in dev mode, which prints every SQL
			// statement; thousands of them would bury the logins.
			quiet(app.ConcurrentDB(), app.NonconcurrentDB())
			if err := app.RunAllMigrations(); err != nil {
				return fmt.Errorf("apply migrations: %w", err)
			}
			logins, err := Seed(app)
			out := cmd.OutOrStdout()
			switch {
			case errors.Is(err, ErrAlreadyLoaded):
				fmt.Fprintln(out, "The demo data is already loaded in "+app.DataDir()+"; nothing was changed.")
			case err != nil:
				return err
			default:
				fmt.Fprintln(out, "Demo data loaded into "+app.DataDir()+".")
			}
			fmt.Fprintln(out)
			PrintLogins(out, logins)
			fmt.Fprintln(out)
			fmt.Fprintln(out, "Start the hub with `go run . serve` and sign in to the admin dashboard at http://127.0.0.1:8090/_/ as the superuser.")
			return nil
		},
	}
}

// quiet stops SQL statement logging. It runs before anything else uses the
// databases, and writes only when logging is on (dev mode), so an app that is
// already serving without logging is never touched.
func quiet(dbs ...dbx.Builder) {
	for _, b := range dbs {
		if db, ok := b.(*dbx.DB); ok && (db.QueryLogFunc != nil || db.ExecLogFunc != nil) {
			db.QueryLogFunc, db.ExecLogFunc = nil, nil
		}
	}
}

// PrintLogins writes logins as an aligned table.
func PrintLogins(w io.Writer, logins Logins) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tPASSWORD\tROLE\tTEAM\tORGANISATION")
	for _, l := range logins {
		team := l.Team
		if team == "" {
			team = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.Email, l.Password, l.Role, team, l.Organization)
	}
	tw.Flush()
}
