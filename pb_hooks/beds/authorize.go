package beds

import (
	"fmt"
	"net/http"
	"slices"
	"sort"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
)

// AuthorizeHoldUpdate decides whether user may change a hold from before to
// after. The records API calls it; the sync engine should call it too before
// saving a pushed hold update. Rules:
//
//   - superusers may make any change the state machine allows;
//   - field staff on the hold's team may cancel a granted hold and may
//     attach the person or a note (person, reason);
//   - housing agents of the programme's agency may mark a granted hold
//     arrived, or expired when the guest did not come (no-show);
//   - nobody else changes holds, and nobody sets the server's fields.
func AuthorizeHoldUpdate(app core.App, user *core.Record, before, after *core.Record) error {
	if user == nil {
		return ruleErr(http.StatusUnauthorized, CodeUnauthorized, "Sign in to change a bed hold.", nil)
	}
	if user.IsSuperuser() {
		return nil
	}
	changed := changedFields(before, after)
	if len(changed) == 0 {
		return nil
	}
	role := domain.Role(user.GetString("role"))
	status := after.GetString("status")
	statusChanged := slices.Contains(changed, "status")

	var allowedFields []string
	var allowedStatus []string
	switch {
	case role.IsFieldRole() && slices.Contains(user.GetStringSlice("teams"), before.GetString("team")):
		allowedFields = []string{"status", "reason", "person"}
		allowedStatus = []string{domain.HoldCancelled}
	case role == domain.RoleHousingAgent:
		ok, err := agentOwnsProgram(app, user, before.GetString("program"))
		if err != nil {
			return err
		}
		if !ok {
			return ruleErr(http.StatusForbidden, CodeHoldForbidden, "Only the agency that runs this programme can confirm arrivals.", nil)
		}
		allowedFields = []string{"status", "reason"}
		allowedStatus = []string{domain.HoldArrived, domain.HoldExpired}
	default:
		return ruleErr(http.StatusForbidden, CodeHoldForbidden, "Only the team that asked for this hold, or the agency that runs the programme, may change it.", nil)
	}
	for _, f := range changed {
		if !slices.Contains(allowedFields, f) {
			return unprocessable(CodeServerOwnedField,
				fmt.Sprintf("The field %q of a bed hold is set by the server; you may change only %v.", f, allowedFields),
				map[string]any{"field": f})
		}
	}
	if statusChanged && !slices.Contains(allowedStatus, status) {
		return ruleErr(http.StatusForbidden, CodeHoldForbidden,
			fmt.Sprintf("You may set a hold's status only to %v; %q is decided by the server or the other party.", allowedStatus, status),
			map[string]any{"status": status})
	}
	return nil
}

// changedFields lists the collection fields whose values differ.
func changedFields(before, after *core.Record) []string {
	var out []string
	for _, f := range after.Collection().Fields {
		name := f.GetName()
		if name == "updated" || name == "created" {
			continue
		}
		if !same(before.Get(name), after.Get(name)) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// agentOwnsProgram reports whether a housing agent's organisation runs the
// programme.
func agentOwnsProgram(app core.App, user *core.Record, programID string) (bool, error) {
	org := user.GetString("organization")
	if org == "" || user.GetString("role") != string(domain.RoleHousingAgent) {
		return false, nil
	}
	var n int
	err := app.DB().NewQuery(`SELECT COUNT(*) FROM bed_programs p JOIN shelters s ON s.id = p.shelter
		WHERE p.id = {:p} AND s.organization = {:o}`).Bind(map[string]any{"p": programID, "o": org}).Row(&n)
	return n > 0, err
}
