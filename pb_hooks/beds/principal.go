package beds

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/agencytoken"
	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

// Actor kinds, as written to the audit trail.
const (
	KindUser        = "user"
	KindSuperuser   = "superuser"
	KindAgencyToken = "agency_token"
)

// principal is who calls the bed API: a signed-in person or an agency token.
type principal struct {
	Kind  string
	ID    string
	Label string
	User  *core.Record // users or _superusers record
	Token *core.Record // agency_tokens record
}

// authenticate accepts a PocketBase auth token (loaded by PocketBase into
// e.Auth) or an agency token in the Authorization header. A well-signed
// agency token that is refused (revoked, expired) is audited.
func authenticate(e *core.RequestEvent) (*principal, error) {
	if e.Auth != nil {
		if e.Auth.IsSuperuser() {
			return &principal{Kind: KindSuperuser, ID: e.Auth.Id, Label: e.Auth.Email(), User: e.Auth}, nil
		}
		return &principal{Kind: KindUser, ID: e.Auth.Id, Label: actorLabel(e.Auth), User: e.Auth}, nil
	}
	raw := strings.TrimSpace(e.Request.Header.Get("Authorization"))
	if len(raw) > 7 && strings.EqualFold(raw[:7], "Bearer ") {
		raw = strings.TrimSpace(raw[7:])
	}
	if raw == "" {
		return nil, ruleErr(http.StatusUnauthorized, CodeUnauthorized,
			"Sign in on the bed board, or send an agency token as \"Authorization: Bearer <token>\".", nil)
	}
	rec, err := agencytoken.Verify(e.App, raw)
	if err != nil {
		var te *agencytoken.Error
		if !errors.As(err, &te) {
			return nil, err
		}
		if rec != nil {
			_ = e.App.RunInTransaction(func(tx core.App) error {
				return audit.Append(tx, audit.Event{
					Actor: rec.Id, ActorKind: KindAgencyToken, Action: "token_refused",
					Collection: agencytoken.Collection, RecordID: rec.Id,
					Details: map[string]any{"code": te.Code, "method": e.Request.Method, "path": e.Request.URL.Path},
				})
			})
		}
		return nil, ruleErr(http.StatusUnauthorized, te.Code, capitalise(te.Message)+".", nil)
	}
	return &principal{Kind: KindAgencyToken, ID: rec.Id, Label: "agency token \"" + rec.GetString("label") + "\"", Token: rec}, nil
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// mayManage reports whether p may read and change the programme's counts
// and holds.
func (p *principal) mayManage(app core.App, programID string) (bool, error) {
	switch p.Kind {
	case KindSuperuser:
		return true, nil
	case KindAgencyToken:
		return agencytoken.Allows(p.Token, programID), nil
	default:
		return agentOwnsProgram(app, p.User, programID)
	}
}

// event is an audit event by p.
func (p *principal) event(action, collection, recordID string, fields []string, details map[string]any) audit.Event {
	return audit.Event{Actor: p.ID, ActorKind: p.Kind, Action: action, Collection: collection,
		RecordID: recordID, Fields: fields, Details: details}
}

// loadManagedProgram finds a programme p may manage; one p may not manage is
// reported as not found, so a token cannot probe other agencies' ids.
func loadManagedProgram(app core.App, p *principal, id string) (*core.Record, error) {
	ok, err := p.mayManage(app, id)
	if err != nil {
		return nil, err
	}
	if ok {
		if rec, err := app.FindRecordById(domain.BedPrograms, id); err == nil {
			return rec, nil
		}
	}
	return nil, ruleErr(http.StatusNotFound, CodeNotFound, "No bed programme with this id is managed by you.", map[string]any{"program": id})
}
