package server

import (
	"os"
	"strconv"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// EnvTombstoneDays names the environment variable that sets how many days
// deletions are remembered (default 30). A device offline longer than this
// must re-pull from the start; set it longer than the longest offline
// period the programme supports.
const EnvTombstoneDays = "TANDEM_SYNC_TOMBSTONE_DAYS"

// tombstoneWindow reads the configured tombstone window.
func tombstoneWindow(core.App) time.Duration {
	if v := os.Getenv(EnvTombstoneDays); v != "" {
		if d, err := strconv.Atoi(v); err == nil && d > 0 {
			return time.Duration(d) * 24 * time.Hour
		}
	}
	return changefeed.DefaultTombstoneWindow
}
