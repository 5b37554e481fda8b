package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// This migration makes the admin dashboard show people by name where a record
// points at them: an encounter, referral, follow-up, consent or bed hold then
// lists "Smokey" in its person column instead of a UUID, which is what a team
// lead reviewing duplicates and conflicts needs to read. Presentable only
// changes how the dashboard (superusers) draws relations; the records API and
// sync are unaffected.

func init() {
	m.Register(func(app core.App) error {
		return setPresentable(app, true)
	}, func(app core.App) error {
		return setPresentable(app, false)
	})
}

func setPresentable(app core.App, on bool) error {
	persons, err := app.FindCollectionByNameOrId("persons")
	if err != nil {
		return err
	}
	f, ok := persons.Fields.GetByName("display_name").(*core.TextField)
	if !ok {
		return nil
	}
	f.Presentable = on
	return app.Save(persons)
}
