package persons_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandem-outreach/tandem/pb_hooks/persons"
	"github.com/tandem-outreach/tandem/sync/client"
)

// TestTwoTabletsOnePerson is FIELD-SCENARIO 1 with the reference sync
// client: two tablets meet Smokey offline, sync, a lead merges and undoes,
// and after each step both tablets agree with the server.
func TestTwoTabletsOnePerson(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	tablet := func(name, tok string) *client.Client {
		c, err := client.New(client.Config{BaseURL: w.env.URL, Token: tok, StorePath: filepath.Join(t.TempDir(), name+".db"),
			HTTPClient: &http.Client{Timeout: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	tabA, tabB := tablet("a", w.tokWorkerA), tablet("b", w.tokWorkerB)
	syncNow := func(c *client.Client) {
		t.Helper()
		if _, err := c.Sync(ctx); err != nil {
			t.Fatalf("sync: %v", err)
		}
	}
	personOn := func(c *client.Client, collection, id string) (string, bool) {
		t.Helper()
		r, ok, err := c.Get(ctx, collection, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return "", false
		}
		p, _ := r.Fields["person"].(string)
		return p, true
	}

	// Offline, each tablet records Smokey and an encounter.
	now := time.Now().UTC().Format(time.RFC3339)
	pa, err := tabA.Create(ctx, "persons", map[string]any{"display_name": "Smokey", "name_quality": "2", "teams": []string{w.teamA.Id}})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := tabB.Create(ctx, "persons", map[string]any{"display_name": "smokey ", "name_quality": "2", "teams": []string{w.teamB.Id}})
	if err != nil {
		t.Fatal(err)
	}
	ea, err := tabA.Create(ctx, "encounters", map[string]any{"person": pa.RecordID, "team": w.teamA.Id, "occurred_at": now, "encounter_type": "outreach"})
	if err != nil {
		t.Fatal(err)
	}
	eb, err := tabB.Create(ctx, "encounters", map[string]any{"person": pb.RecordID, "team": w.teamB.Id, "occurred_at": now, "encounter_type": "outreach"})
	if err != nil {
		t.Fatal(err)
	}
	syncNow(tabA)
	syncNow(tabB)
	for _, id := range []string{pa.RecordID, pb.RecordID} {
		if _, err := w.env.App.FindRecordById("persons", id); err != nil {
			t.Fatalf("person %s did not reach the server: %v", id, err)
		}
	}

	// Sync pushes bypass request hooks: the scan job finds the pair.
	if _, opened, err := persons.Scan(w.env.App); err != nil || opened != 1 {
		t.Fatalf("scan opened %d pairs (%v), want 1", opened, err)
	}
	ms := w.listMatches(t, w.tokLeadB)
	if len(ms) != 1 {
		t.Fatalf("lead B sees %d pairs, want 1", len(ms))
	}
	res, _ := w.post(t, mergePath, w.tokLeadB, map[string]any{"match": ms[0].ID, "into": pa.RecordID}, http.StatusOK)
	var merged persons.MergeResult
	res.JSON(t, &merged)

	// Both tablets now show both encounters under A's record.
	syncNow(tabA)
	syncNow(tabB)
	if p, ok := personOn(tabB, "encounters", eb.RecordID); !ok || p != pa.RecordID {
		t.Errorf("tablet B: its encounter belongs to %q (held %v), want A's record", p, ok)
	}
	if _, ok, _ := tabB.Get(ctx, "persons", pa.RecordID); !ok {
		t.Errorf("tablet B does not hold the merged person A")
	}
	r, ok, err := tabB.Get(ctx, "persons", pb.RecordID)
	if err != nil || !ok || r.Fields["merged_into"] != pa.RecordID {
		t.Errorf("tablet B's own record: held %v, merged_into %v, want a link to A", ok, r.Fields["merged_into"])
	}
	if p, _ := personOn(tabA, "encounters", ea.RecordID); p != pa.RecordID {
		t.Errorf("tablet A: its encounter belongs to %q", p)
	}

	// Undo: tablet B's encounter returns to B's record, and A's record,
	// which team B never met on its own, leaves tablet B.
	w.post(t, unmergePath, w.tokLeadA, map[string]any{"match": merged.Match}, http.StatusOK)
	syncNow(tabA)
	syncNow(tabB)
	if p, _ := personOn(tabB, "encounters", eb.RecordID); p != pb.RecordID {
		t.Errorf("tablet B after undo: its encounter belongs to %q, want B's record", p)
	}
	if r, ok, _ := tabB.Get(ctx, "persons", pb.RecordID); !ok || r.Fields["merged_into"] != "" {
		t.Errorf("tablet B after undo: own record held %v, merged_into %v, want no link", ok, r.Fields["merged_into"])
	}
	if _, ok, _ := tabB.Get(ctx, "persons", pa.RecordID); ok {
		t.Errorf("tablet B still holds A's record after the undo removed team B from it")
	}
	if _, opened, err := persons.Scan(w.env.App); err != nil || opened != 0 {
		t.Errorf("scan after undo opened %d pairs (%v), want 0", opened, err)
	}
}
