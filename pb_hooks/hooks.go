// Package pb_hooks holds Tandem's PocketBase event hooks.
//
// In a stock PocketBase install, pb_hooks/ holds JavaScript files run by the
// embedded JS VM. In Tandem it is a Go package compiled into the binary: the
// rules here (bed invariants, audit, redaction, photo sanitising, scheduled
// jobs) are too important to live outside the type checker and the tests.
package pb_hooks //nolint:revive // the folder name is fixed by the project layout

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/pb_hooks/beds"
	"github.com/tandem-outreach/tandem/pb_hooks/persons"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
)

// Register binds every hook in this package to app.
func Register(app core.App) error {
	if err := beds.Register(app); err != nil {
		return err
	}
	if err := privacy.Register(app); err != nil {
		return err
	}
	if err := persons.Register(app); err != nil {
		return err
	}
	return nil
}
