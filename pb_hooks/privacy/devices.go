package privacy

import (
	"net/http"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/sync/protocol"
)

// DeviceHeader is the request header in which the app names the device it
// runs on (the devices record id).
const DeviceHeader = "X-Tandem-Device"

// deviceHeaderKey is DeviceHeader as PocketBase's RequestInfo.Headers
// spells it.
const deviceHeaderKey = "x_tandem_device"

// Device error codes.
const (
	CodeDeviceRevoked   = protocol.CodeDeviceRevoked
	CodeDeviceNotYours  = protocol.CodeDeviceOtherUser
	CodeRevocationFinal = "device_revocation_final"
)

// A lost or stolen device is revoked by setting devices.revoked_at (team
// lead of the device owner's team, or privacy officer). Revocation:
//
//   - rotates the owner's tokenKey, so every token the user holds, on every
//     device, stops working at once (PocketBase checks the key on each
//     request); the worker signs in again on their replacement device;
//   - makes every later request that names the device in X-Tandem-Device
//     fail with 403 device_revoked and "wipe": true, even with a fresh
//     token;
//   - is final: clearing revoked_at is refused (enrol the device again);
//   - leaves a "revoke" audit event in the same transaction.
func registerDevices(app core.App) {
	app.OnRecordUpdateExecute(domain.Devices).BindFunc(func(e *core.RecordEvent) error {
		was := e.Record.Original().GetDateTime("revoked_at")
		now := e.Record.GetDateTime("revoked_at")
		if !was.IsZero() && now.IsZero() {
			return apiErrorValue(http.StatusBadRequest, CodeRevocationFinal,
				"A revoked device stays revoked; enrol the device again as a new device.")
		}
		if err := e.Next(); err != nil {
			return err
		}
		if !was.IsZero() || now.IsZero() {
			return nil
		}
		user, err := e.App.FindRecordById(domain.Users, e.Record.GetString("user"))
		if err != nil {
			return err
		}
		user.RefreshTokenKey()
		if err := e.App.SaveNoValidate(user); err != nil {
			return err
		}
		ev := audit.Event{
			Actor: e.Record.GetString("revoked_by"), ActorKind: "user", Device: e.Record.Id,
			Action: "revoke", Collection: domain.Devices, RecordID: e.Record.Id,
			Fields:  []string{"revoked_at"},
			Details: map[string]any{"user": user.Id, "tokens_invalidated": true},
		}
		if a, ok := writeMarks.Load(e.Record); ok {
			ev.Actor, ev.ActorKind = a.(actor).id, a.(actor).kind
		}
		return audit.Append(e.App, ev)
	})

	// Fill revoked_by from the requester when a team lead revokes through
	// the API or dashboard without naming themselves.
	app.OnRecordUpdateRequest(domain.Devices).BindFunc(func(e *core.RecordRequestEvent) error {
		if e.Auth != nil && !e.Auth.IsSuperuser() && !e.Record.GetDateTime("revoked_at").IsZero() &&
			e.Record.Original().GetDateTime("revoked_at").IsZero() && e.Record.GetString("revoked_by") == "" {
			e.Record.Set("revoked_by", e.Auth.Id)
		}
		return e.Next()
	})

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			id := deviceOf(e)
			if id == "" {
				return e.Next()
			}
			var dev struct {
				User      string `db:"user"`
				RevokedAt string `db:"revoked_at"`
			}
			err := e.App.DB().Select("user", "revoked_at").From(domain.Devices).
				Where(dbxHash("id", id)).Limit(1).One(&dev)
			if err != nil {
				return e.Next() // unknown device: enrolment creates it
			}
			if dev.RevokedAt != "" {
				return apiError(e, http.StatusForbidden, CodeDeviceRevoked,
					"This device was revoked by your team lead or privacy officer. Erase all Tandem data on it now.",
					map[string]any{"wipe": true})
			}
			if e.Auth != nil && !e.Auth.IsSuperuser() && dev.User != e.Auth.Id {
				return apiError(e, http.StatusForbidden, CodeDeviceNotYours,
					"This device is enrolled to another user; sign in as its user or enrol it again.", nil)
			}
			return e.Next()
		})
		return se.Next()
	})
}
