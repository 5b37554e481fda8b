package audit

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// Report verifies the chain and writes a one-line verdict for the privacy
// officer to w. It returns the *BrokenLink (or read error) when the chain
// does not verify.
func Report(app core.App, w io.Writer) error {
	n, err := Verify(app)
	var broken *BrokenLink
	switch {
	case errors.As(err, &broken):
		fmt.Fprintf(w, "FAIL: %d events verified, then the chain breaks.\n", n)
		fmt.Fprintf(w, "first broken link: seq %d (event %s): %s\n", broken.Seq, broken.ID, broken.Reason)
		fmt.Fprintln(w, "Events from this one on cannot be trusted; restore audit_events from a backup and investigate who had write access to the database file.")
		return err
	case err != nil:
		fmt.Fprintf(w, "ERROR: could not read the audit chain: %v\n", err)
		fmt.Fprintln(w, "Check --dir points at the hub's pb_data folder and that its migrations ran (`tandem migrate up` or start `serve` once).")
		return err
	}
	fmt.Fprintf(w, "OK: %d audit events verified; the chain is intact.\n", n)
	return nil
}

// NewCommand returns the `audit` command group with its `verify`
// subcommand. `tandem audit verify` exits with status 1 when the chain is
// broken, so monitoring and cron can alert on it.
func NewCommand(app core.App) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Inspect the hash-chained audit trail"}
	cmd.AddCommand(&cobra.Command{
		Use:          "verify",
		Short:        "Walk the audit chain and name the first broken link (exit status 1 if broken)",
		SilenceUsage: true,
		Run: func(c *cobra.Command, _ []string) {
			if err := Report(app, c.OutOrStdout()); err != nil {
				// PocketBase ignores the root command's error, so the exit
				// status is set here.
				os.Exit(1)
			}
		},
	})
	return cmd
}
