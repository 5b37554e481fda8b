// Package tandem wires Tandem's hooks, routes and scheduled jobs onto a
// PocketBase app. main.go and the test helpers both call Register, so tests
// exercise exactly what production runs.
package tandem

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/photos"
	"github.com/tandem-outreach/tandem/pb_hooks"
	syncserver "github.com/tandem-outreach/tandem/sync/server"

	// Registers the collection migrations with PocketBase.
	_ "github.com/tandem-outreach/tandem/pb_migrations"
)

// Register binds every Tandem hook, route and job to app. Call it once,
// before the app starts serving.
func Register(app core.App) error {
	if err := syncserver.Register(app); err != nil {
		return err
	}
	if err := photos.Register(app); err != nil {
		return err
	}
	return pb_hooks.Register(app)
}
