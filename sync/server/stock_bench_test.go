package server_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/tandem-outreach/tandem/internal/testenv"
)

// BenchmarkStockPocketBase measures the stock PocketBase baselines of
// DESIGN.md §7 on this machine, so Tandem's figures (BenchmarkSync) can be
// reported as ratios measured in the same run:
//
//	go test ./sync/server/ -run '^$' -bench 'Sync|Stock' -benchtime 2x
//
// It uses plain PocketBase (no Tandem hooks) and a 12-field collection with
// open API rules, as the design's baseline did.
func BenchmarkStockPocketBase(b *testing.B) {
	env := testenv.NewStock(b)
	env.App.Settings().Batch.Enabled = true
	env.App.Settings().Batch.MaxRequests = 1000
	env.App.Settings().Batch.Timeout = 60
	env.App.Settings().Batch.MaxBodySize = 128 << 20

	c := core.NewBaseCollection("stock_records")
	c.Fields.Add(
		&core.TextField{Name: "title"}, &core.TextField{Name: "kind"}, &core.TextField{Name: "note"},
		&core.TextField{Name: "place"}, &core.TextField{Name: "owner"}, &core.TextField{Name: "ref"},
		&core.NumberField{Name: "count"}, &core.NumberField{Name: "score"}, &core.BoolField{Name: "active"},
		&core.DateField{Name: "at"}, &core.JSONField{Name: "tags"},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	c.ListRule, c.ViewRule, c.CreateRule = types.Pointer(""), types.Pointer(""), types.Pointer("")
	if err := env.App.Save(c); err != nil {
		b.Fatal(err)
	}
	record := func(i int) map[string]any {
		return map[string]any{
			"title": fmt.Sprintf("record %d", i), "kind": "outreach", "note": "Met near the library. Offered water and a blanket.",
			"place": "5th St bridge", "owner": "north", "ref": "", "count": i, "score": 1.5, "active": true,
			"at": "2026-11-20 21:00:00.000Z", "tags": []string{"food", "water"},
		}
	}

	b.Run("api-batch-1000", func(b *testing.B) {
		bodies := make([][]byte, b.N)
		for i := range bodies {
			reqs := make([]map[string]any, 1000)
			for j := range reqs {
				reqs[j] = map[string]any{"method": "POST", "url": "/api/collections/stock_records/records", "body": record(j)}
			}
			bodies[i], _ = json.Marshal(map[string]any{"requests": reqs})
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if res := env.Do(b, http.MethodPost, "/api/batch", "", bodies[i]); res.Status != http.StatusOK {
				b.Fatalf("batch: %d %.300s", res.Status, res.Body)
			}
		}
		b.ReportMetric(float64(b.N*1000)/time.Since(start).Seconds(), "records/s")
	})

	const total = 100_000
	var have int
	_ = env.App.DB().NewQuery("SELECT COUNT(*) FROM stock_records").Row(&have)
	tx, err := env.App.NonconcurrentDB().(*dbx.DB).Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins := tx.NewQuery(`INSERT INTO stock_records (id, title, kind, note, place, owner, ref, count, score, active, at, tags, updated)
		VALUES ({:id}, {:title}, 'outreach', 'Met near the library. Offered water and a blanket.', '5th St bridge', 'north', '', {:n}, 1.5, 1,
		'2026-11-20 21:00:00.000Z', '["food","water"]', '2026-11-20 21:00:00.000Z')`).Prepare()
	for i := have; i < total; i++ {
		if _, err := ins.Bind(dbx.Params{"id": fmt.Sprintf("r%014d", i), "title": fmt.Sprintf("record %d", i), "n": i}).Execute(); err != nil {
			b.Fatal(err)
		}
	}
	ins.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}

	b.Run("list-api-100k", func(b *testing.B) { benchListAPI(b, env, "stock_records", "", total) })

	b.Run("raw-sqlite-read-json-100k", func(b *testing.B) {
		start := time.Now()
		for i := 0; i < b.N; i++ {
			rows, err := env.App.DB().NewQuery("SELECT * FROM stock_records").Rows()
			if err != nil {
				b.Fatal(err)
			}
			enc := json.NewEncoder(discard{})
			n := 0
			for rows.Next() {
				m := dbx.NullStringMap{}
				if err := rows.ScanMap(m); err != nil {
					b.Fatal(err)
				}
				out := make(map[string]string, len(m))
				for k, v := range m {
					out[k] = nullString(v)
				}
				_ = enc.Encode(out)
				n++
			}
			rows.Close()
			if n < total {
				b.Fatalf("read %d rows", n)
			}
		}
		b.ReportMetric(float64(b.N*total)/time.Since(start).Seconds(), "records/s")
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func nullString(v sql.NullString) string {
	if v.Valid {
		return v.String
	}
	return ""
}
