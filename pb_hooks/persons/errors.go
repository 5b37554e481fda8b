package persons

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/pb_hooks/privacy"
)

// Error codes of the merge and undo routes.
const (
	CodeBadRequest        = "bad_request"           // body unreadable, unknown field, missing ids
	CodeAuthRequired      = "auth_required"         // no token
	CodeTeamLeadOnly      = "team_lead_only"        // caller is not a team lead
	CodeNotYourTeam       = "not_your_team"         // lead of none of the persons' teams
	CodeMatchNotFound     = "match_not_found"       // no such pair
	CodePersonNotFound    = "person_not_found"      // no such person
	CodeNotInPair         = "not_in_pair"           // from/into are not the pair's persons
	CodeSamePerson        = "same_person"           // from = into
	CodeAlreadyMerged     = "already_merged"        // the pair is merged already
	CodePairDecided       = "pair_decided"          // not_duplicate or undone; send from and into to merge anyway
	CodePersonMerged      = "person_already_merged" // from already points elsewhere
	CodeTargetMerged      = "target_already_merged" // into is itself merged into someone
	CodeTooManyTeams      = "too_many_teams"        // into would exceed the teams limit
	CodeNotMerged         = "not_merged"            // undo of a pair that is not merged
	CodeMergeChanged      = "merge_changed"         // from no longer points at into
	CodeMergeSuperseded   = "merge_superseded"      // into was merged into a third person since
	CodeRecordsMovedSince = "records_moved_since"   // a moved record now points at someone else
	CodeInternal          = "persons_internal"      // anything unexpected; nothing was changed
)

// apiError is a refusal with Tandem's error shape: HTTP status,
// machine-readable code, human message and details.
type apiError struct {
	Status  int
	Code    string
	Message string
	Data    map[string]any
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func refuse(status int, code, message string, data map[string]any) error {
	return &apiError{Status: status, Code: code, Message: message, Data: data}
}

// answer writes err as a response: a refusal with its code, anything else as
// a 500 without internals (the transaction rolled back, so nothing changed).
func answer(e *core.RequestEvent, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		data := ae.Data
		if data == nil {
			data = map[string]any{}
		}
		return e.JSON(ae.Status, map[string]any{"status": ae.Status, "code": ae.Code, "message": ae.Message, "data": data})
	}
	e.App.Logger().Error("persons API", "error", err, "path", e.Request.URL.Path)
	return e.JSON(http.StatusInternalServerError, map[string]any{
		"status": 500, "code": CodeInternal, "data": map[string]any{},
		"message": "The hub could not finish this merge or undo; nothing was changed. Try again, and tell IT if it keeps failing.",
	})
}

const maxBody = 16 << 10

// decodeBody reads a small JSON object into dst, refusing unknown fields so
// a misspelt id is an error instead of a silent no-op.
func decodeBody(e *core.RequestEvent, dst any) error {
	raw, err := io.ReadAll(io.LimitReader(e.Request.Body, maxBody+1))
	if err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, "The request body could not be read.", nil)
	}
	if len(raw) > maxBody {
		return refuse(http.StatusRequestEntityTooLarge, CodeBadRequest, "The request body is too large: send only the ids.", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return refuse(http.StatusBadRequest, CodeBadRequest, "The request body is not valid JSON of the expected shape: "+err.Error()+".", nil)
	}
	return nil
}

// caller is who is deciding, for authorisation and the audit trail.
type caller struct {
	id, kind string
	user     bool // a users record (decided_by can name it)
	teams    []string
	device   string
}

// authorize lets superusers and team leads of a team of any of persons
// decide about them. With no persons it checks only who the caller is, so
// that someone who may never merge learns nothing about which pairs exist.
func authorize(e *core.RequestEvent, persons ...*core.Record) (caller, error) {
	c := caller{device: e.Request.Header.Get(privacy.DeviceHeader)}
	switch {
	case e.Auth == nil:
		return c, refuse(http.StatusUnauthorized, CodeAuthRequired, "Sign in as a team lead to merge or split persons.", nil)
	case e.Auth.IsSuperuser():
		c.id, c.kind = e.Auth.Id, "superuser"
		return c, nil
	case e.Auth.Collection().Name != domain.Users || e.Auth.GetString("role") != string(domain.RoleTeamLead):
		return c, refuse(http.StatusForbidden, CodeTeamLeadOnly, "Only a team lead decides whether two person records are the same person.", nil)
	}
	c.id, c.kind, c.user, c.teams = e.Auth.Id, "user", true, e.Auth.GetStringSlice("teams")
	if len(persons) == 0 {
		return c, nil
	}
	for _, p := range persons {
		for _, t := range p.GetStringSlice("teams") {
			if slices.Contains(c.teams, t) {
				return c, nil
			}
		}
	}
	return c, refuse(http.StatusForbidden, CodeNotYourTeam, "You lead none of the teams that have met these persons; ask a lead of one of those teams.", nil)
}

// now is the server clock, a variable so tests could pin it.
var now = func() time.Time { return time.Now().UTC() }
