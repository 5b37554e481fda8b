package privacy

import (
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// When a consent is given, changed, revoked, expires or is deleted, what
// devices may hold about that person changes. The person and every record
// about them are re-emitted through the change feed in the same
// transaction, so at their next pull devices receive them again through the
// new decision: fields that are no longer allowed are gone, and records
// that are no longer visible arrive as evictions (FIELD-SCENARIO 11).

// personRecords lists the collections whose records are about a person.
var personRecords = []string{domain.Encounters, domain.Referrals, domain.Followups, domain.BedHolds}

func registerConsents(app core.App) {
	after := func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		person := e.Record.GetString("person")
		if e.Record.Original() != nil {
			if old := e.Record.Original().GetString("person"); old != "" && old != person {
				if err := TouchPerson(e.App, old); err != nil {
					return err
				}
			}
		}
		return TouchPerson(e.App, person)
	}
	app.OnRecordCreateExecute(domain.Consents).BindFunc(after)
	app.OnRecordUpdateExecute(domain.Consents).BindFunc(after)
	app.OnRecordDeleteExecute(domain.Consents).BindFunc(after)

	// Consents with an end date lapse on their own; mark them expired so the
	// change reaches devices (and the decider caches) like a revocation.
	app.Cron().MustAdd("tandem_consent_expiry", "*/5 * * * *", func() {
		if n, err := ExpireConsents(app, time.Now()); err != nil {
			app.Logger().Error("consent expiry failed", "error", err)
		} else if n > 0 {
			app.Logger().Info("consents expired", "count", n)
		}
	})
}

// TouchPerson re-emits a person and every record about them.
func TouchPerson(app core.App, person string) error {
	if person == "" {
		return nil
	}
	if err := touch(app, domain.Persons, person); err != nil {
		return err
	}
	for _, coll := range personRecords {
		var ids []string
		err := app.DB().Select("id").From(coll).Where(dbx.HashExp{"person": person}).Column(&ids)
		if err != nil {
			return err
		}
		if err := touch(app, coll, ids...); err != nil {
			return err
		}
	}
	return nil
}

// ExpireConsents marks every active consent whose valid_until has passed as
// expired, one transaction per consent, and returns how many it changed.
func ExpireConsents(app core.App, now time.Time) (int, error) {
	records, err := app.FindRecordsByFilter(domain.Consents,
		"status = 'active' && valid_until != '' && valid_until <= {:now}", "", 0, 0,
		dbx.Params{"now": now.UTC().Format("2006-01-02 15:04:05.000Z")})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range records {
		r.Set("status", "expired")
		err := app.RunInTransaction(func(tx core.App) error { return tx.Save(r) })
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
