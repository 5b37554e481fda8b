package audit_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tandem-outreach/tandem/internal/audit"
	"github.com/tandem-outreach/tandem/internal/testenv"
)

func TestChainDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  string // raw SQL run on the database file's audit_events
		wantSeq int64
		reason  string
	}{
		{"edited field", "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3", 3, "edited"},
		{"edited hash too", "UPDATE audit_events SET action = 'read', hash = 'abc' WHERE seq = 2", 2, "edited"},
		{"deleted event", "DELETE FROM audit_events WHERE seq = 4", 5, "missing"},
		{"relinked", "UPDATE audit_events SET prev_hash = '' WHERE seq = 5", 5, "prev_hash"},
		{"untouched", "", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := testenv.New(t)
			base, err := audit.Verify(env.App)
			if err != nil {
				t.Fatalf("fresh chain should verify: %v", err)
			}
			// Start from a clean chain so seq numbers are predictable.
			if _, err := env.App.DB().NewQuery("DELETE FROM audit_events").Execute(); err != nil {
				t.Fatal(err)
			}
			_ = base
			for i := 0; i < 6; i++ {
				err := audit.Append(env.App, audit.Event{Actor: "u1", ActorKind: "user", Action: "update",
					Collection: "encounters", RecordID: "r", Fields: []string{"general_notes"}})
				if err != nil {
					t.Fatal(err)
				}
			}
			if c.tamper != "" {
				if _, err := env.App.DB().NewQuery(c.tamper).Execute(); err != nil {
					t.Fatal(err)
				}
			}
			n, err := audit.Verify(env.App)
			var out bytes.Buffer
			reportErr := audit.Report(env.App, &out)
			if c.wantSeq == 0 {
				if err != nil || n != 6 || reportErr != nil || !strings.HasPrefix(out.String(), "OK: 6") {
					t.Fatalf("want intact chain of 6, got %d %v %q", n, err, out.String())
				}
				return
			}
			var broken *audit.BrokenLink
			if !errors.As(err, &broken) || broken.Seq != c.wantSeq || !strings.Contains(broken.Reason, c.reason) {
				t.Fatalf("want broken link at seq %d (%s), got %v", c.wantSeq, c.reason, err)
			}
			if reportErr == nil || !strings.Contains(out.String(), "first broken link: seq") {
				t.Fatalf("report should name the broken link: %q", out.String())
			}
		})
	}
}

// Concurrent appends outside any transaction must not fork the chain.
func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	env := testenv.New(t)
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 20 && err == nil; i++ {
				err = audit.Append(env.App, audit.Event{Actor: "u", ActorKind: "user", Action: "read_sensitive"})
			}
			done <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	n, err := audit.Verify(env.App)
	if err != nil || n < 160 {
		t.Fatalf("want >=160 verified events, got %d %v", n, err)
	}
}

func BenchmarkAppend(b *testing.B) {
	env := testenv.New(b)
	ev := audit.Event{Actor: "u", ActorKind: "user", Action: "update", Collection: "encounters", RecordID: "r"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := audit.Append(env.App, ev); err != nil {
			b.Fatal(err)
		}
	}
}
