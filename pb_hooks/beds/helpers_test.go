package beds_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// world is a small programme landscape: one housing agency with two
// shelters' programmes, an outreach team with workers, a housing agent.
type world struct {
	env        *testenv.Env
	housing    *core.Record
	outreach   *core.Record
	team       *core.Record
	otherTeam  *core.Record
	shelter    *core.Record
	agent      *core.Record
	agentTok   string
	workers    []*core.Record
	workerToks []string
	lead       *core.Record
	leadTok    string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t)
	w := &world{env: env}
	w.housing = env.Org(t, "Harbor Housing", "housing")
	w.outreach = env.Org(t, "City Outreach", "outreach")
	w.team = env.Team(t, "North Side")
	w.otherTeam = env.Team(t, "South Side")
	w.shelter = env.Create(t, "shelters", map[string]any{"organization": w.housing.Id, "name": "Harbor House"})
	w.agent = env.User(t, "Hana Agent", "housing_agent", w.housing)
	w.agentTok = env.Token(t, w.agent)
	for i := 0; i < 3; i++ {
		u := env.User(t, fmt.Sprintf("Worker %d", i), "outreach_worker", w.outreach, w.team)
		w.workers = append(w.workers, u)
		w.workerToks = append(w.workerToks, env.Token(t, u))
	}
	w.lead = env.User(t, "Lee Lead", "team_lead", w.outreach, w.team)
	w.leadTok = env.Token(t, w.lead)
	return w
}

// program creates an open, accepting programme with the given counts.
func (w *world) program(t *testing.T, name, population string, total, occupied, oos int) *core.Record {
	t.Helper()
	return w.env.Create(t, "bed_programs", map[string]any{
		"shelter": w.shelter.Id, "name": name, "population": population, "status": "open", "accepting": true,
		"total_beds": total, "occupied": occupied, "out_of_service": oos,
	})
}

// hold is a bed hold as the records API answers it.
type hold struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Reason       string `json:"reason"`
	HeldUntil    string `json:"held_until"`
	Program      string `json:"program"`
	Alternatives []struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Available int    `json:"available"`
	} `json:"alternatives"`
}

// apiError is the error shape of the bed rules.
type apiError struct {
	Status  int            `json:"status"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// requestHold posts a hold as a device would (client UUID), returning the
// HTTP status and the decoded record.
func requestHold(env *testenv.Env, token, id, program, team string, requestedAt time.Time) (int, hold, []byte, error) {
	body := map[string]any{"id": id, "program": program, "team": team, "status": "requested"}
	if !requestedAt.IsZero() {
		body["requested_at"] = requestedAt.UTC().Format("2006-01-02 15:04:05.000Z")
	}
	status, raw, err := send(env, http.MethodPost, "/api/collections/bed_holds/records", token, body)
	var h hold
	if err == nil && status == http.StatusOK {
		err = json.Unmarshal(raw, &h)
	}
	return status, h, raw, err
}

// send is a goroutine-safe request (env.Do calls t.Fatal, which only the
// test goroutine may).
func send(env *testenv.Env, method, path, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, env.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := env.Server.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

func newID() string { return uuid.NewString() }

// reload reads a record fresh from the database.
func reload(t *testing.T, env *testenv.Env, collection, id string) *core.Record {
	t.Helper()
	r, err := env.App.FindRecordById(collection, id)
	if err != nil {
		t.Fatalf("reload %s %s: %v", collection, id, err)
	}
	return r
}

// checkInvariant asserts the availability rule against the database itself.
func checkInvariant(t *testing.T, env *testenv.Env, programID string) *core.Record {
	t.Helper()
	p := reload(t, env, "bed_programs", programID)
	var held int
	if err := env.App.DB().NewQuery("SELECT COUNT(*) FROM bed_holds WHERE program = {:p} AND status = 'held'").
		Bind(map[string]any{"p": programID}).Row(&held); err != nil {
		t.Fatal(err)
	}
	if p.GetInt("active_holds") != held {
		t.Fatalf("active_holds = %d but %d holds are held", p.GetInt("active_holds"), held)
	}
	want := p.GetInt("total_beds") - p.GetInt("occupied") - p.GetInt("out_of_service") - held
	if p.GetInt("available") != want {
		t.Fatalf("available = %d, want %d (total %d, occupied %d, oos %d, held %d)", p.GetInt("available"), want,
			p.GetInt("total_beds"), p.GetInt("occupied"), p.GetInt("out_of_service"), held)
	}
	if want < 0 {
		t.Fatalf("availability went negative: %d", want)
	}
	return p
}

func decodeErr(t *testing.T, raw []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", raw)
	}
	return e
}
