package server

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/access"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/changefeed"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// session is who is syncing, from which device, speaking which versions.
type session struct {
	user       *core.Record
	viewer     access.Viewer
	device     string
	protocol   int
	schema     int
	appVersion string
}

// fail writes a whole-request error in the protocol's shape.
func fail(e *core.RequestEvent, perr *protocol.Error) error {
	if perr.Status == 0 {
		perr.Status = http.StatusBadRequest
	}
	return e.JSON(perr.Status, perr)
}

func perr(status int, code, format string, args ...any) *protocol.Error {
	return &protocol.Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// negotiate checks the protocol and schema versions a request carries.
func negotiate(h http.Header) (int, int, *protocol.Error) {
	p, errP := strconv.Atoi(strings.TrimSpace(h.Get(protocol.HeaderProtocol)))
	s, errS := strconv.Atoi(strings.TrimSpace(h.Get(protocol.HeaderSchema)))
	if errP != nil || errS != nil {
		return 0, 0, perr(http.StatusBadRequest, protocol.CodeVersionMissing,
			"Every sync request must carry the headers %s and %s (whole numbers). This server speaks protocol %d–%d and schema %d–%d.",
			protocol.HeaderProtocol, protocol.HeaderSchema, protocol.ProtocolMin, protocol.ProtocolCurrent, protocol.SchemaMin, protocol.SchemaCurrent)
	}
	switch {
	case p < protocol.ProtocolMin:
		e := perr(http.StatusUpgradeRequired, protocol.CodeProtocolTooOld,
			"This app speaks sync protocol %d, which this server no longer serves (it serves %d–%d). Update the app; unsynced work stays on the device until then.",
			p, protocol.ProtocolMin, protocol.ProtocolCurrent)
		e.Min, e.Max = protocol.ProtocolMin, protocol.ProtocolCurrent
		return 0, 0, e
	case p > protocol.ProtocolCurrent:
		e := perr(http.StatusBadRequest, protocol.CodeProtocolUnknown,
			"This app speaks sync protocol %d, newer than this server knows (%d–%d). Ask IT to upgrade the Tandem server; keep the app's queue until then.",
			p, protocol.ProtocolMin, protocol.ProtocolCurrent)
		e.Min, e.Max = protocol.ProtocolMin, protocol.ProtocolCurrent
		return 0, 0, e
	case s < protocol.SchemaMin:
		e := perr(http.StatusUpgradeRequired, protocol.CodeSchemaTooOld,
			"This app stores record schema %d, which this server no longer serves (it serves %d–%d). Update the app.",
			s, protocol.SchemaMin, protocol.SchemaCurrent)
		e.Min, e.Max = protocol.SchemaMin, protocol.SchemaCurrent
		return 0, 0, e
	case s > protocol.SchemaCurrent:
		e := perr(http.StatusBadRequest, protocol.CodeSchemaUnknown,
			"This app stores record schema %d, newer than this server knows (%d–%d). Ask IT to upgrade the Tandem server.",
			s, protocol.SchemaMin, protocol.SchemaCurrent)
		e.Min, e.Max = protocol.SchemaMin, protocol.SchemaCurrent
		return 0, 0, e
	}
	return p, s, nil
}

// open authenticates a sync request, negotiates versions and checks (or
// enrols) the device. It returns nil and an error to send on refusal.
func open(e *core.RequestEvent) (*session, *protocol.Error) {
	p, s, verr := negotiate(e.Request.Header)
	if verr != nil {
		return nil, verr
	}
	if e.Auth == nil || e.Auth.Collection().Name != domain.Users {
		return nil, perr(http.StatusUnauthorized, protocol.CodeUnauthenticated,
			"Sign in as a programme user: send the PocketBase users token in the Authorization header.")
	}
	viewer, err := access.ViewerFromRecord(e.App, e.Auth)
	if err != nil {
		return nil, perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not load your organisation: %v", err)
	}
	if !viewer.Role.IsFieldRole() {
		return nil, perr(http.StatusForbidden, protocol.CodeForbiddenRole,
			"The role %q does not sync to a device; use the web pages for this role.", viewer.Role)
	}
	device := e.Request.Header.Get(protocol.HeaderDevice)
	if !protocol.IsUUID(device) {
		return nil, perr(http.StatusBadRequest, protocol.CodeDeviceMissing,
			"Send the device's install id in %s as a lowercase hyphenated UUID.", protocol.HeaderDevice)
	}
	sess := &session{user: e.Auth, viewer: viewer, device: device, protocol: p, schema: s,
		appVersion: truncate(e.Request.Header.Get(protocol.HeaderAppVersion), 40)}
	if derr := sess.checkDevice(e.App); derr != nil {
		return nil, derr
	}
	return sess, nil
}

// checkDevice refuses revoked or foreign devices and enrols new ones.
func (s *session) checkDevice(app core.App) *protocol.Error {
	var row struct {
		User      string `db:"user"`
		RevokedAt string `db:"revoked_at"`
	}
	err := app.DB().NewQuery(`SELECT [[user]], revoked_at FROM devices WHERE id = {:id}`).Bind(dbx.Params{"id": s.device}).One(&row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return s.enrol(app)
	case err != nil:
		return perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not read the device register: %v", err)
	case row.RevokedAt != "":
		e := perr(http.StatusForbidden, protocol.CodeDeviceRevoked,
			"This device was revoked on %s (reported lost or stolen). Erase every Tandem record and credential on it now.", row.RevokedAt)
		e.Wipe = true
		return e
	case row.User != s.user.Id:
		return perr(http.StatusForbidden, protocol.CodeDeviceOtherUser,
			"This device is enrolled to another user. Sign that user out on the device, or ask a team lead to revoke it before re-enrolling.")
	}
	return nil
}

func (s *session) enrol(app core.App) *protocol.Error {
	col, err := app.FindCachedCollectionByNameOrId(domain.Devices)
	if err != nil {
		return perr(http.StatusInternalServerError, protocol.CodeInternal, "Device register missing: %v", err)
	}
	rec := core.NewRecord(col)
	rec.Id = s.device
	rec.Set("user", s.user.Id)
	rec.Set("enrolled_at", types.NowDateTime())
	rec.Set("protocol_version", s.protocol)
	rec.Set("schema_version", s.schema)
	rec.Set("app_version", s.appVersion)
	if err := app.Save(rec); err != nil {
		// Two first requests of one device may race; the loser finds it.
		if _, ferr := app.FindRecordById(domain.Devices, s.device); ferr == nil {
			return s.checkDevice(app)
		}
		return perr(http.StatusInternalServerError, protocol.CodeInternal, "Could not enrol the device: %v", err)
	}
	return nil
}

// touchDevice records a successful sync on the device register. It writes
// with plain SQL: it happens on every sync and must stay cheap.
func (s *session) touchDevice(st *changefeed.Statements, cursor *string) error {
	q := `UPDATE devices SET last_sync_at = {:now}, protocol_version = {:p}, schema_version = {:s}, app_version = {:a}`
	params := dbx.Params{"now": types.NowDateTime().String(), "p": s.protocol, "s": s.schema, "a": s.appVersion, "id": s.device}
	if cursor != nil {
		if c, err := protocol.ParseCursor(*cursor); err == nil {
			q += `, last_cursor = {:c}`
			params["c"] = c.Seq
		}
	}
	_, err := st.Q(q + ` WHERE id = {:id}`).Bind(params).Execute()
	return err
}

// scopeFingerprint identifies everything that decides which records a user
// may hold: role, organisation, teams and the global access epoch. A cursor
// issued under another fingerprint answers "rescope".
func (s *session) scopeFingerprint(app core.App) (string, error) {
	epoch, err := changefeed.AccessEpoch(app)
	if err != nil {
		return "", err
	}
	teams := append([]string{}, s.viewer.Teams...)
	sort.Strings(teams)
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%s|%d", s.viewer.Role, s.viewer.OrgID, s.viewer.OrgKind, strings.Join(teams, ","), epoch)))
	return hex.EncodeToString(h[:8]), nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
