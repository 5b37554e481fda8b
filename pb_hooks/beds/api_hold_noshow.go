package beds

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// holdNoShow answers POST /api/beds/v1/programs/{id}/holds/{hold}/no-show:
// the guest did not come. The hold becomes "expired" (not "cancelled":
// nobody called it off, it ran out early) and the bed is free again.
func holdNoShow(e *core.RequestEvent) error {
	return holdOutcome(e, domain.HoldExpired, "hold_no_show",
		fmt.Sprintf("The shelter marked this hold as a no-show at %s; the bed was released.", clock(timeNow())))
}
