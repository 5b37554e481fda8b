package migrations_test

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

// appMigration returns the registered migration defined in file, so a test
// can run it again on a hub with data.
func appMigration(t *testing.T, file string) *core.Migration {
	t.Helper()
	for _, m := range core.AppMigrations.Items() {
		if m.File == file {
			return m
		}
	}
	t.Fatalf("migration %s is not registered", file)
	return nil
}
