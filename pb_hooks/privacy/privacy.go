// Package privacy binds Tandem's privacy and accountability rules to
// PocketBase events (DESIGN.md §6). It is Go compiled into the binary, not
// a JavaScript pb_hooks file.
//
// The decision itself lives in internal/access; this package applies it on
// every path PocketBase offers: records API list, view and expand, list
// filters and sorts, realtime subscriptions and events, file downloads and
// batch requests. It also writes the audit trail for records API and
// dashboard writes and for reads of sensitive compartments, keeps the audit
// trail append-only, revokes lost devices, re-emits records when consent
// changes, and schedules retention and consent expiry.
package privacy

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/changefeed"
)

// Register binds every privacy hook, middleware and scheduled job to app.
func Register(app core.App) error {
	registerCacheInvalidation(app)
	registerRecordReads(app)
	registerWriteGuard(app)
	registerQueryGuard(app)
	registerFiles(app)
	registerAuditWrites(app)
	registerAuditImmutable(app)
	registerDevices(app)
	registerConsents(app)
	registerRetention(app)
	return nil
}

// touch re-emits records through the sync change feed
// (changefeed.Touch) so devices re-pull them through the current access
// decision; collections the feed does not carry are skipped.
func touch(app core.App, collection string, ids ...string) error {
	if len(ids) == 0 || !changefeed.IsSynced(collection) {
		return nil
	}
	return changefeed.Touch(app, collection, ids...)
}

// ---------------------------------------------------------------------------
// Decider cache: one access.Decider per user, rebuilt when anything it read
// (consents, agreements, users, organisations) changes, and at least every
// deciderTTL so consents and agreements that lapse with time take effect.

const deciderTTL = 10 * time.Second

type cachedDecider struct {
	gen uint64
	at  time.Time
	d   *access.Decider
}

var deciders = struct {
	sync.Mutex
	gen uint64
	m   map[string]cachedDecider
}{m: map[string]cachedDecider{}}

func invalidateDeciders() {
	deciders.Lock()
	deciders.gen++
	deciders.m = map[string]cachedDecider{}
	deciders.Unlock()
}

func registerCacheInvalidation(app core.App) {
	tags := []string{domain.Consents, domain.SharingAgreements, domain.Users, domain.Organizations}
	inval := func(e *core.RecordEvent) error { invalidateDeciders(); return e.Next() }
	app.OnRecordAfterCreateSuccess(tags...).BindFunc(inval)
	app.OnRecordAfterUpdateSuccess(tags...).BindFunc(inval)
	app.OnRecordAfterDeleteSuccess(tags...).BindFunc(inval)
}

// DeciderFor returns the access decider for an authenticated user of the
// users collection. It returns nil for superusers and other auth
// collections: they are not limited by the compartment rules.
func DeciderFor(app core.App, auth *core.Record) (*access.Decider, error) {
	if auth == nil || auth.IsSuperuser() || auth.Collection().Name != domain.Users {
		return nil, nil
	}
	key := auth.Id
	deciders.Lock()
	c, ok := deciders.m[key]
	if app.IsTransactional() {
		ok = false
	}
	gen := deciders.gen
	deciders.Unlock()
	if ok && c.gen == gen && time.Since(c.at) < deciderTTL {
		return c.d, nil
	}
	viewer, err := access.ViewerFromRecord(app, auth)
	if err != nil {
		return nil, fmt.Errorf("privacy: viewer: %w", err)
	}
	d, err := access.NewDecider(app, viewer)
	if err != nil {
		return nil, fmt.Errorf("privacy: decider: %w", err)
	}
	deciders.Lock()
	// A decider built on a transaction's app loads lazily through that
	// transaction, which ends with the request: never share it.
	if deciders.gen == gen && !app.IsTransactional() {
		deciders.m[key] = cachedDecider{gen: gen, at: time.Now(), d: d}
	}
	deciders.Unlock()
	return d, nil
}

// fieldsOf returns a record's stored values in the shape access expects.
func fieldsOf(r *core.Record) map[string]any {
	f := r.FieldsData()
	f["id"] = r.Id
	return f
}

// apiError writes Tandem's error shape (the sync protocol's too): HTTP
// status, machine-readable code, human message, and any extra top-level
// members (for example "wipe": true).
func apiError(e *core.RequestEvent, status int, code, message string, extra map[string]any) error {
	body := map[string]any{"status": status, "code": code, "message": message}
	for k, v := range extra {
		body[k] = v
	}
	return e.JSON(status, body)
}

// actorOf describes who made a request, for the audit trail.
func actorOf(e *core.RequestEvent) (id, kind string) {
	switch {
	case e.Auth == nil:
		return "", "guest"
	case e.Auth.IsSuperuser():
		return e.Auth.Id, "superuser"
	default:
		return e.Auth.Id, "user"
	}
}

// deviceOf returns the device id a request says it comes from.
func deviceOf(e *core.RequestEvent) string {
	return strings.TrimSpace(e.Request.Header.Get(DeviceHeader))
}

func dbxHash(col string, v any) dbx.HashExp { return dbx.HashExp{col: v} }

// apiErrorValue is an error carrying Tandem's code, for hooks that cannot
// write the response themselves (model hooks). PocketBase turns it into a
// 400 response whose data holds the code.
func apiErrorValue(status int, code, message string) error {
	err := router.NewApiError(status, message, nil)
	err.Data = map[string]any{"code": code}
	return err
}
