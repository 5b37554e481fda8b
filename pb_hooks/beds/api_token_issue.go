package beds

import (
	"net/http"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/agencytoken"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// TokenRequest is the body of POST /api/beds/v1/tokens.
type TokenRequest struct {
	Label     string   `json:"label"`
	Programs  []string `json:"programs"`
	ValidDays int      `json:"valid_days"` // default 90, at most 366
}

// issueToken answers POST /api/beds/v1/tokens. Team leads and superusers
// may scope a token to any programme; a housing agent only to programmes of
// their own agency. The token is shown once.
func issueToken(e *core.RequestEvent) error {
	p, err := authenticate(e)
	if err != nil {
		return fail(e, err)
	}
	if p.Kind == KindAgencyToken {
		return fail(e, ruleErr(http.StatusForbidden, CodeForbidden, "An agency token cannot issue other tokens; a team lead or an administrator does.", nil))
	}
	role := domain.Role(p.User.GetString("role"))
	if p.Kind == KindUser && role != domain.RoleTeamLead && role != domain.RoleHousingAgent {
		return fail(e, ruleErr(http.StatusForbidden, CodeForbidden, "Only a team lead, a housing agent or an administrator can issue agency tokens.", nil))
	}
	var body TokenRequest
	if err := decodeBody(e, &body); err != nil {
		return fail(e, err)
	}
	if body.Label == "" || len(body.Label) > 200 {
		return fail(e, unprocessable(CodeBadRequest, "Give the token a label (up to 200 characters) saying whose system will use it.", map[string]any{"field": "label"}))
	}
	if body.ValidDays == 0 {
		body.ValidDays = 90
	}
	if len(body.Programs) == 0 || len(body.Programs) > 100 {
		return fail(e, unprocessable(CodeBadRequest, "Name from 1 to 100 bed programmes the token may manage.", map[string]any{"field": "programs"}))
	}
	var issued *agencytoken.Issued
	err = e.App.RunInTransaction(func(tx core.App) error {
		for _, id := range body.Programs {
			if _, err := tx.FindRecordById(domain.BedPrograms, id); err != nil {
				return unprocessable(CodeNotFound, "There is no bed programme "+id+".", map[string]any{"program": id})
			}
			if p.Kind == KindUser && role == domain.RoleHousingAgent {
				if ok, err := agentOwnsProgram(tx, p.User, id); err != nil || !ok {
					return ruleErr(http.StatusForbidden, CodeForbidden, "A housing agent may issue tokens only for their own agency's programmes.", map[string]any{"program": id})
				}
			}
		}
		var err error
		issued, err = agencytoken.Issue(tx, body.Label, body.Programs, time.Duration(body.ValidDays)*24*time.Hour, p.Label)
		if err != nil {
			if te, ok := err.(*agencytoken.Error); ok {
				return unprocessable(te.Code, capitalise(te.Message)+".", nil)
			}
			return err
		}
		return appendAudit(tx, p.event("token_issue", agencytoken.Collection, issued.Record.Id, []string{"programs", "expires_at"},
			map[string]any{"label": body.Label, "programs": body.Programs, "expires_at": issued.Record.GetDateTime("expires_at").String()}))
	})
	if err != nil {
		return fail(e, err)
	}
	return e.JSON(http.StatusCreated, map[string]any{
		"id": issued.Record.Id, "token": issued.Token, "label": body.Label, "programs": body.Programs,
		"expires_at": issued.Record.GetDateTime("expires_at").Time().Format(time.RFC3339),
		"note":       "Store this token now: the hub keeps only its record and cannot show it again.",
	})
}
