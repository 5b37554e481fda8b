package beds

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/agencytoken"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// revokeToken answers POST /api/beds/v1/tokens/{id}/revoke. The next request
// with the token is refused; revoking twice is harmless.
func revokeToken(e *core.RequestEvent) error {
	p, err := authenticate(e)
	if err != nil {
		return fail(e, err)
	}
	var revokedAt string
	err = e.App.RunInTransaction(func(tx core.App) error {
		rec, err := tx.FindRecordById(agencytoken.Collection, e.Request.PathValue("id"))
		if err != nil {
			return ruleErr(http.StatusNotFound, CodeNotFound, "There is no agency token with this id.", nil)
		}
		allowed := p.Kind == KindSuperuser || (p.Kind == KindAgencyToken && p.ID == rec.Id)
		if p.Kind == KindUser {
			switch domain.Role(p.User.GetString("role")) {
			case domain.RoleTeamLead, domain.RolePrivacyOfficer:
				allowed = true
			case domain.RoleHousingAgent:
				for _, id := range rec.GetStringSlice("programs") {
					if ok, _ := agentOwnsProgram(tx, p.User, id); ok {
						allowed = true
					}
				}
			}
		}
		if !allowed {
			return ruleErr(http.StatusForbidden, CodeForbidden, "Only an administrator, a team lead, a privacy officer or the agency that uses this token can revoke it.", nil)
		}
		if err := agencytoken.Revoke(tx, rec, p.Label); err != nil {
			return err
		}
		revokedAt = rec.GetDateTime("revoked_at").Time().Format(time.RFC3339)
		return appendAudit(tx, p.event("token_revoke", agencytoken.Collection, rec.Id, []string{"revoked_at"}, map[string]any{"label": rec.GetString("label")}))
	})
	if err != nil {
		return fail(e, err)
	}
	return e.JSON(http.StatusOK, map[string]any{"id": e.Request.PathValue("id"), "revoked_at": revokedAt})
}
