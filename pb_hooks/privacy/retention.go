package privacy

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/retention"
)

// RetentionSchedule is when the daily retention purge runs (server time).
const RetentionSchedule = "30 3 * * *"

// TouchRecords re-emits records through the sync change feed (changefeed.Touch).
func TouchRecords(app core.App, collection string, ids ...string) error {
	return touch(app, collection, ids...)
}

func registerRetention(app core.App) {
	app.Cron().MustAdd("tandem_retention", RetentionSchedule, func() {
		cfg, err := retention.ConfigFromEnv()
		if err != nil {
			app.Logger().Error("retention: bad "+retention.EnvVar, "error", err)
			return
		}
		items, err := retention.Apply(app, cfg, time.Now(), TouchRecords)
		n := 0
		for _, it := range items {
			n += len(it.IDs)
		}
		if err != nil {
			app.Logger().Error("retention purge failed", "error", err)
			return
		}
		app.Logger().Info("retention purge done", "records", n)
	})
}
