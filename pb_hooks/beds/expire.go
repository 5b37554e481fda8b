package beds

import (
	"context"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// ExpireHolds turns every granted hold whose held_until is at or before now
// into "expired", releasing its bed, in one transaction. The cron job calls
// it every minute; it returns how many holds lapsed.
func ExpireHolds(app core.App, now time.Time) (int, error) {
	cutoff, err := types.ParseDateTime(now.UTC())
	if err != nil {
		return 0, err
	}
	n := 0
	err = app.RunInTransaction(func(tx core.App) error {
		var holds []*core.Record
		err := tx.RecordQuery(domain.BedHolds).
			AndWhere(dbx.HashExp{"status": domain.HoldHeld}).
			AndWhere(dbx.NewExp("held_until != '' AND held_until <= {:cutoff}", dbx.Params{"cutoff": cutoff.String()})).
			OrderBy("held_until").
			All(&holds)
		if err != nil {
			return err
		}
		events := make([]audit.Event, 0, len(holds))
		for _, h := range holds {
			until := h.GetDateTime("held_until").Time()
			h.Set("status", domain.HoldExpired)
			h.Set("reason", fmt.Sprintf("Nobody arrived by %s, when the hold ran out, so the bed was released.", clock(until)))
			if err := tx.SaveWithContext(context.Background(), h); err != nil {
				return fmt.Errorf("expire hold %s: %w", h.Id, err)
			}
			events = append(events, audit.Event{
				ActorKind: "system", Actor: "beds_expiry", Action: "hold_expire",
				Collection: domain.BedHolds, RecordID: h.Id, Fields: []string{"status", "reason"},
				Details: map[string]any{"program": h.GetString("program"), "held_until": h.GetDateTime("held_until").String()},
			})
		}
		n = len(holds)
		return audit.Append(tx, events...)
	})
	return n, err
}
