package bedboard_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/pocketbase/pocketbase/core"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// chromium finds the headless browser the test drives. A missing browser is
// a failure, not a skip: the page is part of the product.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found on PATH: the bed board test needs a real browser. " +
		"Install it with `apt-get install -y chromium chromium-driver` (.ci/run does).")
	return ""
}

// TestBedBoardEndToEnd signs a housing agent in on the real page in headless
// Chromium, against a real Tandem server on 127.0.0.1, and checks that what
// the page shows matches the server after each change it makes: a count
// update, an arrival, and a capacity cut confirmed with "cut anyway".
func TestBedBoardEndToEnd(t *testing.T) {
	browser := chromium(t)
	env := testenv.New(t)
	housing := env.Org(t, "Harbor Housing", "housing")
	outreach := env.Org(t, "City Outreach", "outreach")
	team := env.Team(t, "North Side")
	worker := env.User(t, "Wren Worker", "outreach_worker", outreach, team)
	agent := env.User(t, "Hana Agent", "housing_agent", housing)
	shelter := env.Create(t, "shelters", map[string]any{"organization": housing.Id, "name": "Harbor House"})
	program := env.Create(t, "bed_programs", map[string]any{
		"shelter": shelter.Id, "name": "Men's overnight", "population": "single_adult", "status": "open",
		"accepting": true, "total_beds": 10, "occupied": 3, "out_of_service": 0,
		"counts_updated_at": time.Now().Add(-12 * time.Minute),
	})
	var holds []string
	for range 2 {
		id := uuid.NewString()
		res := env.Do(t, "POST", "/api/collections/bed_holds/records", env.Token(t, worker),
			map[string]any{"id": id, "program": program.Id, "team": team.Id})
		if res.Status != 200 || !strings.Contains(string(res.Body), `"status":"held"`) {
			t.Fatalf("seed hold: %d %s", res.Status, res.Body)
		}
		holds = append(holds, id)
		time.Sleep(5 * time.Millisecond) // distinct decision times: "newest" is well defined
	}
	server := func() *core.Record {
		p, err := env.App.FindRecordById("bed_programs", program.Id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1100, 1000),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	card := `.program[data-id="` + program.Id + `"]`
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	waitFor := func(what, js string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
			t.Fatalf("page never showed %s: %v", what, err)
		}
	}
	shows := func(sel, want string) string {
		return `(document.querySelector('` + sel + `')||{}).textContent === '` + want + `'`
	}

	// Sign in.
	err := chromedp.Do(ctx,
		chromedp.Navigate(env.URL+"/bedboard/"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), agent.Email()),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(card+" .available")),
	)
	if err != nil {
		t.Fatalf("sign in on the bed board: %v", err)
	}
	if got, want := text(card+" .available"), strconv.Itoa(server().GetInt("available")); got != want || got != "5" {
		t.Fatalf("page shows %s available, server says %s (want 5)", got, want)
	}
	if got := text(card + " .age"); !strings.Contains(got, "12 min ago") {
		t.Fatalf("page should show the counts' age, got %q", got)
	}
	if got := text(card + " .holds"); strings.Count(got, "Held for North Side") != 2 || !strings.Contains(got, "just now") {
		t.Fatalf("page should list both holds with their age, got %q", got)
	}

	// Update occupied from 3 to 5 with the form.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(card+" input.occupied"), "5"),
		chromedp.Click(chromedp.CSS(card+" button.save")),
	)
	if err != nil {
		t.Fatal(err)
	}
	waitFor("3 available after the update", shows(card+" .available", "3"))
	if p := server(); p.GetInt("occupied") != 5 || p.GetInt("available") != 3 || !strings.Contains(p.GetString("counts_updated_by"), agent.Email()) {
		t.Fatalf("server after the page's update: occupied %d, available %d, by %q", p.GetInt("occupied"), p.GetInt("available"), p.GetString("counts_updated_by"))
	}
	if got := text(card + " .age"); !strings.Contains(got, "just now") {
		t.Fatalf("fresh counts should read \"just now\", got %q", got)
	}

	// Confirm the first hold's guest arrived: held bed becomes occupied.
	err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.hold[data-id="`+holds[0]+`"] button.arrived`)))
	if err != nil {
		t.Fatal(err)
	}
	waitFor("the arrived hold gone", `!document.querySelector('.hold[data-id="`+holds[0]+`"]')`)
	if h, _ := env.App.FindRecordById("bed_holds", holds[0]); h.GetString("status") != "arrived" {
		t.Fatalf("server should record the arrival, hold is %q", h.GetString("status"))
	}
	occ, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(card+" input.occupied")))
	if err != nil {
		t.Fatal(err)
	}
	if p := server(); strconv.Itoa(p.GetInt("occupied")) != occ || occ != "6" || text(card+" .available") != strconv.Itoa(p.GetInt("available")) {
		t.Fatalf("page shows occupied %s, available %s; server %d, %d", occ, text(card+" .available"), p.GetInt("occupied"), p.GetInt("available"))
	}

	// Cut capacity below the remaining hold: refused with the rule, then
	// confirmed with "cut anyway", which releases the hold.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(card+" input.total_beds"), "6"),
		chromedp.Click(chromedp.CSS(card+" button.save")),
		chromedp.WaitVisible(chromedp.CSS(card+" button.force")),
	)
	if err != nil {
		t.Fatalf("a refused cut should offer \"cut anyway\": %v", err)
	}
	if msg := text(card + " .counts .error"); !strings.Contains(msg, "never go below zero") {
		t.Fatalf("page should explain the refusal, got %q", msg)
	}
	if server().GetInt("total_beds") != 10 {
		t.Fatal("a refused cut must not reach the server")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(card+" button.force"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the released hold gone", `!document.querySelector('.hold[data-id="`+holds[1]+`"]')`)
	p := server()
	if p.GetInt("total_beds") != 6 || p.GetInt("available") != 0 || text(card+" .available") != "0" {
		t.Fatalf("after the cut: server total %d available %d, page %s", p.GetInt("total_beds"), p.GetInt("available"), text(card+" .available"))
	}
	if h, _ := env.App.FindRecordById("bed_holds", holds[1]); h.GetString("status") != "cancelled" {
		t.Fatalf("the newest hold should be released, is %q", h.GetString("status"))
	}

	if dir := os.Getenv("TANDEM_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			_ = os.WriteFile(dir+"/bedboard.png", png, 0o644)
		}
	}
}
