package client_test

import (
	"fmt"
	"testing"
)

// BenchmarkDeviceRound measures one device's round on loopback: record a
// batch offline, push it, pull it back. The metric mutations/s is end to
// end (client store, HTTP, server); compare it with the server-only
// benchmarks of sync/server in the same run.
func BenchmarkDeviceRound(b *testing.B) {
	for _, batch := range []int{20, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			f := newFixture(b)
			c := f.deviceTB(b, f.worker)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k := 0; k < batch; k++ {
					if _, err := c.Create(ctx, "encounters", map[string]any{"team": f.team.Id, "occurred_at": "2026-11-21 22:00:00.000Z",
						"encounter_type": "outreach", "general_notes": "bench"}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := c.Sync(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "mutations/s")
		})
	}
}
