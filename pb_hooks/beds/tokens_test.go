package beds_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/domain"
)

type issuedToken struct {
	ID        string   `json:"id"`
	Token     string   `json:"token"`
	Programs  []string `json:"programs"`
	ExpiresAt string   `json:"expires_at"`
}

// TestAgencyTokens covers issue, scope, use, expiry, revocation and audit of
// agency API tokens, end to end over HTTP.
func TestAgencyTokens(t *testing.T) {
	w := newWorld(t)
	mine := w.program(t, "Men's overnight", "single_adult", 10, 2, 0)
	notMine := w.program(t, "Family rooms", "family", 6, 1, 0)

	// Who may issue.
	issue := func(token string, programs ...string) (int, issuedToken, []byte) {
		res := w.env.Do(t, http.MethodPost, "/api/beds/v1/tokens", token, map[string]any{"label": "Harbor intake system", "programs": programs, "valid_days": 30})
		var it issuedToken
		if res.Status == http.StatusCreated {
			res.JSON(t, &it)
		}
		return res.Status, it, res.Body
	}
	if st, _, body := issue(w.workerToks[0], mine.Id); st != http.StatusForbidden {
		t.Fatalf("an outreach worker must not issue tokens, got %d %s", st, body)
	}
	otherOrg := w.env.Org(t, "Elsewhere Housing", "housing")
	stranger := w.env.User(t, "Sid Stranger", "housing_agent", otherOrg)
	if st, _, body := issue(w.env.Token(t, stranger), mine.Id); st != http.StatusForbidden {
		t.Fatalf("an agent of another agency must not issue tokens for this programme, got %d %s", st, body)
	}
	if st, _, body := issue(w.leadTok); st != http.StatusUnprocessableEntity {
		t.Fatalf("a token without programmes must be refused, got %d %s", st, body)
	}
	st, tok, body := issue(w.leadTok, mine.Id)
	if st != http.StatusCreated || strings.Count(tok.Token, ".") != 2 {
		t.Fatalf("team lead should get a JWT, got %d %s", st, body)
	}
	bearer := "Bearer " + tok.Token

	// Scope: reads and writes only its programmes.
	res := w.env.Do(t, http.MethodGet, "/api/beds/v1/programs", bearer, nil)
	var list struct {
		Programs []struct {
			ID        string `json:"id"`
			Available int    `json:"available"`
		} `json:"programs"`
	}
	res.JSON(t, &list)
	if res.Status != 200 || len(list.Programs) != 1 || list.Programs[0].ID != mine.Id || list.Programs[0].Available != 8 {
		t.Fatalf("token should list only its programme, got %d %s", res.Status, res.Body)
	}
	res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+mine.Id+"/counts", bearer, map[string]any{"occupied": 5})
	if res.Status != 200 {
		t.Fatalf("token should update its programme, got %d %s", res.Status, res.Body)
	}
	if p := checkInvariant(t, w.env, mine.Id); p.GetInt("occupied") != 5 || !strings.Contains(p.GetString("counts_updated_by"), "Harbor intake system") {
		t.Fatalf("update should land and name the token: occupied %d by %q", p.GetInt("occupied"), p.GetString("counts_updated_by"))
	}
	res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+notMine.Id+"/counts", bearer, map[string]any{"occupied": 0})
	if e := decodeErr(t, res.Body); res.Status != http.StatusNotFound || e.Code != "beds_not_found" {
		t.Fatalf("token must not reach another programme, got %d %s", res.Status, res.Body)
	}
	if p := reload(t, w.env, "bed_programs", notMine.Id); p.GetInt("occupied") != 1 {
		t.Fatalf("out-of-scope programme changed: occupied %d", p.GetInt("occupied"))
	}
	// Bad input is refused clearly.
	for _, bad := range []any{`{"occupied": -1}`, `{"ocupied": 3}`, `{"occupied": "three"}`, `{`, `{}`} {
		res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+mine.Id+"/counts", bearer, bad)
		if e := decodeErr(t, res.Body); res.Status < 400 || res.Status >= 500 || e.Code == "" || e.Message == "" {
			t.Fatalf("bad body %v should be a clear 4xx, got %d %s", bad, res.Status, res.Body)
		}
	}
	// The token also confirms arrivals of its programme's holds.
	holdID := newID()
	if _, h, raw, _ := requestHold(w.env, w.workerToks[0], holdID, mine.Id, w.team.Id, time.Time{}); h.Status != domain.HoldHeld {
		t.Fatalf("hold should be granted: %s", raw)
	}
	res = w.env.Do(t, http.MethodPost, "/api/beds/v1/programs/"+mine.Id+"/holds/"+holdID+"/arrived", bearer, nil)
	if res.Status != 200 || reload(t, w.env, "bed_holds", holdID).GetString("status") != domain.HoldArrived {
		t.Fatalf("token should confirm the arrival, got %d %s", res.Status, res.Body)
	}
	res = w.env.Do(t, http.MethodPost, "/api/beds/v1/programs/"+mine.Id+"/holds/"+holdID+"/arrived", bearer, nil)
	if res.Status != 200 {
		t.Fatalf("confirming twice answers the same, got %d %s", res.Status, res.Body)
	}
	if p := checkInvariant(t, w.env, mine.Id); p.GetInt("occupied") != 6 {
		t.Fatalf("one arrival confirmed twice counts once: occupied %d", p.GetInt("occupied"))
	}

	// Tampered and foreign tokens.
	parts := strings.Split(tok.Token, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for _, bad := range []string{"Bearer " + forged, "Bearer not-a-token", ""} {
		res = w.env.Do(t, http.MethodGet, "/api/beds/v1/programs", bad, nil)
		if res.Status != http.StatusUnauthorized || decodeErr(t, res.Body).Code == "" {
			t.Fatalf("token %q should be refused with a code, got %d %s", bad, res.Status, res.Body)
		}
	}

	// Expiry is read from the record, so shortening it takes effect at once.
	st, short, _ := issue(w.leadTok, mine.Id)
	if st != http.StatusCreated {
		t.Fatal("second token not issued")
	}
	rec := reload(t, w.env, "agency_tokens", short.ID)
	rec.Set("expires_at", time.Now().Add(-time.Minute))
	if err := w.env.App.Save(rec); err != nil {
		t.Fatal(err)
	}
	res = w.env.Do(t, http.MethodGet, "/api/beds/v1/programs", "Bearer "+short.Token, nil)
	if e := decodeErr(t, res.Body); res.Status != 401 || e.Code != "token_expired" {
		t.Fatalf("expired token should be refused as token_expired, got %d %s", res.Status, res.Body)
	}

	// Revocation works on the next request.
	res = w.env.Do(t, http.MethodPost, "/api/beds/v1/tokens/"+tok.ID+"/revoke", w.agentTok, nil)
	if res.Status != 200 {
		t.Fatalf("the agency should revoke its token, got %d %s", res.Status, res.Body)
	}
	res = w.env.Do(t, http.MethodPatch, "/api/beds/v1/programs/"+mine.Id+"/counts", bearer, map[string]any{"occupied": 2})
	if e := decodeErr(t, res.Body); res.Status != 401 || e.Code != "token_revoked" {
		t.Fatalf("revoked token should be refused as token_revoked, got %d %s", res.Status, res.Body)
	}
	if p := reload(t, w.env, "bed_programs", mine.Id); p.GetInt("occupied") != 6 {
		t.Fatalf("a revoked token changed counts: occupied %d", p.GetInt("occupied"))
	}

	// Every use is in the audit trail, and the chain verifies.
	type ev struct {
		Action    string `db:"action"`
		ActorKind string `db:"actor_kind"`
		Actor     string `db:"actor"`
		Details   string `db:"details"`
	}
	var events []ev
	if err := w.env.App.DB().NewQuery("SELECT action, actor_kind, actor, details FROM audit_events WHERE actor = {:a} ORDER BY seq").
		Bind(map[string]any{"a": tok.ID}).All(&events); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if e.ActorKind != "agency_token" {
			t.Fatalf("token events must have actor_kind agency_token, got %+v", e)
		}
		actions = append(actions, e.Action)
	}
	// list, counts update, arrival, then the refused use after revocation.
	want := []string{"token_use", "token_use", "token_use", "token_refused"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("token audit trail = %v, want %v", actions, want)
	}
	var refused map[string]any
	_ = json.Unmarshal([]byte(events[3].Details), &refused)
	if refused["code"] != "token_revoked" {
		t.Fatalf("refusal should be audited with its code, got %v", refused)
	}
	var issued, revoked int
	_ = w.env.App.DB().NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'token_issue'").Row(&issued)
	_ = w.env.App.DB().NewQuery("SELECT COUNT(*) FROM audit_events WHERE action = 'token_revoke' AND actor = {:a}").Bind(map[string]any{"a": w.agent.Id}).Row(&revoked)
	if issued != 2 || revoked != 1 {
		t.Fatalf("issue and revoke should be audited: %d issued, %d revoked", issued, revoked)
	}
	if n, err := audit.Verify(w.env.App); err != nil || n == 0 {
		t.Fatalf("audit chain should verify: %d events, %v", n, err)
	}
}
