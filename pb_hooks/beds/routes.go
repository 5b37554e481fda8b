package beds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/domain"
	"github.com/tandem-outreach/tandem/web/bedboard"
)

// APIPrefix is where the agency API lives. The version is in the path so a
// later change of shape can live beside this one.
const APIPrefix = "/api/beds/v1"

// maxBody caps request bodies of the bed API; a count update is tiny.
const maxBody = 64 << 10

func registerRoutes(se *core.ServeEvent) {
	g := se.Router.Group(APIPrefix)
	g.GET("/programs", listPrograms)
	g.PATCH("/programs/{id}/counts", updateCounts)
	g.POST("/programs/{id}/holds/{hold}/arrived", holdArrived)
	g.POST("/programs/{id}/holds/{hold}/no-show", holdNoShow)
	g.POST("/tokens", issueToken)
	g.POST("/tokens/{id}/revoke", revokeToken)

	page, err := fs.Sub(bedboard.Files, "static")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	se.Router.GET("/bedboard", func(e *core.RequestEvent) error {
		return e.Redirect(http.StatusMovedPermanently, "/bedboard/")
	})
	se.Router.GET("/bedboard/{path...}", apis.Static(page, false))
}

// decodeBody reads a small JSON object into dst, refusing unknown fields so
// a misspelt count is an error instead of a silent no-op.
func decodeBody(e *core.RequestEvent, dst any) error {
	raw, err := io.ReadAll(io.LimitReader(e.Request.Body, maxBody+1))
	if err != nil {
		return ruleErr(http.StatusBadRequest, CodeBadRequest, "The request body could not be read.", nil)
	}
	if len(raw) > maxBody {
		return ruleErr(http.StatusRequestEntityTooLarge, CodeBadRequest, "The request body is too large for a bed update.", nil)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return ruleErr(http.StatusBadRequest, CodeBadRequest, "The request body is not valid: "+err.Error()+".", nil)
	}
	return nil
}

// fail answers err: a bed rule or token refusal with its code, anything else
// as a 500 without internals.
func fail(e *core.RequestEvent, err error) error {
	if re, ok := AsRuleError(err); ok {
		return e.JSON(re.Status, re.Body())
	}
	e.App.Logger().Error("beds API", "error", err, "path", e.Request.URL.Path)
	return e.JSON(http.StatusInternalServerError, map[string]any{
		"status": 500, "code": "beds_internal", "message": "The hub could not finish this bed update; nothing was changed. Try again.", "data": map[string]any{},
	})
}

// ProgramView is a programme as the bed board and agency systems see it.
type ProgramView struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	Shelter          string     `json:"shelter"`
	ShelterName      string     `json:"shelter_name"`
	Population       string     `json:"population"`
	Status           string     `json:"status"`
	Accepting        bool       `json:"accepting"`
	TotalBeds        int        `json:"total_beds"`
	Occupied         int        `json:"occupied"`
	OutOfService     int        `json:"out_of_service"`
	ActiveHolds      int        `json:"active_holds"`
	Available        int        `json:"available"`
	HoldMinutes      int        `json:"hold_minutes"`
	CountsUpdatedAt  string     `json:"counts_updated_at"`
	CountsUpdatedBy  string     `json:"counts_updated_by"`
	CountsAgeSeconds int        `json:"counts_age_seconds"`
	Holds            []HoldView `json:"holds"`
}

// HoldView is a granted hold as an agency sees it: no client details.
type HoldView struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	TeamName         string `json:"team_name"`
	DecidedAt        string `json:"decided_at"`
	HeldUntil        string `json:"held_until"`
	AgeSeconds       int    `json:"age_seconds"`
	MinutesRemaining int    `json:"minutes_remaining"`
	Reason           string `json:"reason,omitempty"`
}

func programView(app core.App, p *core.Record, now time.Time) (ProgramView, error) {
	v := ProgramView{
		ID: p.Id, Name: p.GetString("name"), Shelter: p.GetString("shelter"),
		Population: p.GetString("population"), Status: p.GetString("status"), Accepting: p.GetBool("accepting"),
		TotalBeds: p.GetInt("total_beds"), Occupied: p.GetInt("occupied"), OutOfService: p.GetInt("out_of_service"),
		ActiveHolds: p.GetInt("active_holds"), Available: p.GetInt("available"), HoldMinutes: holdMinutes(p),
		CountsUpdatedBy: p.GetString("counts_updated_by"), Holds: []HoldView{},
	}
	if t := p.GetDateTime("counts_updated_at"); !t.IsZero() {
		v.CountsUpdatedAt = t.Time().UTC().Format(time.RFC3339)
		v.CountsAgeSeconds = int(now.Sub(t.Time()).Seconds())
	}
	if s, err := app.FindRecordById(domain.Shelters, v.Shelter); err == nil {
		v.ShelterName = s.GetString("name")
	}
	var holds []struct {
		ID        string `db:"id"`
		Status    string `db:"status"`
		TeamName  string `db:"team_name"`
		DecidedAt string `db:"decided_at"`
		HeldUntil string `db:"held_until"`
	}
	err := app.DB().NewQuery(`SELECT h.id, h.status, COALESCE(t.name, '') AS team_name, h.decided_at, h.held_until
		FROM bed_holds h LEFT JOIN teams t ON t.id = h.team
		WHERE h.program = {:p} AND h.status = 'held' ORDER BY h.held_until, h.id`).
		Bind(dbx.Params{"p": p.Id}).All(&holds)
	if err != nil {
		return v, err
	}
	for _, h := range holds {
		hv := HoldView{ID: h.ID, Status: h.Status, TeamName: h.TeamName}
		if t, err := parseDT(h.DecidedAt); err == nil {
			hv.DecidedAt = t.Format(time.RFC3339)
			hv.AgeSeconds = int(now.Sub(t).Seconds())
		}
		if t, err := parseDT(h.HeldUntil); err == nil {
			hv.HeldUntil = t.Format(time.RFC3339)
			hv.MinutesRemaining = int(t.Sub(now).Minutes())
		}
		v.Holds = append(v.Holds, hv)
	}
	return v, nil
}

func parseDT(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("empty")
	}
	dt, err := types.ParseDateTime(s)
	return dt.Time().UTC(), err
}
