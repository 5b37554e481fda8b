package beds

import (
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/agencytoken"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// listPrograms answers GET /api/beds/v1/programs: the programmes the caller
// manages, with counts, derived availability, the counts' age and the
// granted holds.
func listPrograms(e *core.RequestEvent) error {
	p, err := authenticate(e)
	if err != nil {
		return fail(e, err)
	}
	var programs []*core.Record
	q := e.App.RecordQuery(domain.BedPrograms).OrderBy("name", "id")
	switch {
	case p.Kind == KindSuperuser:
	case p.Kind == KindAgencyToken:
		ids := p.Token.GetStringSlice("programs")
		anyIDs := make([]any, len(ids))
		for i, id := range ids {
			anyIDs[i] = id
		}
		q = q.AndWhere(dbx.In("id", anyIDs...))
	case p.User.GetString("role") == string(domain.RoleHousingAgent):
		q = q.AndWhere(dbx.NewExp("shelter IN (SELECT id FROM shelters WHERE organization = {:org})",
			dbx.Params{"org": p.User.GetString("organization")}))
	default:
		return fail(e, ruleErr(http.StatusForbidden, CodeForbidden,
			"The bed board is for housing agencies. Outreach staff see bed programmes on their tablets.", nil))
	}
	if err := q.All(&programs); err != nil {
		return fail(e, err)
	}
	now := timeNow()
	out := make([]ProgramView, 0, len(programs))
	for _, pr := range programs {
		v, err := programView(e.App, pr, now)
		if err != nil {
			return fail(e, err)
		}
		out = append(out, v)
	}
	if p.Kind == KindAgencyToken {
		err := e.App.RunInTransaction(func(tx core.App) error {
			return audit.Append(tx, p.event("token_use", agencytoken.Collection, p.ID, nil,
				map[string]any{"endpoint": "GET " + APIPrefix + "/programs", "programs": len(out)}))
		})
		if err != nil {
			return fail(e, err)
		}
	}
	return e.JSON(http.StatusOK, map[string]any{"server_time": now.Format("2006-01-02T15:04:05Z07:00"), "programs": out})
}
