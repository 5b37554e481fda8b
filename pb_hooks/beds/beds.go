// Package beds keeps shelter bed availability true (DESIGN.md §5).
//
// Counts come from agencies, holds come from workers, and availability is
// derived, never typed:
//
//	available = total_beds − occupied − out_of_service − active_holds
//
// The rules live in PocketBase record hooks on bed_programs and bed_holds, so
// they run for every writer alike: the records API, the admin dashboard, the
// sync engine (which saves pushed holds with txApp.Save inside its own
// transaction) and this package's agency endpoints. A hook joins the caller's
// transaction when there is one and opens its own otherwise; SQLite's single
// writer is then the per-programme lock, so reading the counts, deciding a
// hold and writing the new availability happen atomically.
//
// Like the rest of pb_hooks, this is Go compiled into the binary, not
// PocketBase's JavaScript hooks.
package beds

import (
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// DefaultHoldMinutes is how long a granted hold lasts when the programme
// does not say (bed_programs.hold_minutes = 0).
const DefaultHoldMinutes = 90

// Programme statuses.
const (
	ProgramOpen   = "open"
	ProgramClosed = "closed"
)

// Register binds the bed hooks, the agency API, the bed board page and the
// hold-expiry job to app.
func Register(app core.App) error {
	app.OnRecordCreate(domain.BedPrograms).BindFunc(onProgramCreate)
	app.OnRecordUpdate(domain.BedPrograms).BindFunc(onProgramUpdate)
	app.OnRecordCreate(domain.BedHolds).BindFunc(onHoldCreate)
	app.OnRecordUpdate(domain.BedHolds).BindFunc(onHoldUpdate)
	app.OnRecordDelete(domain.BedHolds).BindFunc(onHoldDelete)

	app.OnRecordCreateRequest(domain.BedHolds).BindFunc(onHoldCreateRequest)
	app.OnRecordUpdateRequest(domain.BedHolds).BindFunc(onHoldUpdateRequest)
	app.OnRecordUpdateRequest(domain.BedPrograms).BindFunc(onProgramUpdateRequest)

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		registerRoutes(se)
		return se.Next()
	})

	// Holds lapse on the minute; a hold is never honoured past held_until
	// even between runs, because availability counts only status "held" and
	// the job turns lapsed holds into "expired" within a minute.
	return app.Cron().Add("tandem_beds_expire_holds", "* * * * *", func() {
		if _, err := ExpireHolds(app, timeNow()); err != nil {
			app.Logger().Error("beds: expiring holds failed", "error", err)
		}
	})
}
