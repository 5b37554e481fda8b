// Package server serves Tandem's sync endpoints (pull, push, info) on the
// PocketBase router, one file per endpoint, and binds the hooks the sync
// engine needs (change feed triggers, conflict resolution from the
// dashboard, access epoch, tombstone pruning).
//
// The wire contract is sync/protocol; mobile-contract/ documents it for app
// developers and its golden exchanges are replayed by this package's tests.
package server

import (
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// PruneJobID names the daily cron job that forgets old tombstones and
// stored push results.
const PruneJobID = "tandem_sync_prune"

// service holds what the sync endpoints share.
type service struct {
	commits *committer // group commit of pushes and pull bookkeeping
}

// Register binds the sync engine to app: the change feed, the routes, the
// hooks and the pruning job. Call it once, before the app serves.
func Register(app core.App) error {
	if err := changefeed.Register(app); err != nil {
		return err
	}
	s := &service{commits: newCommitter(app)}
	app.OnServe().BindFunc(func(e *core.ServeEvent) error {
		// The push reads its own, larger limit (MaxBodyBytes replaces
		// PocketBase's default body limit on this route).
		e.Router.POST(protocol.PathPush, s.handlePush).Bind(apis.BodyLimit(0))
		e.Router.GET(protocol.PathPull, s.handlePull)
		e.Router.POST(protocol.PathPull, s.handlePull)
		e.Router.GET(protocol.PathInfo, handleInfo)
		return e.Next()
	})
	bindConflictResolution(app)
	// A sharing agreement decides what whole agencies see: any change to
	// one makes every device rescope.
	bumpOn := func(e *core.RecordEvent) error {
		if err := e.Next(); err != nil {
			return err
		}
		return changefeed.BumpAccessEpoch(e.App)
	}
	app.OnRecordCreateExecute(domain.SharingAgreements).BindFunc(bumpOn)
	app.OnRecordUpdateExecute(domain.SharingAgreements).BindFunc(bumpOn)
	app.OnRecordDeleteExecute(domain.SharingAgreements).BindFunc(bumpOn)

	app.Cron().MustAdd(PruneJobID, "17 3 * * *", func() {
		res, err := changefeed.Prune(app, tombstoneWindow(app), time.Now())
		if err != nil {
			app.Logger().Error("sync prune failed", "error", err)
			return
		}
		app.Logger().Info("sync prune", "tombstones", res.Tombstones, "mutations", res.Mutations, "pruned_through", res.PrunedThrough)
	})
	return nil
}
