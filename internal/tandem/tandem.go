// Package tandem wires Tandem's hooks, routes and scheduled jobs onto a
// PocketBase app. main.go and the test helpers both call Register, so tests
// exercise exactly what production runs.
package tandem

import (
	"github.com/pocketbase/pocketbase/core"

	// Registers the collection migrations with PocketBase.
	_ "github.com/tandem-outreach/tandem/pb_migrations"
	"github.com/tandem-outreach/tandem/pb_hooks"
)

// Register binds every Tandem hook, route and job to app. Call it once,
// before the app starts serving.
func Register(app core.App) error {
	return pb_hooks.Register(app)
}
